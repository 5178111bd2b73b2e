"""The home page."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index():
    """Admins land on the dashboard; members on their own overview."""
    if current_user.is_admin:
        return redirect(url_for("admin.dashboard"))
    return render_template("main/index.html")
