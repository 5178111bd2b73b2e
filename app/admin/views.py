"""The admin dashboard."""

from flask import render_template
from flask_login import login_required

from app.accounts.auth import admin_required
from app.admin import bp
from app.admin.stats import overview
from app.health import check_health


@bp.route("/")
@login_required
@admin_required
def dashboard():
    """Keys by status, users by state and the health of every part."""
    health, healthy = check_health()
    return render_template("admin/dashboard.html", stats=overview(), health=health, healthy=healthy)
