"""Accounts: login, logout, roles."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)
