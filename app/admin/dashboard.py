"""The admin dashboard."""

from flask import render_template
from flask_login import login_required

from app.accounts.auth import admin_required
from app.admin import bp
from app.jobs import monitor
from tasks import huey


@bp.route("/")
@login_required
@admin_required
def dashboard():
    """Keys, users, the queue, throughput, consumers and upstreams at a glance."""
    health, healthy = monitor.health()
    status = monitor.status(huey) if health["redis"]["ok"] else None
    return render_template(
        "admin/dashboard.html",
        stats=monitor.overview(),
        health=health,
        healthy=healthy,
        status=status,
        failures=monitor.failures_last_day(),
        spark=monitor.sparkline(status["throughput"]) if status else None,
    )
