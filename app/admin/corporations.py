"""Admin pages for corporations and alliances: which count as member or blue."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func

from app.accounts.auth import admin_required
from app.admin import bp
from app.admin.forms import TrackForm, TrackingForm
from app.corps.models import Alliance, Character, Corporation
from app.corps.tracking import TrackingRefused, resolve, set_tracking, track, tracked_entity
from app.extensions import db
from tasks.access import enqueue_reconcile


def _reconcile(user_ids):
    """Tracking changed: queue the reconciliation of every user with a character there."""
    for user_id in user_ids:
        enqueue_reconcile(user_id)
    return len(user_ids)


@bp.route("/corporations", methods=["GET", "POST"])
@login_required
@admin_required
def corporations():
    """Tracked corporations and alliances, and the form to track one more by its EVE id or name."""
    form = TrackForm()
    if form.validate_on_submit():
        try:
            entity_id = resolve(form.kind.data, form.entity_id.data)
            entity, user_ids = track(form.kind.data, entity_id, form.tracked_as.data, current_user)
        except TrackingRefused as exc:
            form.entity_id.errors.append(str(exc))
        else:
            flash(
                f"{entity.name} [{entity.ticker}] counts as {entity.tracked_as} now; "
                f"{_reconcile(user_ids)} users are being reconciled.",
                "success",
            )
            return redirect(url_for("admin.corporations"))
    counts = dict(
        db.session.execute(
            db.select(Character.corporation_id, func.count())
            .where(Character.user_id.is_not(None))
            .group_by(Character.corporation_id)
        ).all()
    )
    corps = db.session.scalars(
        db.select(Corporation).where(Corporation.tracked_as.is_not(None)).order_by(Corporation.name)
    ).all()
    alliances = db.session.scalars(
        db.select(Alliance).where(Alliance.tracked_as.is_not(None)).order_by(Alliance.name)
    ).all()
    page = render_template(
        "admin/corporations.html",
        form=form,
        corps=corps,
        alliances=alliances,
        counts=counts,
        tracking=TrackingForm(),
    )
    return page, 400 if form.is_submitted() else 200


@bp.post("/corporations/<kind>/<int:entity_id>/tracking")
@login_required
@admin_required
def change_tracking(kind, entity_id):
    """Count a corporation or alliance as member or blue, or stop tracking it."""
    entity = tracked_entity(kind, entity_id)
    if entity is None:
        abort(404)
    form = TrackingForm()
    if not form.validate_on_submit():
        abort(
            400,
            description="The form has expired or holds a choice that does not exist; reload and try again.",
        )
    users = _reconcile(set_tracking(entity, kind, form.tracked_as.data or None, current_user))
    what = f"counts as {entity.tracked_as}" if entity.tracked_as else "is no longer tracked"
    flash(f"{entity.name} {what}; {users} users are being reconciled.", "success")
    return redirect(url_for("admin.corporations"))
