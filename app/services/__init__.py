"""Services: outside systems, the policy deciding who gets them, grants, requests and connectors."""

from flask import Blueprint

bp = Blueprint("services", __name__)
