"""One sync of one grant: tell its service's outside system what the grant is now.

Active grants are provisioned (or updated when provisioned already); grants that ended are
deprovisioned once. The connector's calls go through the governor of that service.
"""

from dataclasses import dataclass

from flask import current_app

from app.extensions import db
from app.jobs.setup import get_governor
from app.keys.cadence import retry_delay
from app.models import utcnow
from app.services.connectors import ConnectorError, connector_for
from app.services.events import grant_event, identity
from app.services.models import Grant


@dataclass
class SyncOutcome:
    """done, nothing, wait (delay: ask again later), retry (delay, attempt + 1), gone, give_up."""

    action: str
    delay: float = 0.0
    message: str = ""


def sync_grant(grant_id, attempt=1):
    """Sync one grant now, or say when to try again."""
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
            return SyncOutcome("wait", delay=max(wait, 0.05), message=f"{connector.upstream}: {reason}")
    event = grant_event(grant)
    governor = get_governor()
    try:
        if want:
            (connector.update if grant.provisioned else connector.provision)(event)
        elif grant.provisioned:
            connector.deprovision(event)
    except ConnectorError as exc:
        if exc.waiting:
            grant.sync_status = "pending"
            grant.sync_error = f"Waiting: {exc}."
            db.session.commit()
            return SyncOutcome("nothing", message=str(exc))
        if connector.calls_out and not connector.observes_itself:
            if exc.status == 429:
                governor.record(connector.upstream, "429", exc.retry_after or 1.0)
            elif exc.transient:
                governor.record(connector.upstream, "5xx")
        max_attempts = current_app.config["VALIDATE_MAX_ATTEMPTS"]
        if exc.transient and attempt < max_attempts:
            grant.sync_error = f"{exc} (attempt {attempt} of {max_attempts}, trying again)"
            db.session.commit()
            config = current_app.config
            delay = (
                exc.retry_after
                if exc.retry_after is not None
                else retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
            )
            return SyncOutcome("retry", delay=delay, message=str(exc))
        return _failed(grant, str(exc), final=exc.transient)
    if connector.calls_out and not connector.observes_itself and (want or grant.provisioned):
        governor.record(connector.upstream, "ok")
    grant.provisioned = want
    grant.synced_identity = who if want else None
    grant.sync_status = "synced"
    grant.sync_error = None
    grant.synced_at = utcnow()
    db.session.commit()
    return SyncOutcome("done")


def _failed(grant, message, final):
    grant.sync_status = "failed"
    grant.sync_error = message
    db.session.commit()
    return SyncOutcome("give_up" if final else "failed", message=message)
