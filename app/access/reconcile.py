"""Reconciliation: bring a user's state, then their grants, in line with the facts; idempotent.

``reconcile_grants`` compares what policy and grants by hand call for with the grants there are,
changes only what differs, writes each change to the audit log, and returns the grants whose
outside systems must hear of it. Running it twice changes nothing the second time.
"""

from typing import NamedTuple

from app.access import FollowUp
from app.access.models import Grant
from app.access.policy import desired, facts_about
from app.access.state import reconcile_states
from app.accounts.models import User
from app.admin.models import record
from app.clock import utcnow
from app.extensions import db, write_transaction
from app.services.events import identity
from app.services.models import Service


class Reconciled(NamedTuple):
    """A user's state after reconciliation (None when the user is gone), and what must follow."""

    state: str | None
    follow_up: FollowUp


def reconcile_grants(user, now=None):
    """Bring a user's grants in line with policy; returns the grants to sync (caller commits)."""
    now = now or utcnow()
    services = db.session.scalars(
        db.select(Service).where(Service.enabled.is_(True)).order_by(Service.id)
    ).all()
    grants = {g.service_id: g for g in db.session.scalars(db.select(Grant).where(Grant.user_id == user.id))}
    facts = facts_about(user)
    changed = []
    for service in services:
        grant = grants.get(service.id)
        status, source, reason = desired(user, service, grant, facts, now)
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


def reconcile_user_grants(user):
    """Reconcile a user's grants and commit; returns what must follow (the syncs of changed grants)."""
    with write_transaction():
        changed = reconcile_grants(user)
    return FollowUp.of(changed)


def reconcile_user(user_id):
    """Bring one user's state, then their grants, in line, committed; the state and what must follow."""
    with write_transaction() as session:
        state = reconcile_states(session.connection(), [user_id]).get(user_id)
    if state is None:
        return Reconciled(None, FollowUp())
    db.session.expire_all()
    return Reconciled(state, reconcile_user_grants(db.session.get(User, user_id)))


def users_with_expired_grants(now=None):
    """Ids of users holding a grant by hand or on request whose time is up."""
    now = now or utcnow()
    return db.session.scalars(
        db.select(Grant.user_id)
        .where(Grant.source != "policy", Grant.status != "revoked", Grant.expires_at <= now)
        .distinct()
    ).all()


def active_user_ids():
    """Ids of every active user (a policy change reconciles them all)."""
    user_ids = db.session.scalars(db.select(User.id).where(User.is_active_account.is_(True))).all()
    db.session.commit()
    return user_ids
