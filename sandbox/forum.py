"""A demo forum that signs its visitors in through Bastion's OpenID Connect provider, as a real
site would: discovery, the code flow with PKCE (Authlib's client), then userinfo with the groups.

It is not part of EVE; it lives here because the sandbox is the demo's other web server.
"""

import secrets

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from sandbox.demo import FORUM_CLIENT_ID, FORUM_CLIENT_SECRET

bp = Blueprint("forum", __name__)
TIMEOUT = 10


def _provider():
    """Bastion's OpenID Connect endpoints, from its discovery document."""
    base = current_app.config["BASTION_URL"].rstrip("/")
    return requests.get(f"{base}/.well-known/openid-configuration", timeout=TIMEOUT).json()


def _client(**kwargs):
    callback = f"http://127.0.0.1:{current_app.config['FORUM_PORT']}/forum/callback"
    return OAuth2Session(
        FORUM_CLIENT_ID,
        FORUM_CLIENT_SECRET,
        scope="openid profile groups",
        redirect_uri=callback,
        code_challenge_method="S256",
        **kwargs,
    )


@bp.get("/forum")
def index():
    """Who is signed in here, with the claims Bastion gave."""
    return render_template("forum.html", user=session.get("forum_user"), error=request.args.get("error"))


@bp.get("/forum/login")
def login():
    """Off to Bastion to sign in."""
    try:
        provider = _provider()
    except (requests.RequestException, ValueError):
        return redirect(url_for("forum.index", error="Bastion does not answer; is it running?"))
    verifier = secrets.token_urlsafe(48)
    url, state = _client().create_authorization_url(
        provider["authorization_endpoint"], code_verifier=verifier
    )
    session["forum_flow"] = {"state": state, "verifier": verifier}
    return redirect(url)


@bp.get("/forum/callback")
def callback():
    """Back from Bastion: swap the code for tokens and read who it is."""
    flow = session.pop("forum_flow", None)
    if request.args.get("error"):
        return redirect(url_for("forum.index", error=f"Bastion said: {request.args['error']}"))
    if flow is None or request.args.get("state") != flow["state"]:
        return redirect(url_for("forum.index", error="That sign-in was not started here."))
    client = _client(state=flow["state"])
    try:
        provider = _provider()
        client.fetch_token(
            provider["token_endpoint"], authorization_response=request.url, code_verifier=flow["verifier"]
        )
        session["forum_user"] = client.get(provider["userinfo_endpoint"], timeout=TIMEOUT).json()
    except (OAuthError, requests.RequestException, ValueError) as exc:
        return redirect(url_for("forum.index", error=f"Signing in failed: {exc}"))
    return redirect(url_for("forum.index"))


@bp.post("/forum/logout")
def logout():
    """Forget the visitor here (Bastion's own session stays)."""
    session.pop("forum_user", None)
    return redirect(url_for("forum.index"))
