"""My keys: the member's characters and the health of each key."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.access.reconcile import reconcile_user
from app.accounts.sso_views import start_flow
from app.compliance.nudge import missing_characters
from app.corps.models import Character
from app.extensions import db
from app.forms import ActionForm, require_action_form
from app.keys import bp
from app.keys.checks import being_checked
from app.keys.logic import KeyRefused, NotYours, release_character, remove_key, set_main, user_keys
from app.keys.models import Key
from tasks.keys import queue_check
from tasks.services import queue_follow_up


@bp.get("/keys")
@login_required
def index():
    """Every character of the member with its key's status, reason and check times."""
    characters = user_keys(current_user)
    keys = [c.key.id for c in characters if c.key is not None]
    return render_template(
        "keys/index.html",
        characters=characters,
        form=ActionForm(),
        checking=being_checked(keys),
        expected=missing_characters(current_user.id),
    )


@bp.get("/characters/<int:character_id>/row")
@login_required
def row(character_id):
    """One row of My keys, polled while its key is being checked so the verdict shows without a reload."""
    character = db.session.get(Character, character_id)
    if character is None or character.user_id != current_user.id:
        abort(404)
    checking = being_checked([character.key.id]) if character.key else set()
    return render_template("keys/_row.html", c=character, form=ActionForm(), checking=checking)


@bp.post("/keys/<int:key_id>/check")
@login_required
def recheck(key_id):
    """Check a key now, ahead of the periodic sweep."""
    _checked_form()
    key = _own_key(key_id)
    if queue_check(key.id):
        flash(f"The key of {key.character.name} is being checked.", "info")
    else:
        flash(f"A check of {key.character.name} is already on its way.", "info")
    return redirect(url_for("keys.index"))


@bp.get("/keys/add")
@login_required
def add():
    """Add a character: send the member to EVE SSO with the key scopes."""
    return start_flow("add_key")


def _own_key(key_id):
    """One of the member's own keys; 404 for anyone else's, so ids reveal nothing."""
    key = db.session.get(Key, key_id)
    if key is None or key.user_id != current_user.id:
        abort(404)
    return key


def _checked_form():
    require_action_form("The form was out of date. Reload the page and try again.")


@bp.post("/keys/<int:key_id>/remove")
@login_required
def remove(key_id):
    """Remove one of the member's keys and revoke it at EVE SSO."""
    _checked_form()
    key = _own_key(key_id)
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


def _change_own_character(change, character_id, done):
    """Apply a change to one of the member's characters, then reconcile their standing (the main
    decides it; a hostile alt gone may lift a suspension). 404 for anyone else's character."""
    _checked_form()
    try:
        character = change(current_user, character_id)
    except NotYours:
        db.session.rollback()
        abort(404)
    except KeyRefused as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("keys.index"))
    db.session.commit()
    queue_follow_up(reconcile_user(current_user.id).follow_up)
    flash(done.format(name=character.name), "success")
    return redirect(url_for("keys.index"))


@bp.post("/characters/<int:character_id>/main")
@login_required
def make_main(character_id):
    """Make one of the member's characters their main."""
    return _change_own_character(set_main, character_id, "{name} is now your main character.")


@bp.post("/characters/<int:character_id>/release")
@login_required
def release(character_id):
    """Take a character without a key off the member's account."""
    return _change_own_character(release_character, character_id, "{name} is no longer on your account.")
