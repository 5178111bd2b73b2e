"""Carrying out what a task body's Outcome (app/jobs/outcome.py) says, the same way for every task."""

from app.jobs.outcome import GIVE_UP, RETRY, WAIT
from tasks.errors import GaveUp
from tasks.history import record_attempt


def follow(task, outcome, attempt, again, settled=None):
    """Do what the outcome asks of the task, and return its action.

    wait: again(attempt, outcome), the same attempt once more; retry: the failed attempt is kept in
    the task's history and again(attempt + 1, outcome); give_up: GaveUp is raised, so the dead store
    keeps the task for a retry by hand. again schedules the task (outcome.delay says when).
    settled(outcome), when given, runs for every outcome but wait (the run did its work), before a
    give_up is raised.
    """
    if outcome.action == WAIT:
        again(attempt, outcome)
        return outcome.action
    if outcome.action == RETRY:
        record_attempt(task, "failed", f"tried again later: {outcome.message}", attempt)
        again(attempt + 1, outcome)
    if settled is not None:
        settled(outcome)
    if outcome.action == GIVE_UP:
        raise GaveUp(outcome.message)
    return outcome.action
