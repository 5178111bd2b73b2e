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
