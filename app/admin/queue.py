"""The live queue page, its JSON twin, and the actions on dead tasks and the whole queue.

Every action is a POST with a CSRF token, admin only, and written to the audit log.
"""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.auth import admin_required, safe_next
from app.admin import bp
from app.audit import record
from app.extensions import db
from app.forms import ActionForm, page_number, require_action_form
from app.jobs import deadstore, monitor, pause
from app.jobs.connection import get_redis
from app.jobs.models import TaskRecord
from app.overview import names_of
from tasks import PRIORITY_ON_DEMAND, huey, requeue
from tasks import periodic as _every_task  # noqa: F401  (registers every task, to read scheduled ones)
from tasks.keys import sweep

HISTORY_SHOWN = 50


def _panel_context():
    return {
        "status": monitor.status(huey, names_of),
        "scheduled": monitor.scheduled(huey, names_of),
        "dead": monitor.dead_page(huey, names_of, page_number()),
        "form": ActionForm(),
        "priority_names": huey.priority_names,
    }


@bp.get("/queue")
@login_required
@admin_required
def queue():
    """The live queue: pending, scheduled, running, locks, governors, dead tasks, pause switch."""
    return render_template("admin/queue.html", **_panel_context())


@bp.get("/queue/panel")
@login_required
@admin_required
def queue_panel():
    """The live part of the queue page, polled by the page."""
    return render_template("admin/_queue_panel.html", **_panel_context())


@bp.get("/queue/status")
@login_required
@admin_required
def queue_status():
    """The queue's state as JSON, for scripts."""
    return jsonify(monitor.status(huey, names_of))


@bp.get("/queue/dead/<dead_id>")
@login_required
@admin_required
def dead_task(dead_id):
    """One dead task: its arguments, traceback and the history of its attempts."""
    entry = deadstore.get(get_redis(), dead_id)
    if entry is None:
        flash("That task is no longer in the dead list: it was retried or discarded.", "info")
        return redirect(url_for("admin.queue"))
    entry["task"] = huey.short_name(entry["name"])
    monitor.named([entry], names_of)
    history = db.session.scalars(
        db.select(TaskRecord)
        .where(TaskRecord.name == entry["name"], TaskRecord.target == entry["target"])
        .order_by(TaskRecord.finished_at.desc(), TaskRecord.id.desc())
        .limit(HISTORY_SHOWN)
    ).all()
    return render_template("admin/dead_task.html", entry=entry, history=history, form=ActionForm())


def _back():
    return redirect(safe_next(request.form.get("next"), default="admin.queue"))


def _take_dead(dead_id, to_run=False):
    """Take a dead task out of the store (after the form's check); None, said, when it is gone, or,
    to_run, when it is a message this version cannot run (it stays, to be discarded)."""
    require_action_form()
    if to_run:
        waiting = deadstore.get(get_redis(), dead_id)
        if waiting is not None and not deadstore.runnable(waiting):
            flash(
                f"{huey.short_name(waiting['name'])} was a message this version cannot run "
                "(undecodable, or a task it does not know); it can only be discarded.",
                "warning",
            )
            return None
    entry = deadstore.take(get_redis(), dead_id)
    if entry is None:
        flash("That task is no longer in the dead list: it was retried or discarded already.", "info")
    return entry


@bp.post("/queue/dead/<dead_id>/retry")
@login_required
@admin_required
def retry_dead(dead_id):
    """Run a dead task again, with the same name and arguments."""
    entry = _take_dead(dead_id, to_run=True)
    if entry is None:
        return _back()
    requeue(entry)
    task = huey.short_name(entry["name"])
    db.session.add(
        TaskRecord(
            task_id=entry.get("task_id") or dead_id,
            name=entry["name"],
            target=(entry.get("target") or "")[:64],
            outcome="retried",
            attempt=entry.get("attempts") or 1,
            worker=current_user.display_name[:128],
        )
    )
    detail = f"{task} {entry['target']}"
    record("task.retry", current_user, target_type="task", target_id=dead_id, detail=detail)
    db.session.commit()
    flash(f"{task} for {entry['target']} is queued again.", "success")
    return redirect(url_for("admin.queue"))


@bp.post("/queue/dead/retry-all")
@login_required
@admin_required
def retry_all_dead():
    """Run every dead task again."""
    require_action_form()
    count = deadstore.retry_all(get_redis(), requeue)
    record("task.retry_all", current_user, target_type="queue", detail=f"{count} dead tasks queued again")
    db.session.commit()
    plural = "s" if count != 1 else ""
    left = deadstore.count(get_redis())
    if count or not left:
        flash(f"{count} dead task{plural} queued again." if count else "There were no dead tasks.", "success")
    if left:
        flash(f"{left} left that this version cannot run; read and discard them.", "warning")
    return _back()


@bp.post("/queue/dead/<dead_id>/discard")
@login_required
@admin_required
def discard_dead(dead_id):
    """Forget a dead task without running it."""
    entry = _take_dead(dead_id)
    if entry is None:
        return redirect(url_for("admin.queue"))
    task = huey.short_name(entry["name"])
    detail = f"{task} {entry['target']}"
    record("task.discard", current_user, target_type="task", target_id=dead_id, detail=detail)
    db.session.commit()
    flash(f"{task} for {entry['target']} was discarded.", "success")
    return redirect(url_for("admin.queue"))


@bp.post("/queue/pause")
@login_required
@admin_required
def pause_queue():
    """Stop every upstream call and the sweeps; queued work waits."""
    require_action_form()
    pause.pause(get_redis(), who=current_user.display_name)
    record("queue.pause", current_user, target_type="queue")
    db.session.commit()
    flash("Paused: no call goes to EVE or Discord until you resume.", "warning")
    return _back()


@bp.post("/queue/resume")
@login_required
@admin_required
def resume_queue():
    """Let work flow again."""
    require_action_form()
    pause.resume(get_redis())
    record("queue.resume", current_user, target_type="queue")
    db.session.commit()
    flash("Resumed: waiting work continues.", "success")
    return _back()


@bp.post("/queue/sweep")
@login_required
@admin_required
def sweep_now():
    """Queue a sweep of due keys now, ahead of its schedule."""
    require_action_form()
    sweep(priority=PRIORITY_ON_DEMAND)
    record("queue.sweep", current_user, target_type="queue")
    db.session.commit()
    flash("A sweep of due keys is queued.", "success")
    return _back()
