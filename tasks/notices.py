"""Notice tasks: tell a member by Discord direct message that access is about to end, and again
shortly before it does."""

import logging

from app.access.notices import deliver
from tasks import PRIORITY_DEFAULT, app_task
from tasks.errors import TaskArgumentError, checked_id
from tasks.outcomes import follow

log = logging.getLogger(__name__)

STAGES = ("first", "reminder")


@app_task(name="notices.message", target="notice", context=True)
def message(notice_id, stage="first", attempt=1, task=None):
    """Send one notice by direct message (a reminder shows it in the app again, too)."""
    notice_id = checked_id(notice_id, "notice_id")
    attempt = checked_id(attempt, "attempt")
    if stage not in STAGES:
        raise TaskArgumentError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    outcome = deliver(notice_id, stage, attempt)
    log.debug(
        "task %s notices.message(%s, %s): %s %s", task.id, notice_id, stage, outcome.action, outcome.message
    )

    def again(next_attempt, outcome):
        message.schedule(
            args=(notice_id,),
            kwargs={"stage": stage, "attempt": next_attempt},
            delay=outcome.delay,
            priority=task.priority if task.priority is not None else PRIORITY_DEFAULT,
        )

    return follow(task, outcome, attempt, again)
