"""The history of a task's attempts, kept in the database for the dead task's page: every failed
attempt, whether the task raised or asked to be tried again later."""

import logging
from datetime import timedelta

from app.clock import utcnow
from app.extensions import write_transaction
from app.jobs.models import TaskRecord
from tasks import _task_app, registry_name, target_of, worker_name

log = logging.getLogger(__name__)


def record_attempt(task, outcome, error, attempt, seconds=None):
    """Keep one failed attempt (``failed``, ``dead``); the history is a courtesy, never an error."""
    try:
        with _task_app().app_context(), write_transaction() as session:
            finished = utcnow()
            session.add(
                TaskRecord(
                    task_id=task.id,
                    name=registry_name(task),
                    target=target_of(task)[:64],
                    outcome=outcome,
                    attempt=attempt,
                    worker=worker_name()[:128],
                    error=(error or "")[:2000],
                    started_at=finished - timedelta(seconds=seconds or 0),
                    finished_at=finished,
                    duration_ms=None if seconds is None else int(seconds * 1000),
                )
            )
    except Exception:
        log.warning("could not record an attempt of task %s", task.id, exc_info=True)
