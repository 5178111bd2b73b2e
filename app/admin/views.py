"""The admin dashboard."""

from flask import render_template
from flask_login import login_required

from app.accounts.auth import admin_required
from app.admin import bp
from app.admin import queue as q
from app.admin.stats import overview
from app.health import check_health


@bp.route("/")
@login_required
@admin_required
def dashboard():
    """Keys, users, the queue, throughput, consumers and upstreams at a glance."""
    health, healthy = check_health()
    status = q.status() if health["redis"]["ok"] else None
    return render_template(
        "admin/dashboard.html",
        stats=overview(),
        health=health,
        healthy=healthy,
        status=status,
        failures=q.failures_last_day(),
        spark=q.sparkline(status["throughput"]) if status else None,
    )
