"""Admin pages for services: the list, the editor with the policy, the test event, resyncs."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func

from app.access import FollowUp
from app.access.models import Grant
from app.accounts.auth import admin_required
from app.admin import bp
from app.audit import record
from app.extensions import db
from app.forms import ActionForm, require_action_form
from app.oidc.clients import ensure_client, new_secret
from app.services import names
from app.services.connectors import ConnectorError, connector_for
from app.services.forms import ServiceForm, comma_list
from app.services.models import Service
from tasks.access import reconcile_all
from tasks.services import queue_follow_up


def _service(service_id):
    service = db.session.get(Service, service_id)
    if service is None:
        abort(404)
    return service


@bp.get("/services")
@login_required
@admin_required
def services():
    """Every service with its policy, grants by status and failed syncs."""
    rows = db.session.execute(
        db.select(Grant.service_id, Grant.status, func.count()).group_by(Grant.service_id, Grant.status)
    ).all()
    counts = {}
    for service_id, status, count in rows:
        counts.setdefault(service_id, {})[status] = count
    failed = dict(
        db.session.execute(
            db.select(Grant.service_id, func.count())
            .where(Grant.sync_status == "failed")
            .group_by(Grant.service_id)
        ).all()
    )
    listed = db.session.scalars(db.select(Service).order_by(Service.name)).all()
    return render_template("admin/services.html", services=listed, counts=counts, failed=failed)


def _apply(form, service):
    service.name = form.name.data.strip()
    service.slug = form.slug.data.strip()
    service.kind = form.kind.data
    service.auto_states = ",".join(form.auto_states.data or [])
    service.request_states = ",".join(form.request_states.data or [])
    service.requires_approval = form.requires_approval.data
    service.directors_may_grant = form.directors_may_grant.data
    service.qualify = form.qualify.data
    service.strict = form.strict.data
    service.require_registered = form.require_registered.data
    service.enabled = form.enabled.data
    service.name_template = (form.name_template.data or "").strip() or None
    settings = dict(service.settings) if service.settings_encrypted else {}
    if service.kind == "webhook":
        settings["url"] = form.url.data.strip()
        if form.secret.data:
            settings["secret"] = form.secret.data
    if service.kind in ("forward_auth", "oidc"):
        settings["url"] = (form.site_url.data or "").strip()
    if service.kind == "discord":
        settings["guild_id"] = form.guild_id.data.strip()
        settings["role_ids"] = comma_list(form.role_ids.data)
    if service.kind == "mumble":
        settings["ice_host"] = form.ice_host.data.strip()
        settings["ice_port"] = int(form.ice_port.data.strip())
        settings["server_id"] = int(form.server_id.data.strip())
        settings["address"] = (form.mumble_address.data or "").strip()
        settings["groups"] = comma_list(form.mumble_groups.data)
        if form.ice_secret.data:
            settings["ice_secret"] = form.ice_secret.data
    service.settings = settings
    if service.kind == "oidc":
        client, secret = ensure_client(service, form.redirect_uris.data.split(), form.require_pkce.data)
        client.visible_groups = " ".join(comma_list(form.oidc_groups.data))
        client.post_logout_redirect_uris = "\n".join((form.post_logout_redirect_uris.data or "").split())
        return secret
    return None


def _reconcile_everyone():
    """A policy changed: every user's grants are reconciled (by a task that queues one per user)."""
    reconcile_all()


@bp.route("/services/new", methods=["GET", "POST"])
@login_required
@admin_required
def new_service():
    """Add a service."""
    form = ServiceForm()
    if form.validate_on_submit():
        service = Service()
        db.session.add(service)
        secret = _apply(form, service)
        db.session.flush()
        record("service.created", current_user, target=service, detail=f"{service.slug} ({service.kind})")
        db.session.commit()
        _reconcile_everyone()
        flash(f"{service.name} was added; members' grants are being worked out.", "success")
        if secret:
            return _show_secret(service, secret)
        return redirect(url_for("admin.edit_service", service_id=service.id))
    status = 400 if form.is_submitted() else 200
    return render_template("admin/service_form.html", form=form, service=None), status


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@login_required
@admin_required
def edit_service(service_id):
    """Change a service and its policy."""
    service = _service(service_id)
    form = ServiceForm(obj=service, service=service)
    if not form.is_submitted():
        form.auto_states.data = service.auto_state_list
        form.request_states.data = service.request_state_list
        settings = service.settings
        form.url.data = settings.get("url", "") if service.kind == "webhook" else ""
        form.site_url.data = settings.get("url", "") if service.kind in ("forward_auth", "oidc") else ""
        form.guild_id.data = settings.get("guild_id", "")
        form.role_ids.data = ",".join(settings.get("role_ids", []))
        form.name_template.data = service.name_template or ""
        form.ice_host.data = settings.get("ice_host", "")
        form.ice_port.data = str(settings.get("ice_port", 6502))
        form.server_id.data = str(settings.get("server_id", 1))
        form.mumble_address.data = settings.get("address", "")
        form.mumble_groups.data = ",".join(settings.get("groups", []))
        if service.oidc_client is not None:
            form.redirect_uris.data = service.oidc_client.redirect_uris
            form.require_pkce.data = service.oidc_client.require_pkce
            form.oidc_groups.data = ",".join(service.oidc_client.visible_groups.split())
            form.post_logout_redirect_uris.data = service.oidc_client.post_logout_redirect_uris
    if form.validate_on_submit():
        secret = _apply(form, service)
        record("service.updated", current_user, target=service, detail=service.slug)
        db.session.commit()
        _reconcile_everyone()
        flash(f"{service.name} was saved; grants follow the new policy.", "success")
        if secret:  # became an OpenID Connect service just now
            return _show_secret(service, secret)
        return redirect(url_for("admin.edit_service", service_id=service.id))
    failing = db.session.scalars(
        db.select(Grant).where(Grant.service_id == service.id, Grant.sync_status == "failed").limit(50)
    ).all()
    page = render_template(
        "admin/service_form.html", form=form, service=service, failing=failing, action=ActionForm()
    )
    return page, 400 if form.is_submitted() else 200


@bp.get("/services/name-preview")
@login_required
@admin_required
def name_preview():
    """What a name template makes of an example member (the editor asks as the admin types)."""
    kind = request.args.get("kind", "discord")
    template = (request.args.get("name_template") or "").strip() or names.DEFAULTS.get(kind, "{name}")
    try:
        shown = names.render(template, names.EXAMPLE, names.LIMITS.get(kind, 128))
    except names.TemplateError as exc:
        return render_template("admin/_name_preview.html", error=str(exc))
    return render_template("admin/_name_preview.html", shown=shown, example=names.EXAMPLE)


@bp.post("/services/<int:service_id>/test")
@login_required
@admin_required
def test_service(service_id):
    """Send a test event (webhooks) or check the settings of a service, and say how it went."""
    require_action_form()
    service = _service(service_id)
    try:
        answer = connector_for(service).check()
    except ConnectorError as exc:
        flash(f"The test failed: {exc}.", "danger")
        outcome = f"failed: {exc}"
    else:
        flash(f"The test went through{f' (the receiver answered {answer})' if answer else ''}.", "success")
        outcome = "ok"
    record("service.test", current_user, target=service, detail=outcome)
    db.session.commit()
    return redirect(url_for("admin.edit_service", service_id=service.id))


@bp.post("/services/<int:service_id>/client-secret")
@login_required
@admin_required
def reset_client_secret(service_id):
    """Give an OpenID Connect service's client a new secret and show it once."""
    require_action_form()
    service = _service(service_id)
    if service.oidc_client is None:
        abort(404)
    secret = new_secret(service.oidc_client)
    record("service.client_secret", current_user, target=service, detail=service.oidc_client.client_id)
    db.session.commit()
    flash("The client has a new secret; the old one no longer works.", "warning")
    return _show_secret(service, secret)


def _show_secret(service, secret):
    """The page that shows a client's secret, the one time it is ever shown."""
    answer = render_template(
        "admin/oidc_client.html", service=service, client=service.oidc_client, secret=secret
    )
    return answer, 200, {"Cache-Control": "no-store"}


@bp.post("/services/<int:service_id>/resync")
@login_required
@admin_required
def resync_service(service_id):
    """Queue every failed sync of a service again."""
    require_action_form()
    service = _service(service_id)
    failing = db.session.scalars(
        db.select(Grant).where(Grant.service_id == service.id, Grant.sync_status == "failed")
    ).all()
    for grant in failing:
        grant.sync_status = "pending"
    record("service.resync", current_user, target=service, detail=f"{len(failing)} grants")
    db.session.commit()
    queue_follow_up(FollowUp.of(failing))
    flash(f"{len(failing)} failed sync{'s' if len(failing) != 1 else ''} queued again.", "success")
    return redirect(url_for("admin.edit_service", service_id=service.id))
