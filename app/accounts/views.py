"""Login and logout."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts import bp
from app.accounts.auth import end_browser_session, greet, safe_return, start_session
from app.accounts.forms import LoginForm, LogoutForm
from app.accounts.limits import (
    audit_breach,
    dummy_password_check,
    limiter,
    per_address,
    per_username,
    username_key,
)
from app.accounts.models import User
from app.audit import record
from app.clock import utcnow
from app.extensions import db


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(per_address, methods=["POST"], on_breach=audit_breach)
@limiter.limit(per_username, key_func=username_key, methods=["POST"], on_breach=audit_breach)
def login():
    """Sign in with a local username and password."""
    if current_user.is_authenticated:
        return redirect(safe_return(request.args.get("next"), request.args.get("rd")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next") or ""
        form.rd.data = request.args.get("rd") or ""
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).filter_by(username=form.username.data.strip()))
        if user is None:
            dummy_password_check(form.password.data)  # as slow as a wrong password
            form.password.errors.append("Wrong username or password.")
        elif not user.check_password(form.password.data):
            form.password.errors.append("Wrong username or password.")
        elif not user.is_active:
            form.username.errors.append("This account is disabled. Ask an admin.")
        else:
            target = safe_return(form.next.data, form.rd.data)
            # Admins are never remembered: their sessions end with the browser.
            start_session(user, remember=bool(form.remember.data) and not user.is_admin)
            user.last_login_at = utcnow()
            db.session.commit()
            greet(target, f"Welcome back, {user.display_name}.")
            return redirect(target)
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (a POST with a CSRF token, so no link can sign a user out)."""
    form = LogoutForm()
    if form.validate_on_submit():
        user = db.session.get(User, current_user.id)
        user.end_sessions()  # a copied session or remember-me cookie stops working too
        record("user.logout", user, target=user)
        db.session.commit()
        end_browser_session()
        flash("You are signed out.", "info")
        return redirect(url_for("accounts.login"))
    flash("Your session expired; please try again.", "warning")
    return redirect(url_for("main.index"))


@bp.post("/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """A member ends every session of theirs, the tokens sites hold for them and their Mumble
    passwords (a lost laptop, a shared computer); this browser is signed out too."""
    form = LogoutForm()
    if not form.validate_on_submit():
        flash("Your session expired; please try again.", "warning")
        return redirect(url_for("services.index"))
    user = db.session.get(User, current_user.id)
    user.sign_out_everywhere()
    record("user.signed_out_everywhere", user, target=user)
    db.session.commit()
    end_browser_session()
    flash(
        "You are signed out everywhere: every browser, every site that signs in through Bastion, "
        "and your Mumble password (make a new one on My services).",
        "info",
    )
    return redirect(url_for("accounts.login"))
