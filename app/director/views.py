"""Directors see and act on their own corporations only (admins on every tracked one)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import exists, func
from sqlalchemy.orm import selectinload

from app.access.explain import explain_all
from app.access.grants import AccessRefused, grant_manually, revoke_manually
from app.access.models import AccessRequest, Grant
from app.access.requests import decide
from app.accounts.auth import director_required
from app.accounts.models import User
from app.audit import record
from app.corps.directors import directs, is_tracked, tracked_corporations
from app.corps.models import Character, Corporation
from app.director import bp
from app.extensions import db
from app.forms import ActionForm, choices, page_number, require_action_form
from app.keys import revalidation
from app.keys.models import Key
from app.services.forms import DecisionForm, GrantForm, RevokeForm
from app.services.models import Service
from tasks.keys import queue_check
from tasks.services import queue_follow_up

PER_PAGE = 50
FILTERS = {"invalid": "Invalid keys", "nokeys": "No keys", "requests": "Pending requests"}


def _corporation(corporation_id):
    """A tracked corporation the current user directs; 403 for anyone else's."""
    corporation = db.session.get(Corporation, corporation_id)
    if corporation is None or not is_tracked(corporation):
        abort(404)
    if not directs(current_user, corporation.id):
        abort(403)
    return corporation


def _members_query(corporation_id):
    """Users whose main character is in the corporation (an alt there makes nobody a member)."""
    mains = db.select(Character.id).where(Character.corporation_id == corporation_id)
    return db.select(User).where(User.main_character_id.in_(mains))


def _member(corporation, user_id):
    user = db.session.scalars(_members_query(corporation.id).where(User.id == user_id)).first()
    if user is None:
        abort(404)
    return user


def _of_member(corporation, model, row_id):
    """A grant or request of a member of the corporation, with the member; 404 for anyone else's."""
    found = db.session.get(model, row_id)
    if found is None:
        abort(404)
    return found, _member(corporation, found.user_id)


@bp.get("/director/")
@login_required
@director_required
def index():
    """The corporations this user directs."""
    if current_user.is_admin:
        corps = tracked_corporations()
    else:
        corps = [
            d.corporation
            for d in current_user.directorships
            if is_tracked(d.corporation) and directs(current_user, d.corporation_id)
        ]
    if len(corps) == 1:
        return redirect(url_for("director.corporation", corporation_id=corps[0].id))
    return render_template("director/index.html", corps=corps)


def _pending_requests(corporation_id):
    return db.session.scalars(
        db.select(AccessRequest)
        .where(
            AccessRequest.status == "pending",
            AccessRequest.user_id.in_(_members_query(corporation_id).with_only_columns(User.id)),
        )
        .order_by(AccessRequest.created_at)
    ).all()


@bp.get("/director/corporations/<int:corporation_id>")
@login_required
@director_required
def corporation(corporation_id):
    """Every member with key health (naming invalid keys' characters), services and requests."""
    return _corporation_page(_corporation(corporation_id))


def _corporation_page(corp, decision_errors=None, status=200):
    chosen = request.args.get("filter", "")
    query = _members_query(corp.id)
    members_total = db.session.scalar(db.select(func.count()).select_from(query.order_by(None).subquery()))
    if chosen == "invalid":
        query = query.where(exists().where(Key.user_id == User.id, Key.status == "invalid"))
    elif chosen == "nokeys":
        query = query.where(~exists().where(Key.user_id == User.id))
    elif chosen == "requests":
        query = query.where(
            exists().where(AccessRequest.user_id == User.id, AccessRequest.status == "pending")
        )
    else:
        chosen = ""
    query = query.options(
        selectinload(User.characters).selectinload(Character.corporation),
        selectinload(User.characters).selectinload(Character.alliance),
        selectinload(User.keys).selectinload(Key.character),
        selectinload(User.grants),
    ).order_by(User.id)
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE, error_out=False)
    keys_total = db.session.scalar(
        db.select(func.count())
        .select_from(Key)
        .join(Character, Character.id == Key.character_id)
        .where(Character.corporation_id == corp.id)
    )
    return render_template(
        "director/corporation.html",
        corp=corp,
        page=page,
        chosen=chosen,
        filters=FILTERS,
        requests=_pending_requests(corp.id),
        decision=DecisionForm(),
        action=ActionForm(),
        keys_total=keys_total,
        members_total=members_total,
        progress=revalidation.progress(corp.id),
        decision_errors=decision_errors or {},
    ), status


@bp.get("/director/corporations/<int:corporation_id>/members/<int:user_id>")
@login_required
@director_required
def member(corporation_id, user_id):
    """One member: characters and keys, services, and the form to grant one by hand."""
    corp = _corporation(corporation_id)
    user = _member(corp, user_id)
    return _member_page(corp, user, GrantForm())


def _grant_form_choices(form):
    query = db.select(Service).where(Service.enabled.is_(True)).order_by(Service.name)
    if not current_user.is_admin:
        query = query.where(Service.directors_may_grant.is_(True))
    services = db.session.scalars(query).all()
    form.service.choices = choices([("", "Pick a service")] + [(s.slug, s.name) for s in services])
    return form


def _member_page(corp, user, form, status=200, revoke_errors=None):
    _grant_form_choices(form)
    page = render_template(
        "director/member.html",
        corp=corp,
        user=user,
        form=form,
        revoke=RevokeForm(formdata=None),
        revoke_errors=revoke_errors or {},
        explanations=explain_all(user),
    )
    return page, status


@bp.post("/director/corporations/<int:corporation_id>/members/<int:user_id>/grants")
@login_required
@director_required
def grant(corporation_id, user_id):
    """Grant a service by hand, with an optional expiry and reason."""
    corp = _corporation(corporation_id)
    user = _member(corp, user_id)
    form = _grant_form_choices(GrantForm())
    if not form.validate_on_submit():
        return _member_page(corp, user, form, 400)
    service = db.session.scalars(db.select(Service).filter_by(slug=form.service.data, enabled=True)).first()
    try:
        _, follow_up = grant_manually(
            user,
            service,
            current_user,
            expires_at=form.expires_at.moment,
            reason=(form.reason.data or "").strip() or None,
        )
    except AccessRefused as exc:
        db.session.rollback()
        form.service.errors.append(str(exc))
        return _member_page(corp, user, form, 400)
    queue_follow_up(follow_up)
    until = f" until {form.expires_at.moment:%Y-%m-%d %H:%M:%S} UTC" if form.expires_at.moment else ""
    flash(f"{user.display_name} has {service.name}{until}.", "success")
    return redirect(url_for("director.member", corporation_id=corp.id, user_id=user.id))


@bp.post("/director/corporations/<int:corporation_id>/grants/<int:grant_id>/revoke")
@login_required
@director_required
def revoke(corporation_id, grant_id):
    """Revoke a service given by hand."""
    corp = _corporation(corporation_id)
    found, user = _of_member(corp, Grant, grant_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        errors = form.reason.errors or ["The form has expired; reload the page and try again."]
        return _member_page(corp, user, GrantForm(formdata=None), 400, revoke_errors={found.id: errors})
    try:
        _, follow_up = revoke_manually(found, current_user, reason=(form.reason.data or "").strip() or None)
    except AccessRefused as exc:
        db.session.rollback()
        return _member_page(corp, user, GrantForm(formdata=None), 400, revoke_errors={found.id: [str(exc)]})
    queue_follow_up(follow_up)
    flash(f"{found.service.name} was revoked from {user.display_name}.", "success")
    return redirect(url_for("director.member", corporation_id=corp.id, user_id=user.id))


@bp.post("/director/corporations/<int:corporation_id>/requests/<int:request_id>")
@login_required
@director_required
def decide_request(corporation_id, request_id):
    """Approve or deny a member's request."""
    corp = _corporation(corporation_id)
    found, _ = _of_member(corp, AccessRequest, request_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors] or [
            "The form has expired."
        ]
        return _corporation_page(corp, {found.id: errors}, 400)
    approve = form.decision.data == "approve"
    try:
        _, follow_up = decide(
            found,
            current_user,
            approve,
            reason=(form.reason.data or "").strip() or None,
            expires_at=form.expires_at.moment,
        )
    except AccessRefused as exc:
        db.session.rollback()
        return _corporation_page(corp, {found.id: [str(exc)]}, 400)
    queue_follow_up(follow_up)
    verb = "approved" if approve else "denied"
    flash(f"{found.user.display_name}'s request for {found.service.name} was {verb}.", "success")
    return redirect(url_for("director.corporation", corporation_id=corp.id))


# Re-validate all


@bp.post("/director/corporations/<int:corporation_id>/revalidate")
@login_required
@director_required
def revalidate(corporation_id):
    """Queue every key of the corporation's characters at on-demand priority."""
    corp = _corporation(corporation_id)
    require_action_form()
    key_ids = revalidation.start(corp.id)
    for key_id in key_ids:
        queue_check(key_id)
    record(
        "corporation.revalidate",
        current_user,
        target_type="corporation",
        target_id=corp.id,
        detail=f"{len(key_ids)} keys",
    )
    db.session.commit()
    flash(f"{len(key_ids)} keys of {corp.name} are queued for a check.", "info")
    return redirect(url_for("director.corporation", corporation_id=corp.id))


@bp.get("/director/corporations/<int:corporation_id>/progress")
@login_required
@director_required
def progress(corporation_id):
    """The live progress of "Re-validate all" (polled)."""
    corp = _corporation(corporation_id)
    return render_template("director/_progress.html", corp=corp, progress=revalidation.progress(corp.id))
