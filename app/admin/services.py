"""Admin pages for services: the list, the editor with the policy, the test event, resyncs."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func

from app.access import FollowUp
from app.access.models import Grant
from app.accounts.auth import admin_required
from app.admin import bp
from app.admin.models import record
from app.extensions import db
from app.forms import ActionForm, require_action_form
from app.services.connectors import ConnectorError, connector_for
from app.services.forms import ServiceForm
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
    settings = dict(service.settings) if service.settings_encrypted else {}
    if service.kind == "webhook":
        settings["url"] = form.url.data.strip()
        if form.secret.data:
            settings["secret"] = form.secret.data
    if service.kind == "forward_auth":
        settings["url"] = (form.site_url.data or "").strip()
    if service.kind == "discord":
        settings["guild_id"] = form.guild_id.data.strip()
        settings["role_ids"] = [p.strip() for p in form.role_ids.data.split(",") if p.strip()]
    service.settings = settings


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
        _apply(form, service)
        db.session.add(service)
        db.session.flush()
        record("service.created", current_user, target=service, detail=f"{service.slug} ({service.kind})")
        db.session.commit()
        _reconcile_everyone()
        flash(f"{service.name} was added; members' grants are being worked out.", "success")
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
        form.site_url.data = settings.get("url", "") if service.kind == "forward_auth" else ""
        form.guild_id.data = settings.get("guild_id", "")
        form.role_ids.data = ",".join(settings.get("role_ids", []))
    if form.validate_on_submit():
        _apply(form, service)
        record("service.updated", current_user, target=service, detail=service.slug)
        db.session.commit()
        _reconcile_everyone()
        flash(f"{service.name} was saved; grants follow the new policy.", "success")
        return redirect(url_for("admin.edit_service", service_id=service.id))
    failing = db.session.scalars(
        db.select(Grant).where(Grant.service_id == service.id, Grant.sync_status == "failed").limit(50)
    ).all()
    page = render_template(
        "admin/service_form.html", form=form, service=service, failing=failing, action=ActionForm()
    )
    return page, 400 if form.is_submitted() else 200


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
