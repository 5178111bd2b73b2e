"""Compliance tasks: read a corporation's in-game members, and remind members to register."""

import logging

from flask import current_app

from app.compliance import nudge
from app.compliance import roster as rosters
from app.jobs import markers
from app.jobs.backoff import retry_delay
from app.jobs.connection import get_redis
from tasks import PRIORITY_DEFAULT, app_task
from tasks.access import enqueue_reconcile
from tasks.errors import checked_id
from tasks.history import record_attempt
from tasks.keys import queue_check

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
    outcome = rosters.refresh(corporation_id, force=bool(force))
    log.info("task %s compliance.roster(%s): %s %s", task.id, corporation_id, outcome.action, outcome.message)
    config = current_app.config
    if outcome.action == "wait":
        markers.renew(redis, ROSTER, corporation_id, ttl=600)
        read_roster.schedule(
            args=(corporation_id, attempt, force), delay=outcome.delay, priority=task.priority
        )
        return outcome.action
    if outcome.action == "retry" and attempt < config["VALIDATE_MAX_ATTEMPTS"]:
        record_attempt(task, "failed", f"tried again later: {outcome.message}", attempt)
        markers.renew(redis, ROSTER, corporation_id, ttl=600)
        delay = retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
        read_roster.schedule(args=(corporation_id, attempt + 1, force), delay=delay, priority=task.priority)
        return outcome.action
    if outcome.action == "need_token" and attempt < TOKEN_WAITS:
        # A check of the key keeps a fresh access token; this reading waits for it.
        if attempt % 5 == 1:
            queue_check(outcome.key_id)
        markers.renew(redis, ROSTER, corporation_id, ttl=600)
        read_roster.schedule(
            args=(corporation_id, attempt + 1, force), delay=TOKEN_WAIT_S, priority=task.priority
        )
        return "waiting for a fresh access token"
    markers.clear(redis, ROSTER, corporation_id)
    if outcome.action == "need_token":
        rosters.no_access_token(corporation_id)
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
    if delivery.action in ("wait", "retry"):
        if delivery.action == "retry":
            record_attempt(task, "failed", f"tried again later: {delivery.message}", attempt)
        send_nudge.schedule(
            args=(corporation_id, user_id, attempt + (delivery.action == "retry")),
            delay=delivery.delay,
            priority=task.priority,
        )
    return delivery.message
