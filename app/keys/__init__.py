"""Members' keys: add characters through SSO, see each key's health, remove keys, pick a main."""

from flask import Blueprint

bp = Blueprint("keys", __name__)
