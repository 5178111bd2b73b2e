"""Grants by hand: a director or an admin gives or ends a user's access to a service; audited.

Each function changes the database, reconciles the user's grants and commits; it returns what
must follow (the syncs that tell the outside systems, the moment a grant ends), which its caller
queues, so a sync never reads a change that was not committed.
"""

from app.access import FollowUp, notices
from app.access.explain import summary_of
from app.access.models import Grant
from app.access.policy import facts_about
from app.access.reconcile import reconcile_grants
from app.audit import record
from app.clock import utcnow
from app.extensions import db


class AccessRefused(Exception):
    """A grant, revoke or request that cannot be done, with a message for the person."""


def grant_of(user, service):
    """The user's grant of the service, whatever its status, or None."""
    return db.session.scalars(
        db.select(Grant).where(Grant.user_id == user.id, Grant.service_id == service.id)
    ).first()


def give(user, service, source, by=None, expires_at=None, reason=None, action="grant.manual"):
    """Give a user a service (by hand, or on their request) and reconcile; (grant, follow-up)."""
    if not service.enabled:
        raise AccessRefused(f"{service.name} is disabled.")
    if expires_at is not None and expires_at <= utcnow():
        raise AccessRefused("The expiry must be in the future.")
    grant = grant_of(user, service)
    if grant is None:
        grant = Grant(user=user, service=service, status="pending", source=source)
        db.session.add(grant)
    grant.source = source
    grant.status = "active" if grant.status == "revoked" else grant.status
    grant.expires_at = expires_at
    grant.reason = reason or (f"Granted by {by.display_name}." if by else "Requested.")
    grant.granted_by = by
    grant.revoked_by = None
    db.session.flush()
    until = f" until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    entry = record(
        action,
        by or user,
        target=grant,
        detail=f"{service.slug} for {user.display_name}{until}",
        reason=reason,
    )
    follow_up = reconcile_grants(user)
    entry.detail = f"{entry.detail}. {summary_of(user, service, grant, facts_about(user))}"
    db.session.commit()
    return grant, FollowUp.of([grant], expiring=grant).merge(follow_up)


def grant_manually(user, service, actor, expires_at=None, reason=None):
    """A director or an admin gives a user a service by hand (until expires_at, when given).

    Nobody grants to themselves; directors give only services whose policy lets them.
    Returns (grant, follow-up).
    """
    if actor.id == user.id:
        raise AccessRefused("You cannot give yourself a service; ask another director or an admin.")
    if not actor.is_admin and not service.directors_may_grant:
        raise AccessRefused(f"Directors may not give {service.name} by hand; ask an admin.")
    return give(user, service, "manual", by=actor, expires_at=expires_at, reason=reason)


def revoke_manually(grant, actor, reason=None):
    """End a grant given by hand or on request; a service the user gets automatically stays (its
    policy decides). Asking for it again then needs a director's approval. Returns (grant, follow-up).
    """
    if grant.status == "revoked":
        raise AccessRefused("That grant is revoked already.")
    if grant.source == "policy":
        raise AccessRefused(
            f"{grant.user.display_name} gets {grant.service.name} automatically as a {grant.user.state}; "
            "change the service's policy instead."
        )
    if actor.id == grant.user_id and not actor.is_admin:
        raise AccessRefused("You cannot revoke your own grant here; ask another director or an admin.")
    grant.status = "revoked"
    grant.expires_at = None
    grant.ends_at = grant.ending_reason = None
    notices.resolve(grant)
    grant.reason = reason or f"Revoked by {actor.display_name}."
    grant.revoked_by = actor
    grant.sync_status = "pending"
    entry = record(
        "grant.revoked",
        actor,
        target=grant,
        detail=f"{grant.service.slug} for {grant.user.display_name}",
        reason=reason,
    )
    follow_up = reconcile_grants(grant.user)
    entry.detail = f"{entry.detail}. {summary_of(grant.user, grant.service, grant, facts_about(grant.user))}"
    db.session.commit()
    return grant, FollowUp.of([grant]).merge(follow_up)
