"""Directors from ESI's Director role, read with each key check, and what a director may reach."""

from app.accounts.models import Directorship, User
from app.keys.models import Key
from tests.keys.test_validation import check


def _user(db, key_id):
    db.session.expire_all()
    return db.session.get(Key, key_id).user


def test_the_director_role_makes_and_unmakes_a_director(db, sandbox, key_factory, redis_client):
    key_id, made, _ = key_factory()
    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    assert check(key_id).action == "done"
    user = _user(db, key_id)
    assert user.role == "director"
    assert [(d.corporation_id, d.source) for d in user.directorships] == [(made["corporation_id"], "esi")]
    assert user.main_character.is_director

    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Accountant"]})
    db.session.get(Key, key_id).next_check_at = db.session.get(Key, key_id).created_at
    db.session.commit()
    assert check(key_id).action == "done"
    user = _user(db, key_id)
    assert user.role == "member" and user.directorships == []


def test_an_appointed_director_stays_whatever_esi_says(db, sandbox, key_factory, redis_client):
    key_id, made, _ = key_factory()
    user = _user(db, key_id)
    db.session.add(Directorship(user_id=user.id, corporation_id=made["corporation_id"], source="appointed"))
    user.role = "director"
    db.session.commit()
    assert check(key_id).action == "done"
    user = db.session.get(User, _user(db, key_id).id)
    assert user.role == "director" and [d.source for d in user.directorships] == ["appointed"]


def test_no_role_is_read_for_an_untracked_corporation(db, sandbox, key_factory, redis_client):
    key_id, made, _ = key_factory(tracked=None)
    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    before = sandbox.stats()["calls"]
    assert check(key_id).action == "done"
    roles_calls = {k: v for k, v in sandbox.stats()["calls"].items() if "roles" in k}
    assert sum(roles_calls.values()) == sum(v for k, v in before.items() if "roles" in k)
    assert _user(db, key_id).role == "member"
