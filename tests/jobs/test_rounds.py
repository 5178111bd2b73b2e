"""Shared round trips to Redis: a key check's writes ride with the round trips that need answers."""

import time

import pytest
from redis.connection import Connection

from app.jobs import redis_keys
from app.jobs.rounds import Batch, later, shared_round_trips
from app.keys.validation import validate_key
from tests.keys.test_validation import check


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what this process sends to Redis: a command, a pipeline or a script is one round trip."""
    sent = []
    send = Connection.send_packed_command

    def counted(connection, command, check_health=True):
        sent.append(command)
        return send(connection, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    return sent


def test_a_valid_key_checked_again_costs_three_round_trips_and_two_statements(
    app, db, key_factory, round_trips, redis_client
):
    from sqlalchemy import event

    key_id, _, _ = key_factory(status="valid")
    assert check(key_id).action == "done"  # the first check learns the bucket's group and the keys
    round_trips.clear()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        verdict = validate_key(key_id, "tests", slot=time.time())  # at its slot, as a sweep queues it
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert verdict.action == "done" and verdict.message == ""
    # The slot with the lock; the ESI gate with the bucket (and the SSO answer, the rotated
    # token); the release (and the ESI answer, the guard's observation of the verdict).
    assert len(round_trips) == 3
    # The key claimed as it is read; the verdict written.
    assert [s.split()[0] for s in statements] == ["UPDATE", "UPDATE"]
    stats = app.extensions["redis"].hgetall(redis_keys.UPSTREAM_STATS)
    assert any(field.startswith("sso") for field in stats) and any(field.startswith("esi") for field in stats)
    seen = redis_client.zrange(redis_keys.guard_events("verdicts", False), 0, -1)
    assert sum(member.startswith(f"{key_id}:valid:") for member in seen) == 2  # both checks observed


def test_a_pending_write_hands_its_answer_over_once_it_comes(app, redis_client, round_trips):
    script = redis_client.register_script("return redis.call('INCR', KEYS[1])")
    redis_client.script_load(script.script)
    answers = []
    with shared_round_trips(redis_client):
        later(redis_client, lambda batch: batch.script(script, ["rounds:counted"], [], then=answers.append))
        assert answers == []
        assert Batch(redis_client).command("get", "rounds:counted").send() == ["1"]
        assert answers == [1]
    later(redis_client, lambda batch: batch.script(script, ["rounds:counted"], [], then=answers.append))
    assert answers == [1, 2]  # outside the block: at once


def test_a_pending_writes_follow_up_that_fails_is_logged_and_the_round_trip_answers(
    app, redis_client, caplog
):
    script = redis_client.register_script("return redis.call('INCR', KEYS[1])")
    redis_client.script_load(script.script)

    def broken(answer):
        raise ValueError(f"cannot follow up {answer}")

    with shared_round_trips(redis_client):
        later(redis_client, lambda batch: batch.script(script, ["rounds:followed"], [], then=broken))
        assert Batch(redis_client).command("get", "rounds:followed").send() == ["1"]
    assert "following up a pending Redis write failed" in caplog.text


def test_a_check_after_redis_lost_its_scripts_sends_them_again(app, db, key_factory, redis_client):
    key_id, _, _ = key_factory(status="valid")
    assert check(key_id).action == "done"
    redis_client.script_flush()
    assert check(key_id).action == "done"
    assert redis_client.get(redis_keys.lock(f"key:{key_id}")) is None  # released by the script sent again


def test_writes_wait_for_the_next_round_trip_inside_the_block_and_go_at_once_outside(
    app, redis_client, round_trips
):
    later(redis_client, lambda batch: batch.command("set", "rounds:outside", "1"))
    assert redis_client.get("rounds:outside") == "1"
    round_trips.clear()
    with shared_round_trips(redis_client):
        later(redis_client, lambda batch: batch.command("set", "rounds:a", "1"))
        later(redis_client, lambda batch: batch.command("incr", "rounds:b"))
        assert round_trips == []  # nothing sent yet
        answers = Batch(redis_client).command("get", "rounds:a").command("get", "rounds:b").send()
        assert answers == ["1", "1"]  # the pending writes went first, in the same round trip
        assert len(round_trips) == 1
        later(redis_client, lambda batch: batch.command("set", "rounds:c", "1"))
    assert len(round_trips) == 2  # the block's end sends what is left
    assert redis_client.get("rounds:c") == "1"


def test_an_error_in_a_call_of_ones_own_is_raised_and_in_a_pending_write_logged(app, redis_client, caplog):
    redis_client.set("rounds:text", "not a number")
    with shared_round_trips(redis_client):
        later(redis_client, lambda batch: batch.command("incr", "rounds:text"))
        assert Batch(redis_client).command("get", "rounds:text").send() == ["not a number"]
        with pytest.raises(Exception, match="not an integer"):
            Batch(redis_client).command("incr", "rounds:text").send()
    assert "pending Redis write failed" in caplog.text


def test_a_valid_verdict_seen_with_the_release_still_closes_the_guard(app, db, key_factory, redis_client):
    from app.access import guard

    key_id, _, _ = key_factory(status="valid")
    assert check(key_id).action == "done"
    recheck = app.config["GUARD_RECHECK"]
    redis_client.hset(
        redis_keys.GUARD_STATE, mapping={"verdicts:since": time.time() - recheck - 1, "known": 1}
    )
    redis_client.hset(redis_keys.GUARD_STATE, "verdicts:detail", "25 keys turning invalid in 10 min")
    assert guard.is_open("verdicts")
    verdict = validate_key(key_id, "tests", slot=time.time())
    assert verdict.action == "done" and verdict.message == ""  # a valid verdict is never held
    assert not guard.is_open("verdicts")  # its observation came back with the lock's release, and closed it


def test_the_gate_counts_a_call_from_the_round_trip_that_passes_it_not_from_the_start_of_the_run(
    app, db, key_factory, redis_client
):
    """A run slowed before its round trip (a slow database here) must not enter the gate at the
    moment it began: its call goes out later, and the upstream counts it then."""
    from sqlalchemy import event

    key_id, _, _ = key_factory(status="valid")
    assert check(key_id).action == "done"
    claimed = []

    def slow(conn, cursor, statement, *args):
        if statement.startswith("UPDATE") and not claimed:
            time.sleep(0.3)  # a database that takes its time over the claim
            claimed.append(None)

    def done(conn, cursor, statement, *args):
        if claimed and len(claimed) == 1:
            claimed.append(time.time())

    event.listen(db.engine, "before_cursor_execute", slow)
    event.listen(db.engine, "after_cursor_execute", done)
    try:
        verdict = validate_key(key_id, "tests", slot=time.time())
    finally:
        event.remove(db.engine, "before_cursor_execute", slow)
        event.remove(db.engine, "after_cursor_execute", done)
    assert verdict.action == "done"
    sends = redis_client.zrange(redis_keys.governor_log("sso", "sends"), 0, -1, withscores=True)
    passed_at = max(score for _, score in sends)
    assert passed_at >= claimed[1]  # after the slow claim, as the call itself
