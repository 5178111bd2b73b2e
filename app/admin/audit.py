"""The audit log for admins: newest first, filterable by action, actor and target."""

from flask import render_template, request
from flask_login import login_required
from sqlalchemy import or_

from app.accounts.auth import admin_required
from app.accounts.models import User
from app.admin import bp
from app.admin.forms import AuditFilterForm
from app.audit import AuditEntry
from app.corps.models import Character
from app.extensions import db
from app.forms import page_number
from app.overview import names_of

PER_PAGE = 50


@bp.get("/audit")
@login_required
@admin_required
def audit():
    """The audit log, newest first, filterable, paginated."""
    form = AuditFilterForm(request.args)
    query = (
        db.select(AuditEntry).outerjoin(User, User.id == AuditEntry.actor_id).order_by(AuditEntry.id.desc())
    )
    if form.validate():
        if form.action.data:
            query = query.where(AuditEntry.action.startswith(form.action.data.strip()))
        if form.actor.data:
            name = form.actor.data.strip()
            if name.lower() == "system":
                query = query.where(AuditEntry.actor_id.is_(None))
            else:
                actors = (
                    db.select(User.id)
                    .outerjoin(Character, Character.id == User.main_character_id)
                    .where(or_(User.username.ilike(f"%{name}%"), Character.name.ilike(f"%{name}%")))
                )
                query = query.where(AuditEntry.actor_id.in_(actors))
        if form.target.data:
            kind, _, ident = form.target.data.strip().partition(":")
            query = query.where(AuditEntry.target_type == kind)
            if ident:
                query = query.where(AuditEntry.target_id == ident)
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/audit.html", form=form, page=page, names=_names(page.items))


def _names(entries):
    """Names of the targets whose entries were written without one (older entries, and the bulk
    verdicts of the checks), looked up for the page at once: {(type, id): name}."""
    return names_of(
        (e.target_type, e.target_id)
        for e in entries
        if e.target_name is None and e.target_type in ("key", "user")
    )
