"""Compliance tasks: read a corporation's in-game members, and remind members to register."""

import logging

from app.compliance import nudge
from app.compliance import roster as rosters
from app.jobs import markers
from app.jobs.connection import get_redis
from app.jobs.outcome import DONE, RUNS_AGAIN, WAIT, Outcome
from tasks import PRIORITY_DEFAULT, app_task
from tasks.access import enqueue_reconcile
from tasks.errors import checked_id
from tasks.keys import queue_check
from tasks.outcomes import follow

log = logging.getLogger(__name__)

ROSTER = "compliance.roster"
TOKEN_WAITS = 15  # readings that wait for a key check to bring a fresh access token
TOKEN_WAIT_S = 2.0


def queue_roster(corporation_id, force=False, priority=PRIORITY_DEFAULT):
    """Queue a reading of the corporation's members unless one is queued already."""
    if markers.claim(get_redis(), ROSTER, corporation_id, ttl=600):
        read_roster(corporation_id, force=force, priority=priority)
        return True
    return False


@app_task(name="compliance.roster", target="corporation", context=True)
def read_roster(corporation_id, attempt=1, force=False, task=None):
    """Read one corporation's in-game members with its tracking token."""
    corporation_id = checked_id(corporation_id, "corporation_id")
    attempt = checked_id(attempt, "attempt")
    redis = get_redis()
    outcome = rosters.refresh(corporation_id, force=bool(force), attempt=attempt)
    log.info("task %s compliance.roster(%s): %s %s", task.id, corporation_id, outcome.action, outcome.message)

    def again(next_attempt, outcome):
        markers.renew(redis, ROSTER, corporation_id, ttl=600)
        read_roster.schedule(
            args=(corporation_id, next_attempt, force), delay=outcome.delay, priority=task.priority
        )

    if outcome.action == rosters.NEED_TOKEN:
        if attempt < TOKEN_WAITS:
            # A check of the key keeps a fresh access token; this reading waits for it.
            if attempt % 5 == 1:
                queue_check(outcome.key_id)
            again(attempt + 1, Outcome(WAIT, delay=TOKEN_WAIT_S))
            return "waiting for a fresh access token"
        rosters.no_access_token(corporation_id)
        outcome = rosters.Reading(DONE, message=outcome.message)
    if follow(task, outcome, attempt, again) in RUNS_AGAIN:
        return outcome.action
    markers.clear(redis, ROSTER, corporation_id)
    for user_id in outcome.users:
        enqueue_reconcile(user_id)
    return outcome.message


@app_task(name="compliance.sweep", context=True)
def sweep(task=None):
    """Queue a reading of every corporation whose member list expired or failed."""
    due = rosters.due_corporations()
    for corporation_id in due:
        queue_roster(corporation_id)
    log.info("task %s compliance.sweep: %s corporations due", task.id, len(due))
    return len(due)


def queue_nudges(corporation_id):
    """Queue a reminder for each member Discord can reach (once a day each); (queued, reach)."""
    reached = nudge.reach(corporation_id)
    queued = 0
    for user_id in reached.users:
        if nudge.claim(corporation_id, user_id):
            send_nudge(corporation_id, user_id)
            queued += 1
    return queued, reached


@app_task(name="compliance.nudge", target="user", context=True)
def send_nudge(corporation_id, user_id, attempt=1, task=None):
    """Remind one member by Discord direct message to register their corporation's characters."""
    corporation_id = checked_id(corporation_id, "corporation_id")
    user_id = checked_id(user_id, "user_id")
    delivery = nudge.send(corporation_id, user_id, attempt)

    def again(next_attempt, outcome):
        send_nudge.schedule(
            args=(corporation_id, user_id, next_attempt), delay=outcome.delay, priority=task.priority
        )

    follow(task, delivery, attempt, again)
    return delivery.message
