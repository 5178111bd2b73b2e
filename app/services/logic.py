"""Granting and revoking by hand, access requests and their decisions; every change audited.

Each function changes the database, reconciles the user's grants, commits, and then queues the
syncs that tell the outside systems, so a sync never reads a change that was not committed.
"""

import logging

from redis.exceptions import RedisError

from app.admin.models import record
from app.extensions import db, write_transaction
from app.models import utcnow
from app.services.models import AccessRequest, Grant
from app.services.policy import reconcile_grants

log = logging.getLogger(__name__)


class AccessRefused(Exception):
    """A grant, revoke or request that cannot be done, with a message for the person."""


def queue_syncs(grants):
    """Tell the outside systems (after commit); a Redis outage leaves them for the periodic resync."""
    from tasks.services import enqueue_sync

    for grant in grants:
        try:
            enqueue_sync(grant.id)
        except RedisError as exc:
            log.warning("could not queue the sync of grant %s now: %s", grant.id, exc)


def settle(user):
    """Reconcile a user's grants, commit, and queue the syncs; returns the changed grants."""
    with write_transaction():
        changed = reconcile_grants(user)
    queue_syncs(changed)
    return changed


def _grant_of(user, service):
    return db.session.scalars(
        db.select(Grant).where(Grant.user_id == user.id, Grant.service_id == service.id)
    ).first()


def grant_manually(user, service, actor, expires_at=None, reason=None):
    """Give a user a service by hand (until expires_at, when given)."""
    if not service.enabled:
        raise AccessRefused(f"{service.name} is disabled.")
    if expires_at is not None and expires_at <= utcnow():
        raise AccessRefused("The expiry must be in the future.")
    grant = _grant_of(user, service)
    if grant is None:
        grant = Grant(user=user, service=service, status="pending", source="manual")
        db.session.add(grant)
    grant.source = "manual"
    grant.status = "active" if grant.status == "revoked" else grant.status
    grant.expires_at = expires_at
    grant.reason = reason or f"Granted by {actor.display_name}."
    grant.granted_by = actor
    db.session.flush()
    until = f" until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    record(
        "grant.manual",
        actor,
        target=grant,
        detail=f"{service.slug} for {user.display_name}{until}",
        reason=reason,
    )
    reconcile_grants(user)
    db.session.commit()
    queue_syncs([grant])
    if expires_at is not None:
        _expire_on_time(grant)
    return grant


def _expire_on_time(grant):
    """Settle the grant the moment it expires (the periodic task catches any that are missed)."""
    from tasks.services import expire_grant

    try:
        expire_grant.schedule(args=(grant.id,), eta=grant.expires_at)
    except RedisError as exc:
        log.warning("could not schedule the expiry of grant %s: %s", grant.id, exc)


def revoke_manually(grant, actor, reason=None):
    """End a grant given by hand; a service the user gets automatically stays (its policy decides)."""
    if grant.status == "revoked":
        raise AccessRefused("That grant is revoked already.")
    if grant.source != "manual":
        raise AccessRefused(
            f"{grant.user.display_name} gets {grant.service.name} automatically as a {grant.user.state}; "
            "change the service's policy instead."
        )
    grant.status = "revoked"
    grant.expires_at = None
    grant.reason = reason or f"Revoked by {actor.display_name}."
    grant.sync_status = "pending"
    record(
        "grant.revoked",
        actor,
        target=grant,
        detail=f"{grant.service.slug} for {grant.user.display_name}",
        reason=reason,
    )
    reconcile_grants(grant.user)
    db.session.commit()
    queue_syncs([grant])
    return grant


def request_access(user, service, note=None):
    """A member asks for a service; granted at once when it needs no approval."""
    if not service.enabled:
        raise AccessRefused(f"{service.name} is not available.")
    if user.state == "guest":
        raise AccessRefused(
            "Only members and blues can ask for services: "
            "your main character is not in a tracked corporation."
        )
    grant = _grant_of(user, service)
    if grant is not None and grant.status in ("active", "suspended"):
        raise AccessRefused(f"You have {service.name} already.")
    waiting = db.session.scalars(
        db.select(AccessRequest).where(
            AccessRequest.user_id == user.id,
            AccessRequest.service_id == service.id,
            AccessRequest.status == "pending",
        )
    ).first()
    if waiting is not None:
        raise AccessRefused(f"Your request for {service.name} is waiting for a director already.")
    request = AccessRequest(user=user, service=service, note=note or None)
    db.session.add(request)
    db.session.flush()
    record(
        "request.created", user, target=request, detail=f"{service.slug} for {user.display_name}", reason=note
    )
    if not service.requires_approval:
        request.status = "approved"
        request.decided_at = utcnow()
        request.decision_reason = "No approval needed."
        db.session.flush()
        grant_manually(user, service, user, reason="Requested; no approval needed.")
        return request
    db.session.commit()
    return request


def decide(request, actor, approve, reason=None, expires_at=None):
    """Approve (granting the service) or deny a pending request."""
    if request.status != "pending":
        raise AccessRefused(f"That request was {request.status} already.")
    request.status = "approved" if approve else "denied"
    request.decided_by = actor
    request.decided_at = utcnow()
    request.decision_reason = reason
    who = request.user.display_name
    record(
        f"request.{request.status}",
        actor,
        target=request,
        detail=f"{request.service.slug} for {who}",
        reason=reason,
    )
    if approve:
        grant_manually(
            request.user, request.service, actor, expires_at=expires_at, reason=reason or "Request approved."
        )
    else:
        db.session.commit()
    return request
