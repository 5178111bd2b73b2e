"""Which grants a user should have: from their state, each service's policy and manual grants.

``reconcile_grants`` compares that with the grants there are, changes only what differs, writes
each change to the audit log, and returns the grants whose outside systems must hear of it.
Running it twice changes nothing the second time.
"""

from app.admin.models import record
from app.extensions import db
from app.keys.models import Key
from app.models import utcnow
from app.services.events import identity
from app.services.models import Grant, Service


def invalid_key_character(user):
    """The name of a character of the user whose key is invalid, or None."""
    key = db.session.scalars(
        db.select(Key).where(Key.user_id == user.id, Key.status == "invalid").order_by(Key.id).limit(1)
    ).first()
    return key.character.name if key is not None else None


def manual_in_force(grant, now):
    """A director's or an approved request's grant that has not been revoked and has not expired."""
    return (
        grant is not None
        and grant.source == "manual"
        and grant.status != "revoked"
        and (grant.expires_at is None or grant.expires_at > now)
    )


def desired(user, service, grant, invalid_character, now):
    """(status, source, reason) the grant should have; status None when no grant is needed."""
    manual = manual_in_force(grant, now)
    automatic = user.state in service.auto_state_list and user.is_active_account
    if not (manual or automatic):
        if grant is None or grant.status == "revoked":
            return None, None, None
        if grant.source == "manual" and grant.expires_at is not None and grant.expires_at <= now:
            return "revoked", "manual", "The grant expired."
        return "revoked", grant.source, f"Not given automatically to {user.state}s."
    source = "manual" if manual else "policy"
    if service.strict and invalid_character:
        return "suspended", source, f"The key of {invalid_character} is invalid."
    if manual:
        return "active", source, grant.reason
    return "active", source, f"Given automatically to {user.state}s."


def reconcile_grants(user, now=None):
    """Bring a user's grants in line with policy; returns the grants to sync (caller commits)."""
    now = now or utcnow()
    services = db.session.scalars(
        db.select(Service).where(Service.enabled.is_(True)).order_by(Service.id)
    ).all()
    grants = {g.service_id: g for g in db.session.scalars(db.select(Grant).where(Grant.user_id == user.id))}
    invalid_character = invalid_key_character(user)
    changed = []
    for service in services:
        grant = grants.get(service.id)
        status, source, reason = desired(user, service, grant, invalid_character, now)
        if status is None:
            continue
        if grant is not None and (grant.status, grant.source) == (status, source):
            if source == "policy" and grant.reason != reason:
                grant.reason = reason  # the same access, now for another state
            if status == "active" and grant.provisioned and grant.synced_identity != identity(grant):
                grant.sync_status = "pending"  # the outside system must hear the new name or corporation
                changed.append(grant)
            continue
        if grant is None:
            grant = Grant(user=user, service=service, status=status, source=source, reason=reason)
            db.session.add(grant)
            db.session.flush()
            before = "none"
        else:
            before = grant.status
            grant.status, grant.source = status, source
            if source == "policy" or status == "revoked":
                grant.reason = reason
        grant.sync_status = "pending"
        grant.sync_error = None
        record(
            f"grant.{status}",
            None,
            target=grant,
            detail=f"{service.slug}: {before} -> {status}",
            reason=reason,
        )
        changed.append(grant)
    return changed


def any_service():
    """True when some service is enabled (else there are no grants to reconcile)."""
    return db.session.scalar(db.select(Service.id).where(Service.enabled.is_(True)).limit(1)) is not None


def users_with_expired_grants(now=None):
    """Ids of users holding a manual grant whose time is up."""
    now = now or utcnow()
    return db.session.scalars(
        db.select(Grant.user_id)
        .where(Grant.source == "manual", Grant.status != "revoked", Grant.expires_at <= now)
        .distinct()
    ).all()
