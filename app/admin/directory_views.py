"""Admin pages for corporations and alliances, users and their roles, every key, and the audit log."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, or_

from app.accounts.auth import admin_required
from app.accounts.models import Directorship, User
from app.admin import bp
from app.admin.forms import (
    AppointForm,
    AuditFilterForm,
    KeySearchForm,
    RoleForm,
    TrackForm,
    TrackingForm,
    UserSearchForm,
)
from app.admin.models import AuditEntry, record
from app.corps.directors import tracked_corporations
from app.corps.logic import apply_alliance, apply_corporation, ensure_alliance
from app.corps.models import Alliance, Character, Corporation
from app.eve import get_client
from app.eve.errors import EveError, NotFound
from app.extensions import db
from app.forms import choices, page_number
from app.keys.checks import being_checked, queue_check
from app.keys.forms import ActionForm, require_action_form
from app.keys.logic import KeyRefused, remove_key
from app.keys.models import Key
from app.models import utcnow

PER_PAGE = 50


def _page():
    return page_number()


def _reconcile_members_of(column, entity_id):
    """Tracking changed: reconcile every user with a character there (queued)."""
    from tasks.access import enqueue_reconcile

    user_ids = db.session.scalars(
        db.select(Character.user_id).where(column == entity_id, Character.user_id.is_not(None)).distinct()
    ).all()
    for user_id in user_ids:
        enqueue_reconcile(user_id)
    return len(user_ids)


# Corporations and alliances


@bp.route("/corporations", methods=["GET", "POST"])
@login_required
@admin_required
def corporations():
    """Tracked corporations and alliances, and the form to track one more by its EVE id."""
    form = TrackForm()
    if form.validate_on_submit():
        entity = _track(form)
        if entity is not None:
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


def _set_tracking(entity, kind, column, tracked_as):
    """Count a corporation or alliance as member, blue or nothing; audited; its people reconciled."""
    before, entity.tracked_as = entity.tracked_as, tracked_as
    detail = f"{entity.name} [{entity.ticker}]: {before} -> {tracked_as}"
    record(f"{kind}.track", current_user, target_type=kind, target_id=entity.id, detail=detail)
    db.session.commit()
    return _reconcile_members_of(column, entity.id)


def _track(form):
    """Fetch the corporation or alliance from ESI and track it; None, with the error on the form, if not."""
    kind, entity_id = form.kind.data, form.entity_id.data
    client = get_client()
    try:
        data = client.corporation(entity_id) if kind == "corporation" else client.alliance(entity_id)
    except NotFound:
        form.entity_id.errors.append(f"EVE knows no {kind} with id {entity_id}.")
        return None
    except EveError as exc:
        form.entity_id.errors.append(f"EVE could not be asked just now ({exc}); try again in a minute.")
        return None
    now = utcnow()
    if kind == "corporation":
        entity = db.session.get(Corporation, entity_id) or Corporation(id=entity_id)
        if data.get("alliance_id"):
            ensure_alliance(data["alliance_id"])
        apply_corporation(entity, data, now)
        column = Character.corporation_id
    else:
        entity = db.session.get(Alliance, entity_id) or Alliance(id=entity_id)
        apply_alliance(entity, data, now)
        column = Character.alliance_id
    db.session.add(entity)
    users = _set_tracking(entity, kind, column, form.tracked_as.data)
    flash(
        f"{entity.name} [{entity.ticker}] counts as {entity.tracked_as} now; "
        f"{users} users are being reconciled.",
        "success",
    )
    return entity


@bp.post("/corporations/<kind>/<int:entity_id>/tracking")
@login_required
@admin_required
def change_tracking(kind, entity_id):
    """Count a corporation or alliance as member or blue, or stop tracking it."""
    model, column = {
        "corporation": (Corporation, Character.corporation_id),
        "alliance": (Alliance, Character.alliance_id),
    }.get(kind, (None, None))
    entity = db.session.get(model, entity_id) if model else None
    if entity is None:
        abort(404)
    form = TrackingForm()
    if not form.validate_on_submit():
        abort(
            400,
            description="The form has expired or holds a choice that does not exist; reload and try again.",
        )
    users = _set_tracking(entity, kind, column, form.tracked_as.data or None)
    what = f"counts as {entity.tracked_as}" if entity.tracked_as else "is no longer tracked"
    flash(f"{entity.name} {what}; {users} users are being reconciled.", "success")
    return redirect(url_for("admin.corporations"))


# Users


@bp.get("/users")
@login_required
@admin_required
def users():
    """Every user with role, state and main character; search and paginate."""
    form = UserSearchForm(request.args)
    query = db.select(User).outerjoin(Character, Character.id == User.main_character_id).order_by(User.id)
    if form.validate():
        if form.q.data:
            like = f"%{form.q.data.strip()}%"
            query = query.where(or_(Character.name.ilike(like), User.username.ilike(like)))
        if form.role.data:
            query = query.where(User.role == form.role.data)
        if form.state.data:
            query = query.where(User.state == form.state.data)
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/users.html", form=form, page=page)


def _user(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _user_page(user, role_form=None, appoint_form=None):
    appoint_form = appoint_form or AppointForm()
    appoint_form.corporation_id.choices = _corp_choices()
    return render_template(
        "admin/user.html",
        user=user,
        role_form=role_form or RoleForm(role=user.role),
        appoint_form=appoint_form,
        action=ActionForm(),
        checking=being_checked([k.id for k in user.keys]),
    )


def _corp_choices():
    corps = tracked_corporations()
    return choices((str(c.id), f"{c.name} [{c.ticker}]") for c in corps)


@bp.get("/users/<int:user_id>")
@login_required
@admin_required
def user(user_id):
    """One user: characters and keys, grants, directorships, role."""
    return _user_page(_user(user_id))


@bp.post("/users/<int:user_id>/role")
@login_required
@admin_required
def change_role(user_id):
    """Make a user a member, a director or an admin."""
    target = _user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(target, role_form=form), 400
    if target.id == current_user.id and form.role.data != "admin":
        form.role.errors.append("You cannot take away your own admin role; ask another admin.")
        return _user_page(target, role_form=form), 400
    before, target.role = target.role, form.role.data
    record("user.role", current_user, target=target, detail=f"{before} -> {target.role}")
    db.session.commit()
    flash(f"{target.display_name} is {'an' if target.role == 'admin' else 'a'} {target.role} now.", "success")
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/users/<int:user_id>/directorships")
@login_required
@admin_required
def appoint(user_id):
    """Appoint a user director of a tracked corporation."""
    target = _user(user_id)
    form = AppointForm()
    form.corporation_id.choices = _corp_choices()
    if not form.validate_on_submit():
        return _user_page(target, appoint_form=form), 400
    corporation = db.session.get(Corporation, int(form.corporation_id.data))
    existing = db.session.scalars(
        db.select(Directorship).filter_by(user_id=target.id, corporation_id=corporation.id)
    ).first()
    if existing is not None:
        form.corporation_id.errors.append(f"{target.display_name} directs {corporation.name} already.")
        return _user_page(target, appoint_form=form), 400
    db.session.add(Directorship(user=target, corporation=corporation, source="appointed"))
    if target.role == "member":
        target.role = "director"
    record(
        "director.appoint", current_user, target=target, detail=f"{corporation.name} [{corporation.ticker}]"
    )
    db.session.commit()
    flash(f"{target.display_name} directs {corporation.name} now.", "success")
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/users/<int:user_id>/directorships/<int:directorship_id>/remove")
@login_required
@admin_required
def dismiss(user_id, directorship_id):
    """End an appointment."""
    require_action_form()
    target = _user(user_id)
    directorship = db.session.get(Directorship, directorship_id)
    if directorship is None or directorship.user_id != target.id:
        abort(404)
    name = directorship.corporation.name
    db.session.delete(directorship)
    db.session.flush()
    if target.role == "director" and not target.directorships:
        target.role = "member"
    record("director.dismiss", current_user, target=target, detail=name)
    db.session.commit()
    flash(f"{target.display_name} no longer directs {name}.", "success")
    return redirect(url_for("admin.user", user_id=target.id))


# Keys


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
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
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
    from app.accounts.auth import safe_next

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
    from tasks.access import enqueue_reconcile

    enqueue_reconcile(owner.id)
    flash(f"The key of {name} was removed{' and revoked at EVE' if revoked else ''}.", "success")
    return _back("admin.keys")


# Audit log


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
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/audit.html", form=form, page=page)
