"""The incident guard for admins: what it holds, and Re-check now, Apply and Discard."""

import logging

from flask import flash, g, redirect, render_template, request
from flask_login import current_user, login_required

from app.access import guard, guard_actions
from app.access.explain import explain
from app.accounts.auth import admin_required, safe_next
from app.admin import bp
from app.corps import affiliation
from app.forms import ActionForm, require_action_form
from tasks.access import enqueue_reconcile
from tasks.corps import schedule_affiliation
from tasks.keys import queue_check

log = logging.getLogger(__name__)


def incident_guard():
    """The guard's status, read once per request (the banner, the health badge and the card)."""
    if "incident_guard" not in g:
        try:
            g.incident_guard = guard.status()
        except Exception:  # a banner must never break a page
            g.incident_guard = None
    return g.incident_guard


@bp.app_context_processor
def guard_banner():
    """Every admin page shows the guard when it is open (a red banner)."""
    return {"incident_guard": incident_guard}


@bp.get("/guard")
@login_required
@admin_required
def guard_page():
    """What the guard holds, with each decision's trace, and what an admin may do about it."""
    keys, grants = guard_actions.sample(limit=20)
    traces = {g.id: explain(g.user, g.service, g) for g in grants}
    return render_template(
        "admin/guard.html", state=guard.status(), keys=keys, grants=grants, traces=traces, action=ActionForm()
    )


def _look_up_again(characters):
    """Held characters join the next affiliation round."""
    if characters:
        affiliation.gather(characters)
        schedule_affiliation()


def _back():
    return redirect(safe_next(request.form.get("next"), "admin.guard_page"))


@bp.post("/guard/recheck")
@login_required
@admin_required
def guard_recheck():
    """Check every held key again now, and look held characters up again."""
    require_action_form()
    key_ids, characters = guard_actions.recheck_now(current_user)
    for key_id in key_ids:
        queue_check(key_id)
    _look_up_again(characters)
    flash(f"{len(key_ids)} held keys and {len(characters)} characters are being checked again.", "info")
    return _back()


@bp.post("/guard/apply")
@login_required
@admin_required
def guard_apply():
    """The removals are real: record the held verdicts and let the held removals happen."""
    require_action_form()
    keys, grants, characters, users = guard_actions.apply(current_user)
    for user_id in users:
        enqueue_reconcile(user_id)
    _look_up_again(characters)
    flash(
        f"Applied: {keys} keys are invalid, {grants} held removals go ahead, "
        f"{len(characters)} characters are looked up again.",
        "warning",
    )
    return _back()


@bp.post("/guard/discard")
@login_required
@admin_required
def guard_discard():
    """What is held was spurious: drop it; keys keep their status, grants stay."""
    require_action_form()
    keys, grants, characters = guard_actions.discard(current_user)
    flash(f"Discarded: {keys} held verdicts, {grants} held removals and {characters} held moves.", "success")
    return _back()
