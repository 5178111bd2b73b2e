"""The admin dashboard."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app import alerts
from app.accounts.auth import admin_required
from app.admin import bp
from app.admin.guard import incident_guard
from app.audit import record
from app.compliance.report import unread_rosters
from app.extensions import db
from app.forms import require_action_form
from app.imports.progress import progress as import_progress
from app.jobs import monitor
from app.overview import names_of, overview
from app.templating import relative
from tasks import huey
from tasks.ops import send_alert

UPSTREAM_WORDS = {"throttled": "is throttled", "backoff": "is backed off", "paused": "is paused"}


def concerns(health, status, guard_now, unread=()):
    """What needs an admin's attention, in words, most serious first; empty when all is fine.

    unread: names of corporations whose in-game member list cannot be read (a broken tracking token).
    """
    said = []
    for part, down in (("database", "The database is down"), ("redis", "Redis is down")):
        if not health[part]["ok"]:
            said.append(down)
    if guard_now and guard_now.get("open"):
        said.append("Access removals are held by the incident guard")
    if status is None:
        return said
    if status["paused"]:
        said.append(f"All work is paused by {status['paused_by']} {relative(status['paused_since'])}")
    elif not health["consumer"]["ok"]:
        said.append("No consumer is alive: queued work is not being taken")
    dead = status["queue"]["dead"]
    if dead:
        said.append(f"{dead} dead task{'s' if dead != 1 else ''} to retry or discard")
    if not status["paused"]:
        for name, upstream in status["upstreams"].items():
            if upstream["state"] in UPSTREAM_WORDS:
                said.append(f"{name} {UPSTREAM_WORDS[upstream['state']]}")
    if unread:
        more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
        said.append(f"The in-game member list of {unread[0]} cannot be read{more}")
    return said


@bp.route("/")
@login_required
@admin_required
def dashboard():
    """Keys, users, the queue, throughput, consumers and upstreams at a glance."""
    health, healthy = monitor.health()
    status = monitor.status(huey, names_of) if health["redis"]["ok"] else None
    guard_now = incident_guard()
    return render_template(
        "admin/dashboard.html",
        stats=overview(),
        health=health,
        healthy=healthy,
        concerns=concerns(health, status, guard_now, unread_rosters() if health["database"]["ok"] else ()),
        status=status,
        failures=monitor.failures_last_day(),
        spark=monitor.sparkline(status["throughput"]) if status else None,
        imported=import_progress() if health["database"]["ok"] else None,
        alerts_to=alerts.destinations(),
        alert_delivery=alerts.delivery() if health["redis"]["ok"] else {},
    )


@bp.post("/alerts/test")
@login_required
@admin_required
def test_alert():
    """Send a test alert through every channel configured (from the queue, like any alert)."""
    require_action_form()
    to = alerts.destinations()
    if not (to["webhook"] or to["email"]):
        flash("No alert channel is configured: see the Alerts card for the settings.", "error")
        return redirect(url_for("admin.dashboard"))
    send_alert(
        "Bastion: test alert",
        f"A test alert, sent by {current_user.display_name} from the dashboard. Alerts arrive here.",
    )
    record("alerts.test", current_user, target_type="alerts", detail="test alert queued")
    db.session.commit()
    where = " and ".join(filter(None, [to["webhook"], ", ".join(to["email"] or [])]))
    flash(f"A test alert is on its way to {where}.", "success")
    return redirect(url_for("admin.dashboard"))
