"""Reconciliation: member, blue or guest from the main character's key and tracked corp or alliance."""

import pytest

from app.access.reconcile import reconcile_user
from app.access.state import state_from
from app.accounts.models import User
from app.audit import AuditEntry
from app.corps.models import Alliance, Corporation
from app.extensions import db as _db
from app.keys.models import Key


@pytest.mark.parametrize(
    ("status", "corp", "alliance", "expected"),
    [
        ("valid", "member", None, "member"),
        ("valid", None, "member", "member"),
        ("valid", "blue", "member", "member"),
        ("valid", None, "blue", "blue"),
        ("valid", None, None, "guest"),
        ("error", "member", None, "member"),
        ("invalid", "member", None, "guest"),
        ("pending", "member", None, "guest"),
        (None, "member", None, "guest"),
    ],
)
def test_state_from(status, corp, alliance, expected):
    assert state_from(status, corp, alliance) == expected


def test_reconciling_is_idempotent_and_audited(db, key_factory):
    key_id, _, _ = key_factory(status="valid", tracked="member")
    user_id = db.session.get(Key, key_id).user_id
    assert reconcile_user(user_id).state == "member"
    assert reconcile_user(user_id).state == "member"
    entries = db.session.scalars(_db.select(AuditEntry).filter_by(action="user.state")).all()
    assert [e.detail for e in entries] == ["guest -> member"]
    db.session.expire_all()
    assert db.session.get(User, user_id).reconciled_at is not None


def test_tracking_an_alliance_as_blue_makes_its_members_blue(db, key_factory):
    key_id, made, _ = key_factory(status="valid", tracked=None)
    key = db.session.get(Key, key_id)
    alliance = Alliance(id=99199999, name="Friends", ticker="FRND", tracked_as="blue")
    db.session.add(alliance)
    db.session.flush()
    key.character.alliance_id = alliance.id
    db.session.commit()
    assert reconcile_user(key.user_id).state == "blue"
    db.session.get(Corporation, key.character.corporation_id).tracked_as = "member"
    db.session.commit()
    assert reconcile_user(key.user_id).state == "member"


def test_a_gone_user_reconciles_to_nothing(db):
    assert reconcile_user(424242).state is None


def test_a_state_change_whose_reconciliation_was_lost_is_found_in_the_database(db, key_factory, redis_client):
    """A verdict writes the state in its own transaction and queues the grants' reconciliation; when
    Redis loses that task, services.expire finds the user in the database and reconciles them."""
    from datetime import timedelta

    from app.access.models import Grant
    from app.access.state import reconcile_states
    from app.services.models import Service
    from tasks.services import expire

    db.session.add(Service(slug="comms", name="Comms", kind="forward_auth", auto_states="member"))
    db.session.commit()
    key_id, _, _ = key_factory(status="valid", tracked="member")
    user_id = db.session.get(Key, key_id).user_id
    reconcile_user(user_id)
    assert db.session.scalars(_db.select(Grant.status).filter_by(user_id=user_id)).all() == ["active"]
    assert expire.call_local() == 0  # nothing owed

    db.session.get(Key, key_id).status = "invalid"  # the verdict, its state in the same transaction
    db.session.flush()
    reconcile_states(db.session.connection(), [user_id])
    db.session.commit()  # ... and the reconciliation it queued is lost with Redis
    redis_client.flushall()
    expire.call_local()
    db.session.expire_all()
    assert _db.session.scalars(_db.select(Grant)).one().ends_at is None  # its task may still come
    user = db.session.get(User, user_id)
    user.state_changed_at -= timedelta(minutes=3)  # ... but it never does
    user.grants_reconciled_at -= timedelta(minutes=10)
    db.session.commit()
    expire.call_local()
    db.session.expire_all()
    grant = db.session.scalars(_db.select(Grant).filter_by(user_id=user_id)).one()
    assert grant.ends_at is not None  # the key's grace period started, with its notice
    assert expire.call_local() == 0  # owed once, done once
