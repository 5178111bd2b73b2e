"""Validating one key against the sandbox: verdicts, definitive versus transient failures, the claim."""

import time
from datetime import timedelta

import pytest
import requests

from app import crypto
from app.access.reconcile import reconcile_user
from app.clock import utcnow
from app.keys.models import Key
from app.keys.validation import REASON_REAUTH, REASON_REVOKED, REASON_SOLD, validate_key
from tests.support import SCOPE, TEST_CLIENT_ID, TEST_CLIENT_SECRET


def check(key_id, **kwargs):
    """Run validation until it has a verdict (a slot wait is not a verdict)."""
    verdict = validate_key(key_id, "tests", **kwargs)
    while verdict.action == "wait" and verdict.message == "slot":
        verdict = validate_key(key_id, "tests", slot=verdict.slot, now_ts=verdict.slot, **kwargs)
    return verdict


def fresh(db, key_id):
    db.session.expire_all()
    return db.session.get(Key, key_id)


def test_a_good_key_becomes_valid_and_its_rotated_token_is_stored(db, sandbox, key_factory):
    key_id, made, first_token = key_factory()
    verdict = check(key_id)
    assert verdict.action == "done" and verdict.changed and verdict.reconciled
    key = fresh(db, key_id)
    assert key.status == "valid" and key.reason is None and key.last_ok_at is not None
    assert key.next_check_at > utcnow() + timedelta(hours=3)
    stored = crypto.decrypt(key.refresh_token_encrypted)
    assert stored != first_token
    assert key.refresh_started_at is None and not key.refresh_uncertain
    assert key.user.state == "member" and key.user.reconciled_at is not None
    # The stored token is the live one: the sandbox accepts it, not the first.
    token_url = f"{sandbox.url}/v2/oauth/token"
    auth = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)
    assert (
        requests.post(
            token_url,
            auth=auth,
            timeout=10,
            data={"grant_type": "refresh_token", "refresh_token": first_token},
        ).status_code
        == 400
    )
    assert (
        requests.post(
            token_url, auth=auth, timeout=10, data={"grant_type": "refresh_token", "refresh_token": stored}
        ).status_code
        == 200
    )


def test_a_revoked_grant_makes_the_key_invalid(db, sandbox, key_factory):
    key_id, made, _ = key_factory(status="valid")
    sandbox.control("POST", "/grants/revoke", json={"character_id": made["character_id"]})
    verdict = check(key_id)
    key = fresh(db, key_id)
    assert verdict.action == "done" and key.status == "invalid" and key.reason == REASON_REVOKED
    assert key.user.state == "guest"


def test_a_sold_character_makes_the_key_invalid(db, sandbox, key_factory):
    key_id, made, _ = key_factory()
    sandbox.control("POST", f"/characters/{made['character_id']}/sell")
    check(key_id)
    key = fresh(db, key_id)
    assert key.status == "invalid" and key.reason == REASON_SOLD


def test_lost_scopes_make_the_key_invalid(db, sandbox, key_factory):
    key_id, _, _ = key_factory(granted=("publicData",))
    check(key_id)
    key = fresh(db, key_id)
    assert key.status == "invalid" and SCOPE in key.reason


def test_upstream_faults_never_make_a_key_invalid(db, sandbox, key_factory):
    key_id, _, token = key_factory(status="valid")
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0)
    verdict = check(key_id)
    assert verdict.action == "retry" and verdict.delay > 0
    key = fresh(db, key_id)
    assert key.status == "valid"  # the last verdict stands
    assert key.consecutive_failures == 1 and key.error_since is not None and key.refresh_uncertain
    assert crypto.decrypt(key.refresh_token_encrypted) == token
    sandbox.configure(sso_fault_rate=0.0)
    check(key_id, attempt=2)
    key = fresh(db, key_id)
    assert key.status == "valid" and key.consecutive_failures == 0 and not key.refresh_uncertain


def test_giving_up_after_the_last_attempt_leaves_the_key_for_the_sweep(app, db, sandbox, key_factory):
    key_id, _, _ = key_factory(status="valid")
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0)
    verdict = check(key_id, attempt=app.config["VALIDATE_MAX_ATTEMPTS"])
    assert verdict.action == "give_up" and "gave up" in verdict.message
    assert fresh(db, key_id).status == "valid"


def test_a_429_is_a_wait_not_a_failure(db, sandbox, key_factory):
    key_id, _, _ = key_factory(status="valid")
    sandbox.configure(sso_rate_limit=1)
    requests.post(
        f"{sandbox.url}/v2/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        timeout=10,
    )
    verdict = check(key_id)
    assert verdict.action == "wait" and verdict.delay >= 1
    key = fresh(db, key_id)
    assert key.status == "valid" and key.consecutive_failures == 0 and key.refresh_started_at is None


def test_a_refresh_cut_off_after_rotation_asks_for_reauthorisation(db, sandbox, key_factory):
    key_id, _, token = key_factory(status="valid")
    _cut_off_after_rotation(db, sandbox, key_id, token)
    verdict = check(key_id)
    key = fresh(db, key_id)
    assert verdict.action == "done"
    assert key.status == "error" and key.needs_reauth and key.reason == REASON_REAUTH
    assert reconcile_user(key.user_id).state == "member"  # access is kept while re-authorisation is asked


def test_a_fresh_claim_by_another_run_makes_this_one_wait(db, sandbox, key_factory):
    key_id, _, _ = key_factory(status="valid")
    key = fresh(db, key_id)
    key.refresh_started_at = utcnow()
    db.session.commit()
    verdict = check(key_id)
    assert verdict.action == "wait" and 0.5 <= verdict.delay <= 1.0  # it looks again soon, as for a lock
    assert sandbox.stats()["refresh_calls"] == 0


def test_a_key_waiting_for_reauthorisation_is_not_refreshed(db, sandbox, key_factory):
    key_id, _, _ = key_factory(status="error")
    key = fresh(db, key_id)
    key.needs_reauth, key.error_since = True, utcnow()
    db.session.commit()
    assert check(key_id).action == "done"
    assert sandbox.stats()["refresh_calls"] == 0
    key = fresh(db, key_id)
    key.error_since = utcnow() - timedelta(days=30)
    db.session.commit()
    check(key_id)
    assert fresh(db, key_id).status == "invalid"


def test_a_removed_key_is_gone(db):
    assert validate_key(999999, "tests").action == "gone"


def _cut_off_after_rotation(db, sandbox, key_id, token):
    """A worker sent the refresh and died before storing the new token: SSO rotated it, the
    database still holds the old one, and the claim it left is older than the lock TTL."""
    requests.post(
        f"{sandbox.url}/v2/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        timeout=10,
    ).raise_for_status()
    key = fresh(db, key_id)
    key.refresh_started_at = utcnow() - timedelta(minutes=5)
    db.session.commit()


def _gate_closed(app, sandbox, redis_client):
    from app.jobs.pause import pause, resume

    pause(redis_client)
    return lambda: resume(redis_client)


def _sso_rate_limited(app, sandbox, redis_client):
    sandbox.configure(sso_rate_limit=1)
    requests.post(
        f"{sandbox.url}/v2/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        timeout=10,
    )

    def reopen():
        sandbox.configure(sso_rate_limit=0)
        sandbox.control("POST", "/reset-limits")
        app.extensions["governor"].reset("sso")

    return reopen


def _client_refused(app, sandbox, redis_client):
    from app.eve import get_client

    client = get_client()
    secret, client.client_secret = client.client_secret, "not-the-secret"
    return lambda: setattr(client, "client_secret", secret)


@pytest.mark.parametrize("obstacle", [_gate_closed, _sso_rate_limited, _client_refused])
def test_a_claim_released_without_a_refresh_keeps_the_evidence_of_a_cut_off_one(
    app, db, sandbox, redis_client, key_factory, obstacle
):
    key_id, _, token = key_factory(status="valid")
    _cut_off_after_rotation(db, sandbox, key_id, token)
    reopen = obstacle(app, sandbox, redis_client)
    try:
        first = validate_key(key_id, "tests", slot=time.time())  # at its slot: straight to the gate
    finally:
        reopen()
    assert first.action in ("wait", "give_up")
    key = fresh(db, key_id)
    # The doubt is kept: as a free claim marked uncertain, or (a closed gate turns the run away
    # before it claims) as the cut-off run's claim, untouched; this run holds no claim.
    assert key.refresh_uncertain or key.refresh_started_at is not None
    assert key.refresh_started_at is None or key.refresh_started_at < utcnow() - timedelta(minutes=1)
    verdict = check(key_id)
    key = fresh(db, key_id)
    assert verdict.action == "done"
    assert key.status == "error" and key.needs_reauth and key.reason == REASON_REAUTH


def test_a_200_with_garbage_is_an_upstream_failure_that_backs_the_sso_off(app, db, sandbox, key_factory):
    from app.jobs import counters
    from app.jobs.connection import get_redis

    key_id, _, _ = key_factory(status="valid")
    governor = app.extensions["governor"]
    governor.reset("sso")
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0, garbage_share=1.0)
    verdicts = []
    for attempt in range(1, 6):  # the governor's run of failures before it backs off
        verdicts.append(validate_key(key_id, "tests", attempt=attempt, slot=time.time()))
    assert {v.action for v in verdicts} == {"retry"}
    assert "malformed body" in verdicts[0].message
    key = fresh(db, key_id)
    assert key.status == "valid" and key.consecutive_failures == 5  # never invalid for EVE's garbage
    state = governor.state("sso")
    assert state["state"] == "backoff" and state["backoff_level"] == 1
    assert state["last_failure"] == "malformed"
    assert counters.upstream_calls(get_redis())[("sso", "malformed")] == 5
    assert sandbox.stats()["garbage_served"] == 5
    # While it backs off, no call goes out: the check waits instead of spending an attempt.
    waiting = validate_key(key_id, "tests", attempt=6)
    assert waiting.action == "wait" and waiting.message == "backoff"
    assert sandbox.stats()["refresh_calls"] == 5


def test_esi_garbage_is_an_upstream_failure_not_a_crash(app, sandbox):
    from app.eve import get_client
    from app.eve.errors import UpstreamDown

    sandbox.configure(esi_fault_rate=1.0, timeout_share=0.0, garbage_share=1.0)
    with app.app_context(), pytest.raises(UpstreamDown, match="malformed body"):
        get_client().status()


def _directorships(db, key_id):
    db.session.expire_all()
    return [d.corporation_id for d in fresh(db, key_id).user.directorships]


def test_a_director_role_counts_only_where_esi_says_the_character_is_and_ends_with_the_key(
    db, sandbox, key_factory
):
    key_id, made, _ = key_factory(status="valid")
    home = fresh(db, key_id).character.corporation_id
    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    assert check(key_id).action == "done"
    assert _directorships(db, key_id) == [home]

    # The character moved (Bastion has not noticed yet) and is Director in its new corporation:
    # that role is not credited to the corporation it left.
    elsewhere = sandbox.control("POST", "/corporations", json={"name": "New Home", "ticker": "NEWH"})
    sandbox.control(
        "POST",
        f"/characters/{made['character_id']}/move",
        json={"corporation_id": elsewhere["corporation_id"]},
    )
    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    key = fresh(db, key_id)
    key.next_check_at = utcnow()
    db.session.commit()
    assert check(key_id).action == "done"
    assert _directorships(db, key_id) == []

    # Back home and Director again; then the grant is revoked: the invalid key ends it.
    sandbox.control("POST", f"/characters/{made['character_id']}/move", json={"corporation_id": home})
    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    assert check(key_id).action == "done"
    assert _directorships(db, key_id) == [home]
    sandbox.control("POST", "/grants/revoke", json={"character_id": made["character_id"]})
    assert check(key_id).action == "done"
    assert fresh(db, key_id).status == "invalid"
    assert _directorships(db, key_id) == []


def _refuse_token_writes(db, refuse):
    """The database itself refuses to store a key's token (a trigger), as a database going down
    right after SSO answered would; refuse=False lets writes through again."""
    from sqlalchemy import text

    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.begin() as conn:
        if not refuse:
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_tokens" + ("" if sqlite else " ON keys")))
        elif sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_tokens BEFORE UPDATE OF refresh_token_encrypted ON keys "
                    "BEGIN SELECT RAISE(ABORT, 'the database is down'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION refuse_tokens() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'the database is down'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_tokens BEFORE UPDATE OF refresh_token_encrypted ON keys "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_tokens()"
                )
            )


def test_a_token_rotated_while_the_database_could_not_store_it_is_kept_and_used_next_time(
    db, sandbox, key_factory, redis_client
):
    key_id, _, first_token = key_factory(status="valid")
    _refuse_token_writes(db, True)
    try:
        with pytest.raises(Exception, match="the database is down"):
            check(key_id)
        db.session.rollback()
    finally:
        _refuse_token_writes(db, False)
    key = fresh(db, key_id)
    assert crypto.decrypt(key.refresh_token_encrypted) == first_token  # the old token, dead at SSO now
    assert key.refresh_started_at is not None  # the run's claim, never cleared
    verdict = check(key_id)
    key = fresh(db, key_id)
    assert verdict.action == "done" and key.status == "valid" and not key.needs_reauth, key.reason
    assert key.refresh_started_at is None and crypto.decrypt(key.refresh_token_encrypted) != first_token
    assert sandbox.stats()["rotated_token_reuse"] == 0  # the dead token was never sent again


def test_the_rotated_token_is_in_redis_before_the_new_access_token_is_even_verified(
    db, sandbox, key_factory, redis_client, monkeypatch
):
    """A worker killed between SSO's answer and the database write loses nothing: the new token is
    kept in Redis by the round trip that follows the answer at once, before any other work."""
    from app.eve.client import EveClient
    from app.jobs import redis_keys

    key_id, _, first_token = key_factory(status="valid")
    kept_when_verifying = []
    verify = EveClient.verify

    def looking(client, access_token, *args, **kwargs):  # what Redis holds at this moment
        kept_when_verifying.append(redis_client.get(redis_keys.rotated_token(key_id)))
        return verify(client, access_token, *args, **kwargs)

    monkeypatch.setattr(EveClient, "verify", looking)
    assert check(key_id).action == "done"
    (kept,) = kept_when_verifying
    assert kept is not None
    stored = fresh(db, key_id).refresh_token_encrypted
    assert crypto.decrypt(kept.partition(":")[2]) == crypto.decrypt(stored) != first_token
