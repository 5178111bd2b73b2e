"""Admin pages for users: search, one user's page, roles and directorships."""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import or_

from app.access.explain import explain_all
from app.accounts import logic as accounts
from app.accounts.auth import admin_required
from app.accounts.models import Directorship, User
from app.admin import bp
from app.admin.forms import AppointForm, RoleForm, UserSearchForm
from app.audit import record
from app.corps.directors import DirectorshipRefused, tracked_corporations
from app.corps.directors import appoint as appoint_director
from app.corps.directors import dismiss as dismiss_director
from app.corps.models import Character, Corporation
from app.extensions import db
from app.forms import ActionForm, choices, page_number, require_action_form
from app.keys.checks import being_checked

PER_PAGE = 50


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
    page = db.paginate(query, page=page_number(), per_page=PER_PAGE, error_out=False)
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
        explanations=explain_all(user),
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


@bp.get("/users/<int:user_id>/access.json")
@login_required
@admin_required
def user_access(user_id):
    """Why the user has or lacks each service, as JSON for tooling."""
    target = _user(user_id)
    return jsonify(
        {
            "user": {"id": target.id, "name": target.display_name, "state": target.state},
            "services": [e.as_json() for e in explain_all(target)],
        }
    )


@bp.post("/users/<int:user_id>/role")
@login_required
@admin_required
def change_role(user_id):
    """Make a user a member, a director or an admin."""
    target = _user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(target, role_form=form), 400
    try:
        accounts.change_role(target, form.role.data, current_user)
    except accounts.RoleRefused as exc:
        form.role.errors.append(str(exc))
        return _user_page(target, role_form=form), 400
    flash(f"{target.display_name} is {'an' if target.role == 'admin' else 'a'} {target.role} now.", "success")
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/users/<int:user_id>/sessions/end")
@login_required
@admin_required
def end_sessions(user_id):
    """Sign a user out everywhere: every session and remember-me cookie of theirs stops working, and
    so do the tokens sites hold for them and their Mumble passwords."""
    require_action_form()
    target = _user(user_id)
    target.sign_out_everywhere()
    record("user.sessions_ended", current_user, target=target)
    db.session.commit()
    flash(f"{target.display_name} is signed out everywhere.", "success")
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
    try:
        appoint_director(target, corporation, current_user)
    except DirectorshipRefused as exc:
        form.corporation_id.errors.append(str(exc))
        return _user_page(target, appoint_form=form), 400
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
    name = dismiss_director(target, directorship, current_user)
    flash(f"{target.display_name} no longer directs {name}.", "success")
    return redirect(url_for("admin.user", user_id=target.id))
