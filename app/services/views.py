"""Members' services, access requests, and the forward-auth check reverse proxies call."""

import logging
import secrets
import time
from urllib.parse import quote

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from app import crypto
from app.access import FollowUp, notices
from app.access.explain import explain_all
from app.access.grants import AccessRefused
from app.access.models import AccessRequest, Grant, active_grant_of
from app.access.requests import request_access, withdraw
from app.accounts.auth import is_allowed_return, public_url, safe_next
from app.audit import record
from app.extensions import csrf, db
from app.forms import ActionForm, require_action_form
from app.services import bp, names
from app.services.connectors import ConnectorError, discord
from app.services.connectors.discord import DiscordConnector
from app.services.events import grant_event
from app.services.forms import RequestForm
from app.services.models import DiscordLink, MumbleAccount, Service
from app.services.mumble.accounts import ensure_account, new_password
from app.services.steps import services_of
from tasks.services import queue_follow_up

log = logging.getLogger(__name__)
DISCORD_FLOW = "discord_flow"
FLOW_LIFETIME_S = 600


def _enabled_service(slug):
    service = db.session.scalars(db.select(Service).filter_by(slug=slug, enabled=True)).first()
    if service is None:
        abort(404)
    return service


@bp.get("/services")
@login_required
def index():
    """My services: what I have, what is suspended and why, what I asked for, what I may ask for."""
    return _services_page()


def _services_page(note_errors=None, status=200):
    grants, pending, available = services_of(current_user)
    held = {g.service_id for g in grants if g.status == "active"}
    recent = [
        r
        for r in db.session.scalars(
            db.select(AccessRequest)
            .where(AccessRequest.user_id == current_user.id, AccessRequest.status == "denied")
            .order_by(AccessRequest.decided_at.desc())
            .limit(5)
        )
        if r.service_id not in held  # granted since: the denial is history
    ]
    return render_template(
        "services/index.html",
        grants=grants,
        pending=pending,
        available=available,
        denied=recent,
        form=RequestForm(),
        action=ActionForm(),
        wants_discord=any(s.kind == "discord" for s in available)
        or any(g.service.kind == "discord" for g in grants),
        discord_ready=bool(current_app.config["DISCORD_CLIENT_ID"]),
        note_errors=note_errors or {},
        mumble={
            a.service_id: a
            for a in db.session.scalars(db.select(MumbleAccount).filter_by(user_id=current_user.id))
        },
        explanations=explain_all(current_user),
    ), status


@bp.post("/services/requests/<int:request_id>/withdraw")
@login_required
def withdraw_request(request_id):
    """Take back a request of mine that still waits for a director."""
    require_action_form()
    asked = db.session.get(AccessRequest, request_id)
    if asked is None or asked.user_id != current_user.id:
        abort(404)
    try:
        withdraw(asked, current_user)
    except AccessRefused as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("services.index"))
    flash(f"Your request for {asked.service.name} is withdrawn.", "info")
    return redirect(url_for("services.index"))


@bp.post("/notices/<int:notice_id>/dismiss")
@login_required
def dismiss_notice(notice_id):
    """Hide one of my notices (it comes back with the reminder while access is still ending)."""
    require_action_form()
    if notices.dismiss(current_user.id, notice_id):
        db.session.commit()
    return redirect(safe_next(request.form.get("next"), "services.index"))


@bp.post("/services/direct-messages")
@login_required
def direct_messages():
    """Turn Discord direct messages about my access on or off."""
    require_action_form()
    wanted = request.form.get("enabled") == "1"
    current_user.notify_by_dm = wanted
    record("notices.dm", current_user, target=current_user, detail="on" if wanted else "off")
    db.session.commit()
    if wanted:
        flash("You get a Discord direct message when your access is about to end.", "success")
    else:
        flash("No more Discord direct messages; notices still show here.", "info")
    return redirect(url_for("services.index"))


@bp.post("/services/<slug>/mumble-password")
@login_required
def mumble_password(slug):
    """Make me a new Mumble password for a service I hold, and show it this once."""
    require_action_form()
    service = _enabled_service(slug)
    held = active_grant_of(current_user.id, service.id)
    if service.kind != "mumble" or held is None:
        flash(f"You have no access to {service.name}, so it has no password for you.", "warning")
        return redirect(url_for("services.index"))
    account = ensure_account(service, current_user.id, names.name_for(service, grant_event(held)))
    password = new_password(account)
    record("mumble.password", current_user, target=service, detail=account.username)
    try:
        db.session.commit()
    except IntegrityError:  # another member took the name at this moment
        db.session.rollback()
        flash("Your Mumble account could not be set up just now; try again.", "warning")
        return redirect(url_for("services.index"))
    page = render_template(
        "services/mumble_password.html", service=service, account=account, password=password
    )
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/services/<slug>/request")
@login_required
def request_service(slug):
    """Ask for a service."""
    service = _enabled_service(slug)
    form = RequestForm()
    if not form.validate_on_submit():
        return _services_page({slug: form.note.errors or ["The form was out of date; reload the page."]}, 400)
    try:
        made, follow_up = request_access(current_user, service, note=(form.note.data or "").strip() or None)
    except AccessRefused as exc:
        db.session.rollback()
        return _services_page({slug: [str(exc)]}, 400)
    queue_follow_up(follow_up)
    if made.status == "approved":
        flash(f"You have {service.name} now.", "success")
    else:
        flash(f"Your request for {service.name} is waiting for a director.", "info")
    return redirect(url_for("services.index"))


@bp.get("/auth/forward/<slug>")
@csrf.exempt
def forward_auth(slug):
    """For nginx auth_request, Traefik forwardAuth and Caddy forward_auth.

    200 with the X-Bastion-* identity headers for a logged-in user holding an active grant; 401
    when not logged in; 403 without a grant; 404 for no such service. A 401 carries in Location
    Bastion's login page with the visitor's address as ``rd`` (nginx: ``error_page 401 =302``);
    with ``?redirect=1`` (Traefik, Caddy) it is a 302 there instead.
    """
    service = db.session.scalars(
        db.select(Service).filter_by(slug=slug, kind="forward_auth", enabled=True)
    ).first()
    if service is None:
        return Response("No such service.\n", 404, mimetype="text/plain")
    if not current_user.is_authenticated:
        return _to_login()
    grant = active_grant_of(current_user.id, service.id)
    if grant is None:
        return Response(f"You do not have {service.name}.\n", 403, mimetype="text/plain")
    main = current_user.main_character
    corp = main.corporation if main is not None else None
    headers = {
        "X-Bastion-User": str(current_user.id),
        "X-Bastion-Character": header_safe(main.name if main is not None else ""),
        "X-Bastion-Corporation": header_safe(corp.name if corp is not None else ""),
        "Cache-Control": "no-store",
    }
    return Response("OK\n", 200, headers, mimetype="text/plain")


# Printable ASCII but "%": what a name header carries as it is.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_safe(name):
    """A name as an HTTP header carries any name: UTF-8, percent-encoded (RFC 3986) where it is not
    printable ASCII, and "%" as %25; a plain ASCII name is unchanged. Apps decode it with
    urllib.parse.unquote or decodeURIComponent."""
    return quote(name, safe=_HEADER_SAFE)


def _visited_address():
    """The address the visitor asked the proxy for: nginx's X-Original-URL, or Traefik's and
    Caddy's X-Forwarded-Proto, -Host and -Uri; None when the proxy sent neither."""
    original = request.headers.get("X-Original-URL")
    if original:
        return original
    proto, host = request.headers.get("X-Forwarded-Proto"), request.headers.get("X-Forwarded-Host")
    if not (proto and host):
        return None
    first = proto.split(",")[0].strip(), host.split(",")[0].strip()
    return f"{first[0]}://{first[1]}{request.headers.get('X-Forwarded-Uri', '/')}"


def _to_login():
    """401 (or, asked for, 302) pointing at the login page, which sends the visitor back after."""
    visited = _visited_address()
    rd = visited if visited and is_allowed_return(visited) else None
    login = public_url("accounts.login", rd=rd)
    headers = {"Location": login, "Cache-Control": "no-store"}
    if request.args.get("redirect") == "1":
        return Response(f"Log in to Bastion first: {login}\n", 302, headers, mimetype="text/plain")
    return Response("Log in to Bastion first.\n", 401, headers, mimetype="text/plain")


# Linking a Discord account


def _discord_grants(user):
    return db.session.scalars(
        db.select(Grant).join(Service).where(Grant.user_id == user.id, Service.kind == "discord")
    ).all()


@bp.get("/services/discord/link")
@login_required
def discord_link():
    """Send the member to Discord to link their account."""
    if not current_app.config["DISCORD_CLIENT_ID"]:
        flash("Discord is not configured on this server (DISCORD_CLIENT_ID is empty).", "danger")
        return redirect(url_for("services.index"))
    state = secrets.token_urlsafe(24)
    session[DISCORD_FLOW] = {"state": state, "at": time.time()}
    return redirect(discord.authorize_url(public_url("services.discord_callback"), state))


@bp.get("/services/discord/callback")
@login_required
def discord_callback():
    """Discord sends the member back: store the link and let the bot give the member their roles."""
    flow = session.pop(DISCORD_FLOW, None)
    state = request.args.get("state", "")
    if (
        not flow
        or not state
        or not secrets.compare_digest(flow["state"], state)
        or time.time() - flow["at"] > FLOW_LIFETIME_S
    ):
        flash("That Discord link was out of date or not started here. Please try again.", "warning")
        return redirect(url_for("services.index"))
    if request.args.get("error") or not request.args.get("code"):
        flash("Discord was not linked: the authorization was cancelled.", "info")
        return redirect(url_for("services.index"))
    try:
        tokens = discord.exchange_code(request.args["code"], public_url("services.discord_callback"))
        who = discord.me(tokens["access_token"])
    except ConnectorError as exc:
        log.warning("linking Discord failed: %s", exc)
        flash("Discord could not be asked just now; please try again in a minute.", "danger")
        return redirect(url_for("services.index"))
    taken = db.session.scalars(db.select(DiscordLink).filter_by(discord_user_id=str(who["id"]))).first()
    if taken is not None and taken.user_id != current_user.id:
        flash("That Discord account is linked to another Bastion user already.", "danger")
        return redirect(url_for("services.index"))
    link = current_user.discord or DiscordLink(user=current_user)
    link.discord_user_id = str(who["id"])
    link.username = (who.get("global_name") or who.get("username") or "")[:64]
    link.access_token_encrypted = crypto.encrypt(tokens["access_token"])
    link.refresh_token_encrypted = (
        crypto.encrypt(tokens["refresh_token"]) if tokens.get("refresh_token") else None
    )
    link.expires_at = tokens["expires_at"]
    db.session.add(link)
    grants = [g for g in _discord_grants(current_user) if g.status == "active"]
    for grant in grants:  # what they waited for is done: the page says so at once
        grant.sync_status, grant.sync_error, grant.sync_wait = "pending", None, None
    record(
        "discord.link",
        current_user,
        target=current_user,
        detail=f"Discord {link.username} ({link.discord_user_id})",
    )
    db.session.commit()
    queue_follow_up(FollowUp.of(grants))
    flash(f"Discord account {link.username} is linked; your roles follow in a moment.", "success")
    return redirect(url_for("services.index"))


@bp.post("/services/discord/unlink")
@login_required
def discord_unlink():
    """Unlink Discord: the bot takes the member's roles away first."""
    require_action_form()
    link = current_user.discord
    if link is None:
        flash("No Discord account is linked.", "info")
        return redirect(url_for("services.index"))
    for grant in _discord_grants(current_user):
        if grant.provisioned:
            try:
                DiscordConnector(grant.service).deprovision(grant_event(grant))
            except ConnectorError as exc:
                log.warning("taking roles of grant %s away failed: %s", grant.id, exc)
            grant.provisioned = False
            grant.sync_status = "pending"
    record("discord.unlink", current_user, target=current_user, detail=link.username)
    db.session.delete(link)
    db.session.commit()
    flash("Your Discord account is unlinked and its roles were taken away.", "success")
    return redirect(url_for("services.index"))
