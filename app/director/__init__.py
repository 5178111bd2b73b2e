"""The director portal: a corporation's members, their key health, grants and requests."""

from flask import Blueprint

bp = Blueprint("director", __name__)
