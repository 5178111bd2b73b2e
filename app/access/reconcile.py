"""Reconciliation: bring a user's state, then their grants, in line with the facts; idempotent.

``reconcile_grants`` compares what policy and grants by hand call for with the grants there are,
changes only what differs, writes each change to the audit log, and returns the grants whose
outside systems must hear of it. Running it twice changes nothing the second time.
"""

from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app

from app.access import FollowUp, guard, notices
from app.access.explain import remedy, summary_of
from app.access.models import Grant
from app.access.policy import any_service, desired, facts_about
from app.access.state import reconcile_states
from app.accounts.models import User
from app.audit import record
from app.clock import utcnow
from app.extensions import db, write_transaction
from app.keys.models import Key
from app.services.events import identity
from app.services.models import Service


class Reconciled(NamedTuple):
    """A user's state after reconciliation (None when the user is gone), and what must follow."""

    state: str | None
    follow_up: FollowUp


REMOVED = ("suspended", "revoked")


def reconcile_grants(user, now=None):
    """Bring a user's grants in line with policy; returns what must follow (caller commits).

    A removal that a key or an alt causes waits out ACCESS_GRACE first: the grant stays active
    with ``ends_at`` set and the member is told; fixing the cause in time cancels it. A removal the
    main character's corporation or someone's decision causes happens at once.
    """
    now = now or utcnow()
    grace = current_app.config["ACCESS_GRACE"]
    services = db.session.scalars(
        db.select(Service).where(Service.enabled.is_(True)).order_by(Service.id)
    ).all()
    grants = {g.service_id: g for g in db.session.scalars(db.select(Grant).where(Grant.user_id == user.id))}
    facts = facts_about(user)
    follow_up = FollowUp()
    changed = []
    for service in services:
        grant = grants.get(service.id)
        decision = desired(user, service, grant, facts, now)
        status, source, reason = decision.status, decision.source, decision.reason
        if status is None or decision.cause == "stale":
            continue
        removing = grant is not None and grant.status == "active" and status in REMOVED
        if removing and decision.graceful and grace > 0 and (grant.ends_at is None or grant.ends_at > now):
            _hold(grant, decision, facts, now, grace, follow_up)
            continue
        if removing and guard.hold_removal(user.id):
            if grant.held_at is None:  # the incident guard doubts it: access stays meanwhile
                grant.held_reason, grant.held_at = reason[:255], now
                record(
                    "grant.held",
                    None,
                    target=grant,
                    detail=f"{service.slug}: removal held by the incident guard",
                    reason=reason,
                )
            continue
        if grant is not None and grant.held_at is not None:
            grant.held_reason = grant.held_at = None
        if grant is not None and grant.ends_at is not None and not removing:
            _keep(grant, facts, now)
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
        grant.sync_error = grant.sync_wait = None
        if removing:
            grant.ends_at = grant.ending_reason = None
            notices.ended(grant, reason, remedy(decision, service, user, facts), now)
        elif status == "active":
            notices.resolve(grant, now)
        record(
            f"grant.{status}",
            None,
            target=grant,
            detail=f"{service.slug}: {before} -> {status}. {summary_of(user, service, grant, facts, now)}",
            reason=reason,
        )
        changed.append(grant)
    user.grants_reconciled_at = now
    return follow_up.merge(FollowUp.of(changed))


def _hold(grant, decision, facts, now, grace, follow_up):
    """Start a grant's grace period (the member is told at once, and again shortly before the end),
    or keep it running with the cause as it is now."""
    fix = remedy(decision, grant.service, grant.user, facts)
    if grant.ends_at is not None:
        if grant.ending_reason != decision.reason:
            grant.ending_reason = decision.reason[:255]
            notices.changed(grant, fix)
        return
    grant.ends_at = now + timedelta(seconds=grace)
    grant.ending_reason = decision.reason[:255]
    notice = notices.ending(grant, fix)
    record(
        "grant.ending",
        None,
        target=grant,
        detail=f"{grant.service.slug}: active until {grant.ends_at:%Y-%m-%d %H:%M:%S} UTC unless fixed. "
        f"{summary_of(grant.user, grant.service, grant, facts, now)}",
        reason=decision.reason,
    )
    follow_up.expiries.append((grant.id, grant.ends_at))
    follow_up.messages.append(notice.id)
    follow_up.reminders.append((notice.id, notices.reminder_at(grant.ends_at, grace)))


def _keep(grant, facts, now):
    """The cause of a removal was fixed within its grace period: access stays, the notice goes."""
    cause = grant.ending_reason
    grant.ends_at = grant.ending_reason = None
    notices.resolve(grant, now)
    record(
        "grant.kept",
        None,
        target=grant,
        detail=f"{grant.service.slug}: the removal was cancelled, its cause is fixed ({cause}). "
        f"{summary_of(grant.user, grant.service, grant, facts, now)}",
    )


def reconcile_user_grants(user):
    """Reconcile a user's grants and commit; returns what must follow (syncs, notices, expiries)."""
    with write_transaction():
        follow_up = reconcile_grants(user)
    return follow_up


def reconcile_user(user_id):
    """Bring one user's state, then their grants, in line, committed; the state and what must follow."""
    with write_transaction() as session:
        state = reconcile_states(session.connection(), [user_id]).get(user_id)
    if state is None:
        return Reconciled(None, FollowUp())
    db.session.expire_all()
    return Reconciled(state, reconcile_user_grants(db.session.get(User, user_id)))


# How long a changed state waits for the reconciliation its verdict queued before it counts as lost.
OWED_AFTER_S = 120


def users_owing_grants(limit=500, now=None):
    """Ids of users whose state changed (more than OWED_AFTER_S ago) after their grants were last
    reconciled: the reconciliation a verdict queued never ran (lost with Redis). Oldest change
    first, at most limit; none while no service is enabled (there are no grants to reconcile)."""
    if not any_service():
        return []
    now = now or utcnow()
    owed = User.state_changed_at > db.func.coalesce(User.grants_reconciled_at, datetime(1970, 1, 1))
    settled = User.state_changed_at < now - timedelta(seconds=OWED_AFTER_S)
    return db.session.scalars(
        db.select(User.id)
        .where(owed, settled, User.is_active_account.is_(True))
        .order_by(User.state_changed_at)
        .limit(limit)
    ).all()


def users_whose_state_lapses(now=None):
    """Ids of members and blues whose main key turned invalid longer than ACCESS_GRACE ago: their
    state waited out the grace and falls now."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config["ACCESS_GRACE"])
    return db.session.scalars(
        db.select(User.id)
        .join(Key, Key.character_id == User.main_character_id)
        .where(User.state != "guest", Key.status == "invalid", Key.last_checked_at <= cutoff)
    ).all()


def users_with_expired_grants(now=None):
    """Ids of users holding a grant by hand or on request whose time is up, or a grant whose grace
    period is over."""
    now = now or utcnow()
    expired = (Grant.source != "policy") & (Grant.status != "revoked") & (Grant.expires_at <= now)
    return db.session.scalars(
        db.select(Grant.user_id).where(expired | (Grant.ends_at <= now)).distinct()
    ).all()


def active_user_ids():
    """Ids of every active user (a policy change reconciles them all)."""
    user_ids = db.session.scalars(db.select(User.id).where(User.is_active_account.is_(True))).all()
    db.session.commit()
    return user_ids
