"""My keys: the member's characters and the health of each key."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.accounts.sso import start_flow
from app.extensions import db
from app.keys import bp
from app.keys.forms import ActionForm
from app.keys.logic import KeyRefused, remove_key, set_main, user_keys
from app.keys.models import Key


@bp.get("/keys")
@login_required
def index():
    """Every character of the member with its key's status, reason and check times."""
    return render_template("keys/index.html", characters=user_keys(current_user), form=ActionForm())


@bp.get("/keys/add")
@login_required
def add():
    """Add a character: send the member to EVE SSO with the key scopes."""
    return start_flow("add_key")


def _checked_form():
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, "The form was out of date. Reload the page and try again.")


@bp.post("/keys/<int:key_id>/remove")
@login_required
def remove(key_id):
    """Remove one of the member's keys and revoke it at EVE SSO."""
    _checked_form()
    key = db.session.get(Key, key_id)
    if key is None or key.user_id != current_user.id:
        abort(404)
    name = key.character.name
    try:
        revoked = remove_key(current_user, key)
    except KeyRefused as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("keys.index"))
    db.session.commit()
    if revoked:
        flash(f"The key of {name} was removed and revoked at EVE.", "success")
    else:
        flash(
            f"The key of {name} was removed. EVE could not be reached to revoke it; "
            "you can also revoke it on EVE's third-party applications page.",
            "warning",
        )
    return redirect(url_for("keys.index"))


@bp.post("/characters/<int:character_id>/main")
@login_required
def make_main(character_id):
    """Make one of the member's characters their main."""
    _checked_form()
    try:
        character = set_main(current_user, character_id)
    except KeyRefused:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(f"{character.name} is now your main character.", "success")
    return redirect(url_for("keys.index"))
