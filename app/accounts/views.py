"""Login and logout."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import bp
from app.accounts.auth import is_safe_next, safe_next
from app.accounts.forms import LoginForm, LogoutForm
from app.accounts.models import User
from app.clock import utcnow
from app.extensions import db


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a local username and password."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET":
        next_arg = request.args.get("next")
        form.next.data = next_arg if is_safe_next(next_arg) else ""
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).filter_by(username=form.username.data.strip()))
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append("Wrong username or password.")
        elif not user.is_active:
            form.username.errors.append("This account is disabled. Ask an admin.")
        else:
            login_user(user, remember=form.remember.data)
            user.last_login_at = utcnow()
            db.session.commit()
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(safe_next(form.next.data))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (a POST with a CSRF token, so no link can sign a user out)."""
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        flash("You are signed out.", "info")
        return redirect(url_for("accounts.login"))
    flash("Your session expired; please try again.", "warning")
    return redirect(url_for("main.index"))
