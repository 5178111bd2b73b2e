"""Log in with EVE, and the SSO callback shared with "Add character"."""

import logging
import secrets
import time

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user

from app.accounts import bp
from app.accounts.auth import greet, is_allowed_return, is_safe_next, public_url, safe_return, start_session
from app.accounts.limits import audit_sso_breach, limiter, sso_callbacks_per_address
from app.accounts.logic import LoginRefused, login_with_character
from app.compliance import tokens as tracking
from app.corps.directors import directs
from app.corps.models import Corporation
from app.eve import get_client
from app.eve.client import pkce_pair
from app.eve.errors import EveError, InvalidGrant, InvalidToken
from app.extensions import db
from app.keys.logic import KeyRefused, discard_grant, register_key
from tasks.compliance import queue_roster
from tasks.keys import queue_check

log = logging.getLogger(__name__)

FLOW_KEY = "sso_flow"
FLOW_LIFETIME_S = 600
PURPOSES = ("login", "add_key", "tracking")


def callback_url():
    """The redirect URI registered with EVE SSO for this app."""
    return current_app.config["EVE_CALLBACK_URL"] or public_url("accounts.sso_callback")


def start_flow(purpose, next_path=None, rd=None, extra_scopes=(), corporation_id=None):
    """Remember a fresh state and PKCE verifier in the session and send the browser to SSO."""
    if not current_app.config["EVE_CLIENT_ID"]:
        flash("EVE login is not configured on this server (EVE_CLIENT_ID is empty).", "danger")
        return redirect(url_for("accounts.login"))
    state = secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    session[FLOW_KEY] = {
        "state": state,
        "verifier": verifier,
        "purpose": purpose,
        "next": next_path if is_safe_next(next_path) else None,
        "rd": rd if is_allowed_return(rd) else None,
        "at": time.time(),
        "corporation_id": corporation_id,
    }
    scopes = list(dict.fromkeys([*current_app.config["EVE_SCOPES"], *extra_scopes]))
    try:
        url = get_client().authorize_url(callback_url(), scopes, state, challenge)
    except EveError as exc:
        log.warning("SSO metadata unavailable: %s", exc)
        flash("EVE's login service cannot be reached right now. Please try again in a minute.", "danger")
        return redirect(url_for("accounts.login") if purpose == "login" else url_for("keys.index"))
    return redirect(url)


@bp.get("/login/eve")
def login_eve():
    """Start logging in with an EVE character."""
    if current_user.is_authenticated:
        return redirect(safe_return(request.args.get("next"), request.args.get("rd")))
    return start_flow("login", request.args.get("next"), request.args.get("rd"))


def _take_flow():
    """The flow this callback answers, checked against its state; it can be used only once."""
    flow = session.pop(FLOW_KEY, None)
    state = request.args.get("state", "")
    if not flow or not state or not secrets.compare_digest(flow["state"], state):
        return None
    if time.time() - flow["at"] > FLOW_LIFETIME_S or flow["purpose"] not in PURPOSES:
        return None
    return flow


@bp.get("/sso/callback")
@limiter.limit(sso_callbacks_per_address, on_breach=audit_sso_breach)
def sso_callback():
    """Finish an SSO flow: check state, trade the code, verify the token, then log in or add the key."""
    flow = _take_flow()
    fallback = url_for("keys.index") if current_user.is_authenticated else url_for("accounts.login")
    if flow is None:
        flash(
            "That EVE login was not started here, was already used, or took too long. Please try again.",
            "danger",
        )
        return redirect(fallback), 303
    if request.args.get("error"):
        flash("The EVE login was cancelled.", "warning")
        return redirect(fallback)
    code = request.args.get("code")
    if not code:
        abort(400, "The EVE login answered without a code.")
    client = get_client()
    try:
        tokens = client.exchange_code(code, flow["verifier"])
        claims = client.verify(tokens["access_token"])
    except (InvalidGrant, InvalidToken) as exc:
        log.warning("SSO callback refused: %s", exc)
        flash(
            "EVE did not confirm this login (the code was invalid or already used). Please try again.",
            "danger",
        )
        return redirect(fallback)
    except EveError as exc:
        log.warning("SSO callback failed: %s", exc)
        flash("EVE's login service did not answer properly. Please try again in a minute.", "danger")
        return redirect(fallback)
    if flow["purpose"] == "login":
        return _finish_login(claims, tokens["refresh_token"], flow)
    if flow["purpose"] == "tracking":
        return finish_tracking(claims, tokens["refresh_token"], flow.get("corporation_id"))
    return _finish_add_key(claims, tokens["refresh_token"])


def _finish_login(claims, refresh_token, flow):
    try:
        user = login_with_character(claims, refresh_token)
    except LoginRefused as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("accounts.login"))
    db.session.commit()
    for key in user.keys:
        if key.status == "pending":
            queue_check(key.id)
    start_session(user)
    target = safe_return(flow.get("next"), flow.get("rd"))
    greet(target, f"Welcome, {user.display_name}.")
    return redirect(target)


def _finish_add_key(claims, refresh_token):
    if not current_user.is_authenticated:
        discard_grant(refresh_token)
        flash("Your Bastion session ended before the character was added. Sign in and try again.", "warning")
        return redirect(url_for("accounts.login"))
    try:
        key = register_key(current_user, claims, refresh_token)
    except KeyRefused as exc:
        db.session.rollback()
        discard_grant(refresh_token)
        flash(str(exc), "danger")
        return redirect(url_for("keys.index"))
    db.session.commit()
    queue_check(key.id)
    flash(f"{key.character.name} was added. Its key is being checked.", "success")
    return redirect(url_for("keys.index"))


def finish_tracking(claims, refresh_token, corporation_id):
    """The end of the SSO flow for a tracking token: register the key, make it the corporation's
    tracking token, and check it (its members are read once it is valid)."""
    if not current_user.is_authenticated:
        discard_grant(refresh_token)
        flash("Your Bastion session ended before the token was added. Sign in and try again.", "warning")
        return redirect(url_for("accounts.login"))
    corporation = db.session.get(Corporation, corporation_id) if corporation_id else None
    if corporation is None or not directs(current_user, corporation.id):
        discard_grant(refresh_token)
        flash("You do not direct that corporation (any more); the token was not added.", "danger")
        return redirect(url_for("director.index"))
    back = url_for("director.compliance", corporation_id=corporation.id)
    try:
        key = register_key(current_user, claims, refresh_token)
        db.session.flush()
        token = tracking.add_token(current_user, key, corporation, claims["scp"])
    except (KeyRefused, tracking.TokenRefused) as exc:
        db.session.rollback()
        discard_grant(refresh_token)
        flash(str(exc), "danger")
        return redirect(back)
    db.session.commit()
    queue_check(key.id)
    queue_roster(corporation.id, force=True)
    extra = " with member tracking" if token.tracks_members else ""
    flash(
        f"{key.character.name} is a tracking token of {corporation.name}{extra}. "
        "Its key is being checked; the member list is read right after.",
        "success",
    )
    return redirect(back)
