"""Admin pages for keys: every key, searchable; check one now or remove it."""

from flask import abort, flash, redirect, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import or_

from app.accounts.auth import admin_required, safe_next
from app.admin import bp
from app.admin.forms import KeySearchForm
from app.audit import record
from app.corps.models import Character, Corporation
from app.extensions import db
from app.forms import ActionForm, page_number, require_action_form
from app.keys.checks import being_checked
from app.keys.logic import KeyRefused, remove_key
from app.keys.models import Key
from tasks.access import enqueue_reconcile
from tasks.keys import queue_check

PER_PAGE = 50


@bp.get("/keys")
@login_required
@admin_required
def keys():
    """Every key, searchable by character, corporation or status, paginated."""
    form = KeySearchForm(request.args)
    query = (
        db.select(Key)
        .join(Character, Character.id == Key.character_id)
        .outerjoin(Corporation, Corporation.id == Character.corporation_id)
        .order_by(Key.id)
    )
    if form.validate():
        if form.q.data:
            like = f"%{form.q.data.strip()}%"
            query = query.where(
                or_(Character.name.ilike(like), Corporation.name.ilike(like), Corporation.ticker.ilike(like))
            )
        if form.status.data:
            query = query.where(Key.status == form.status.data)
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "admin/keys.html",
        form=form,
        page=page,
        action=ActionForm(),
        checking=being_checked([k.id for k in page.items]),
    )


def _key(key_id):
    key = db.session.get(Key, key_id)
    if key is None:
        abort(404)
    return key


def _back(default):
    return redirect(safe_next(request.form.get("next"), default=default))


@bp.post("/keys/<int:key_id>/check")
@login_required
@admin_required
def check_key(key_id):
    """Check a key now."""
    require_action_form()
    key = _key(key_id)
    queued = queue_check(key.id)
    record("key.check", current_user, target=key, detail=key.character.name)
    db.session.commit()
    flash(
        f"The key of {key.character.name} is {'being checked' if queued else 'queued for a check already'}.",
        "info",
    )
    return _back("admin.keys")


@bp.post("/keys/<int:key_id>/remove")
@login_required
@admin_required
def remove(key_id):
    """Remove a key (and revoke it at EVE)."""
    require_action_form()
    key = _key(key_id)
    owner, name = key.user, key.character.name
    try:
        revoked = remove_key(owner, key, actor=current_user)
    except KeyRefused as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back("admin.keys")
    db.session.commit()
    enqueue_reconcile(owner.id)
    flash(f"The key of {name} was removed{' and revoked at EVE' if revoked else ''}.", "success")
    return _back("admin.keys")
