"""Bastion as an OpenID Connect provider: wikis, forums and dashboards log members in through it,
and only members holding the service's grant get in."""

from flask import Blueprint

bp = Blueprint("oidc", __name__)
