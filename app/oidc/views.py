"""The provider's endpoints: discovery, JWKS, authorize (with a page saying why not), token, userinfo."""

import logging

from authlib.oauth2 import OAuth2Error
from flask import jsonify, render_template
from flask_login import current_user, login_required

from app.access.explain import explain
from app.access.grants import grant_of
from app.accounts.limits import limiter
from app.extensions import csrf
from app.oidc import bp, keys
from app.oidc.server import active_grant, discovery, server

log = logging.getLogger(__name__)


@bp.get("/.well-known/openid-configuration")
def configuration():
    """Where clients find the endpoints and what Bastion supports."""
    answer = jsonify(discovery())
    answer.headers["Cache-Control"] = "public, max-age=3600"
    return answer


@bp.get("/oauth/jwks")
def jwks():
    """The public keys ID tokens are signed with, current and recently retired."""
    answer = jsonify(keys.jwks())
    answer.headers["Cache-Control"] = "public, max-age=300"
    return answer


@bp.get("/oauth/authorize")
@login_required
def authorize():
    """Give the client a code for the signed-in member, if they hold its service; else say why not."""
    try:
        grant = server.get_consent_grant(end_user=current_user)
    except OAuth2Error as error:
        if error.redirect_uri:  # a known client at a registered address: tell it
            return _onwards(server.handle_error_response(None, error), None)
        message = error.description or error.error
        return render_template("oidc/error.html", message=message), 400
    client = grant.client
    if active_grant(current_user, client) is None:
        service = client.service
        held = grant_of(current_user, service)
        log.info("oidc: %s refused to user %s", service.slug, current_user.id)
        return render_template(
            "oidc/refused.html", e=explain(current_user, service, held), service=service
        ), 403
    return _onwards(
        server.create_authorization_response(grant_user=current_user, grant=grant), client.service
    )


def _onwards(answer, service):
    """Send the browser back to the site through a page rather than a redirect.

    A member who had to sign in first arrives here from the login form, and browsers apply the
    form-action policy to the redirects that follow a form; a page that moves on by itself is a
    fresh navigation, so the site's address needs no place in that policy.
    """
    target = answer.headers.get("Location")
    if answer.status_code not in (301, 302, 303, 307) or not target:
        return answer
    page = render_template("oidc/onwards.html", target=target, service=service)
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/oauth/token")
@csrf.exempt  # clients authenticate with their secret, not a browser session
@limiter.limit("600/minute")  # per address: a busy site swaps many codes
def token():
    """Swap a code or a refresh token for tokens."""
    return server.create_token_response()


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    """The claims about the token's user."""
    return server.create_endpoint_response("userinfo")
