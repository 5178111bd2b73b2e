"""One sync of one grant: tell its service's outside system what the grant is now.

Active grants are provisioned (or updated when provisioned already); grants that ended are
deprovisioned once. The connector's calls go through the governor of that service, and its
response hook tells that governor how each call went.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from app.access.models import Grant
from app.clock import utcnow
from app.extensions import db
from app.jobs.backoff import retry_delay
from app.jobs.outcome import Outcome
from app.jobs.setup import get_governor
from app.services.connectors import ConnectorError, connector_for
from app.services.events import grant_event, identity


@dataclass
class SyncOutcome(Outcome):
    """A sync's outcome: done, nothing, wait (ask again later), retry (attempt + 1), gone, failed
    (not final: the next change syncs again) or give_up."""

    waiting_since: float | None = None  # with wait: since when the service has held this sync back


def sync_grant(grant_id, attempt=1, waiting_since=None, now=None):
    """Sync one grant now, or say when to try again.

    A sync held back by its service's governor (backing off, paused) waits without spending an
    attempt, but not for ever: it is marked on the grant at once (and counted on the dashboard),
    and after SYNC_MAX_WAIT seconds it fails like any other sync that gave up.
    """
    now = time.time() if now is None else now
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        return SyncOutcome("gone", message="the grant no longer exists")
    service = grant.service
    want = grant.status == "active" and service.enabled
    who = identity(grant)
    if (
        want == grant.provisioned
        and grant.sync_status == "synced"
        and (not want or grant.synced_identity == who)
    ):
        return SyncOutcome("nothing", message="in sync already")
    try:
        connector = connector_for(service)
    except ConnectorError as exc:
        return _failed(grant, str(exc), final=True)
    if connector.calls_out and (want or grant.provisioned):
        reason, wait = get_governor().gate(connector.upstream)
        if reason != "ok":
            return _held_back(grant, connector.upstream, reason, wait, waiting_since, now)
    event = grant_event(grant)
    try:
        if want:
            (connector.update if grant.provisioned else connector.provision)(event)
        elif grant.provisioned:
            connector.deprovision(event)
    except ConnectorError as exc:
        if exc.waiting:
            grant.sync_status, grant.sync_wait = "pending", "member"
            grant.sync_error = f"Waiting: {exc}."
            db.session.commit()
            return SyncOutcome("nothing", message=str(exc))
        max_attempts = current_app.config["VALIDATE_MAX_ATTEMPTS"]
        if exc.transient and attempt < max_attempts:
            grant.sync_error = f"{exc} (attempt {attempt} of {max_attempts}, trying again)"
            grant.sync_wait = None
            db.session.commit()
            config = current_app.config
            delay = (
                exc.retry_after
                if exc.retry_after is not None
                else retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
            )
            return SyncOutcome("retry", delay=delay, message=str(exc))
        return _failed(grant, str(exc), final=exc.transient)
    grant.provisioned = want
    grant.synced_identity = who if want else None
    grant.sync_status = "synced"
    grant.sync_error = grant.sync_wait = None
    grant.synced_at = utcnow()
    db.session.commit()
    return SyncOutcome("done")


def _held_back(grant, upstream, reason, wait, waiting_since, now):
    """The governor holds this sync back: wait (noted on the grant), or give up after too long."""
    waited = 0.0 if waiting_since is None else now - waiting_since
    if waited > current_app.config["SYNC_MAX_WAIT"]:
        return _failed(grant, f"{upstream} held this sync back for {waited:.0f} s ({reason})", final=True)
    if waiting_since is None:
        since = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S")
        grant.sync_error = f"Held back: {upstream} is in {reason} (since {since} UTC)."
        grant.sync_wait = "service"
        db.session.commit()
    return SyncOutcome(
        "wait", delay=max(wait, 0.05), message=f"{upstream}: {reason}", waiting_since=waiting_since or now
    )


def _failed(grant, message, final):
    grant.sync_status = "failed"
    grant.sync_error, grant.sync_wait = message, None
    db.session.commit()
    return SyncOutcome("give_up" if final else "failed", message=message)


RESYNC_AFTER_S = 120
RESYNC_BATCH = 1000


def grants_to_resync(now=None):
    """Ids of grants whose sync should have happened by now (lost with Redis, say), oldest first.

    Grants waiting for the member (to link Discord, say) are left alone.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=RESYNC_AFTER_S)
    return db.session.scalars(
        db.select(Grant.id)
        .where(Grant.sync_status == "pending", Grant.updated_at < cutoff)
        .where(db.or_(Grant.sync_wait.is_(None), Grant.sync_wait != "member"))
        .order_by(Grant.updated_at)
        .limit(RESYNC_BATCH)
    ).all()
