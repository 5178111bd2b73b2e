"""Members' services, access requests, and the forward-auth check reverse proxies call."""

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.extensions import csrf, db
from app.services import bp
from app.services.forms import RequestForm
from app.services.logic import AccessRefused, request_access
from app.services.models import AccessRequest, Grant, Service


def _enabled_service(slug):
    service = db.session.scalars(db.select(Service).filter_by(slug=slug, enabled=True)).first()
    if service is None:
        abort(404)
    return service


@bp.get("/services")
@login_required
def index():
    """My services: what I have, what is suspended and why, what I asked for, what I may ask for."""
    grants = db.session.scalars(
        db.select(Grant)
        .where(Grant.user_id == current_user.id, Grant.status != "revoked")
        .join(Service)
        .order_by(Service.name)
    ).all()
    pending = db.session.scalars(
        db.select(AccessRequest).where(
            AccessRequest.user_id == current_user.id, AccessRequest.status == "pending"
        )
    ).all()
    taken = {g.service_id for g in grants} | {r.service_id for r in pending}
    available = [
        s
        for s in db.session.scalars(
            db.select(Service).where(Service.enabled.is_(True)).order_by(Service.name)
        )
        if s.id not in taken
    ]
    recent = db.session.scalars(
        db.select(AccessRequest)
        .where(AccessRequest.user_id == current_user.id, AccessRequest.status == "denied")
        .order_by(AccessRequest.decided_at.desc())
        .limit(5)
    ).all()
    return render_template(
        "services/index.html",
        grants=grants,
        pending=pending,
        available=available,
        denied=recent,
        form=RequestForm(),
    )


@bp.post("/services/<slug>/request")
@login_required
def request(slug):
    """Ask for a service."""
    service = _enabled_service(slug)
    form = RequestForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error if isinstance(error, str) else "The form was out of date. Try again.", "danger")
        return redirect(url_for("services.index"))
    try:
        made = request_access(current_user, service, note=(form.note.data or "").strip() or None)
    except AccessRefused as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("services.index"))
    if made.status == "approved":
        flash(f"You have {service.name} now.", "success")
    else:
        flash(f"Your request for {service.name} is waiting for a director.", "info")
    return redirect(url_for("services.index"))


@bp.get("/auth/forward/<slug>")
@csrf.exempt
def forward_auth(slug):
    """For nginx auth_request, Traefik forwardAuth and Caddy forward_auth.

    200 with X-Bastion-User, X-Bastion-Character and X-Bastion-Corporation for a logged-in user
    holding an active grant; 401 when not logged in; 403 without a grant; 404 for no such service.
    """
    service = db.session.scalars(
        db.select(Service).filter_by(slug=slug, kind="forward_auth", enabled=True)
    ).first()
    if service is None:
        return Response("No such service.\n", 404, mimetype="text/plain")
    if not current_user.is_authenticated:
        return Response("Log in to Bastion first.\n", 401, mimetype="text/plain")
    grant = db.session.scalars(
        db.select(Grant).filter_by(user_id=current_user.id, service_id=service.id, status="active")
    ).first()
    if grant is None:
        return Response(f"You do not have {service.name}.\n", 403, mimetype="text/plain")
    main = current_user.main_character
    corp = main.corporation if main is not None else None
    headers = {
        "X-Bastion-User": str(current_user.id),
        "X-Bastion-Character": main.name if main is not None else "",
        "X-Bastion-Corporation": corp.name if corp is not None else "",
        "Cache-Control": "no-store",
    }
    return Response("OK\n", 200, headers, mimetype="text/plain")
