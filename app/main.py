"""The home page, and its standing panel that follows a new member's checks as they are decided."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.keys.checks import standing_settles
from app.services.steps import next_steps

bp = Blueprint("main", __name__)


def _standing_context():
    """The member's keys and whether their standing is still being decided: a key waits for its
    check, or was checked after the member's grants were last worked out."""
    keys, settling = standing_settles(current_user)
    main = current_user.main_character
    main_key = next((k for k in keys if main is not None and k.character_id == main.id), None)
    return {
        "keys": keys,
        "settling": settling,
        "main": main,
        "main_key": main_key,
        "steps": [] if settling else next_steps(current_user),
    }


@bp.route("/")
@login_required
def index():
    """Admins land on the dashboard; members on their own overview."""
    if current_user.is_admin:
        return redirect(url_for("admin.dashboard"))
    return render_template("main/index.html", **_standing_context())


@bp.get("/standing")
@login_required
def standing():
    """The standing panel alone, polled by the home page while it is being decided."""
    return render_template("main/_standing.html", **_standing_context())
