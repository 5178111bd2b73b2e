"""The incident guard with real consumer processes and the sandbox's faults: a storm of spurious
invalid_grant answers is held, re-checked and released without anyone losing access; wrong
affiliation data moves nobody; a mass removal is held until an admin applies it."""

import pytest

from app.access import guard, guard_actions
from app.access.models import Grant
from app.access.reconcile import reconcile_user
from app.accounts.models import User
from app.audit import AuditEntry
from app.corps import affiliation
from app.corps.models import Character, Corporation
from app.keys.models import Key
from app.services.models import Service
from tasks.corps import affiliation_round
from tasks.keys import queue_check
from tests.support import count_rows, csrf_token_from, wait_for

GUARD = {
    "GUARD_WINDOW": 120.0,
    "GUARD_RECHECK": 3.0,
    "GUARD_VERDICT_MIN": 4,
    "GUARD_REMOVAL_MIN": 3,
    "GUARD_AFFILIATION_MIN": 3,
    "AFFILIATION_MAX_WAIT": 0.5,  # the app schedules rounds too (Re-check now): as the consumers do
}
FAST = {"RETRY_BASE": "0.2"}


@pytest.fixture()
def guarded(app):
    """The guard's settings of these tests, in the app and (through env) in the consumers."""
    before = {name: app.config[name] for name in GUARD}
    app.config.update(GUARD)
    yield {**FAST, **{name: str(value) for name, value in GUARD.items()}}
    app.config.update(before)


def _members(db, key_factory, count):
    """Members with valid keys, each holding the service given to members automatically."""
    service = Service(slug="comms", name="Comms", kind="forward_auth", auto_states="member")
    db.session.add(service)
    db.session.commit()
    users = []
    for _ in range(count):
        key_id, _, _ = key_factory(status="valid")
        users.append(db.session.get(Key, key_id).user_id)
    for user_id in users:
        reconcile_user(user_id)
    return users


def _status(db):
    state = guard.status()
    db.session.commit()  # the next look reads what the consumers wrote since
    return state


def test_a_storm_of_spurious_invalid_grant_is_held_rechecked_and_released(
    db, sandbox, key_factory, consumer, guarded, redis_client
):
    users = _members(db, key_factory, 12)
    consumer(workers=2, periodic=False, extra_env=guarded)
    sandbox.configure(spurious_invalid_grant_rate=1.0)  # SSO refuses every refresh; nothing is revoked
    for key_id in db.session.scalars(db.select(Key.id)).all():
        queue_check(key_id)

    wait_for(
        lambda: count_rows(db, Key, Key.held_at.is_not(None)) == 12
        and count_rows(db, Key, Key.status == "invalid") == 0,
        timeout=30,
        message=lambda: f"every verdict held; {_status(db)}",
    )
    state = _status(db)
    assert state["open"] and "keys turning invalid" in state["kinds"]["verdicts"]["label"]
    opened_at = int(state["kinds"]["verdicts"]["detail"].split()[0])
    assert opened_at in (5, 6)  # at the fifth; the sixth when the two workers' observations crossed
    wait_for(
        lambda: count_rows(db, Grant, Grant.ends_at.is_not(None)) == 0,
        timeout=30,
        message="grace periods taken back",
    )
    assert count_rows(db, User, User.state == "member") == len(users)
    assert count_rows(db, Grant, Grant.status == "active") == len(users)

    sandbox.configure(spurious_invalid_grant_rate=0.0)  # SSO recovers
    wait_for(
        lambda: count_rows(db, Key, Key.held_at.is_not(None)) == 0
        and count_rows(db, Key, Key.status == "valid") == 12,
        timeout=60,
        message=lambda: f"the re-checks; {_status(db)}",
    )
    wait_for(lambda: guard.review() or not _status(db)["open"], timeout=30, message="the guard to close")
    assert count_rows(db, Grant, Grant.status == "active") == len(users)
    assert count_rows(db, AuditEntry, AuditEntry.action == "key.held") >= 8
    assert count_rows(db, AuditEntry, AuditEntry.action.in_(["grant.suspended", "grant.revoked"])) == 0
    assert sandbox.control("GET", "/stats")["spurious_invalid_grants"] >= 12


def test_wrong_affiliation_data_moves_nobody_until_a_normal_round(
    client, db, sandbox, key_factory, consumer, guarded, auth, make_user, redis_client
):
    users = _members(db, key_factory, 8)
    consumer(workers=2, periodic=False, extra_env=guarded)
    nowhere = sandbox.control("POST", "/corporations", json={"name": "Nowhere", "ticker": "NONE"})
    sandbox.configure(affiliation_corporation_override=nowhere["corporation_id"])
    characters = db.session.scalars(db.select(Character.id)).all()
    affiliation.gather(characters)
    affiliation_round("full")
    wait_for(lambda: _status(db)["held_characters"] == 8, timeout=30, message="the guard to hold the round")
    assert "affiliation" in _status(db)["kinds"]
    assert count_rows(db, Character, Character.corporation_id == nowhere["corporation_id"]) == 0
    assert count_rows(db, User, User.state == "member") == len(users)

    sandbox.configure(affiliation_corporation_override=None)  # ESI answers right again
    make_user(role="admin", username="boss")
    auth.login("boss")
    token = csrf_token_from(client.get("/admin/guard").get_data(as_text=True))
    assert client.post("/admin/guard/recheck", data={"csrf_token": token}).status_code == 302
    wait_for(
        lambda: "affiliation" not in _status(db)["kinds"],
        timeout=30,
        message=lambda: f"a normal round to close it; {_status(db)}, {affiliation.pending_count()} waiting, "
        f"{sorted(redis_client.keys('*affiliation*') + redis_client.keys('*queued*'))}",
    )
    assert count_rows(db, User, User.state == "member") == len(users)
    assert count_rows(db, AuditEntry, AuditEntry.action == "guard.recheck") == 1
    wait_for(lambda: _status(db)["held"] == 0, timeout=10, message="the characters to be released")


def test_a_mass_removal_is_held_until_an_admin_applies_it(db, key_factory, make_user, guarded, redis_client):
    users = _members(db, key_factory, 8)
    for corp in db.session.scalars(db.select(Corporation)):
        corp.tracked_as = None  # every member corporation untracked at once
    db.session.commit()
    for user_id in users:
        reconcile_user(user_id)
    assert count_rows(db, User, User.state == "guest") == 8  # state follows at once
    removed = count_rows(db, Grant, Grant.status == "revoked")
    held = count_rows(db, Grant, Grant.held_at.is_not(None))
    assert removed <= 4 and removed + held == 8  # at most max(3, 5 %) + 1 before the guard opened
    assert _status(db)["kinds"]["removals"]["label"] == "members losing a grant"
    reconcile_user(users[-1])  # held again, not applied
    assert count_rows(db, Grant, Grant.held_at.is_not(None)) == held

    admin = make_user(role="admin", username="boss")
    keys, grants, _, to_reconcile = guard_actions.apply(admin)
    assert (keys, grants) == (0, held)
    for user_id in to_reconcile:
        reconcile_user(user_id)
    assert count_rows(db, Grant, Grant.status == "revoked") == 8
    assert not _status(db)["open"]


def test_what_the_guard_holds_survives_redis_losing_its_data(db, key_factory, guarded, redis_client):
    """Held removals are in the database: a Redis restarted empty reopens the guard from them, so
    none goes through before the re-checks are seen, and the dashboard says why it is open."""
    users = _members(db, key_factory, 8)
    for corp in db.session.scalars(db.select(Corporation)):
        corp.tracked_as = None
    db.session.commit()
    for user_id in users:
        reconcile_user(user_id)
    held = count_rows(db, Grant, Grant.held_at.is_not(None))
    assert held >= 4 and guard.is_open("removals")

    redis_client.flushall()  # Redis restarted without its data
    for user_id in users:
        reconcile_user(user_id)
    assert count_rows(db, Grant, Grant.held_at.is_not(None)) == held  # not one went through
    state = _status(db)
    assert (
        "removals" in state["kinds"]
        and "Redis lost the guard's state" in state["kinds"]["removals"]["detail"]
    )
    assert "verdicts" not in state["kinds"]  # no key verdict was held: that kind stays closed


def test_small_rounds_of_wrong_affiliation_data_neither_slip_past_the_guard_nor_close_it(
    app, guarded, redis_client
):
    """The guard judges the rounds of its window together: a big round of wrong data opens it,
    small rounds of the same data are held and never close it; a round that looks normal does."""
    with app.app_context():
        now = 1_000_000.0
        assert guard.hold_affiliation(1000, 1000, now=now)  # ESI says everyone left: held
        assert guard.hold_affiliation(3, 3, now=now + 5)  # 3 of 3 is under the minimum, yet held
        assert guard.hold_affiliation(10, 10, now=now + 10)
        assert guard.is_open("affiliation")
        assert not guard.hold_affiliation(10, 0, now=now + 15)  # a normal round closes it
        assert not guard.is_open("affiliation")
        # Closed, but the window still remembers the wrong rounds: small ones add up and reopen it.
        assert guard.hold_affiliation(3, 3, now=now + 20)


def test_many_small_rounds_of_wrong_data_open_the_guard_as_one_big_round_would(app, guarded, redis_client):
    with app.app_context():
        now = 2_000_000.0
        held = [guard.hold_affiliation(3, 3, now=now + n) for n in range(4)]
        assert held == [False, True, True, True]  # 3 moves pass (the minimum); 6 of 6 in the window do not
