"""The engine with real consumer processes: one key never runs twice at once, killed workers are
reaped, locks expire after a kill, failed tasks go to the dead store and come back with Retry."""

import re
from datetime import timedelta

from app import crypto
from app.clock import utcnow
from app.jobs import deadstore, inflight, redis_keys
from app.jobs.locks import list_locks
from app.keys.models import Key
from tests.support import wait_for


def key_row(db, key_id):
    db.session.expire_all()
    row = db.session.get(Key, key_id)
    db.session.commit()
    return row


def idle(redis_client):
    """Nothing queued, scheduled or running."""
    from tasks import huey

    return (
        huey.pending_count() == 0
        and huey.scheduled_count() == 0
        and not redis_client.hlen(redis_keys.INFLIGHT)
    )


def test_two_consumers_never_refresh_one_key_at_once(db, sandbox, redis_client, consumer, key_factory):
    from tasks import PRIORITY_ON_DEMAND
    from tasks.keys import validate

    key_id, _, _ = key_factory()
    sandbox.configure(latency_ms=400)
    # The check's affiliation round goes at once rather than after 30 s of gathering, so that the
    # queue is idle as soon as the work is done.
    fast = {"AFFILIATION_MAX_WAIT": "0.5"}
    first, second = consumer(periodic=False, extra_env=fast), consumer(periodic=False, extra_env=fast)
    validate(key_id, priority=PRIORITY_ON_DEMAND)
    validate(key_id, priority=PRIORITY_ON_DEMAND)  # the same key, twice, past the enqueue marker
    wait_for(
        lambda: key_row(db, key_id).status == "valid" and idle(redis_client),
        timeout=60,
        message=lambda: f"both runs to finish; logs:\n{first.log()[-2000:]}\n{second.log()[-2000:]}",
    )
    stats = sandbox.stats()
    assert stats["overlapping_refreshes"] == 0
    assert stats["rotated_token_reuse"] == 0
    assert 1 <= stats["refreshes_ok"] <= 2
    assert key_row(db, key_id).status == "valid"


def test_a_killed_worker_is_reaped_its_lock_expires_and_the_lost_token_asks_for_reauthorisation(
    db, sandbox, redis_client, consumer, key_factory
):
    from tasks import PRIORITY_ON_DEMAND
    from tasks.keys import validate

    key_id, _, _ = key_factory(status="valid")
    key = db.session.get(Key, key_id)
    key.next_check_at = utcnow() + timedelta(hours=1)  # not due: the consumer's start-up sweep leaves it
    db.session.commit()
    sandbox.configure(latency_ms=5000)  # SSO rotates the token, then takes its time to answer
    short = {"LOCK_TTL": "6"}
    victim = consumer(periodic=False, extra_env=short)
    validate(key_id, priority=PRIORITY_ON_DEMAND)
    check = f"key:{key_id}"

    def checking():
        return [row for row in inflight.running(redis_client) if row.get("target") == check]

    wait_for(
        lambda: sandbox.stats()["in_flight"] >= 1 and checking(),
        timeout=30,
        message=lambda: f"the refresh to be in flight; log:\n{victim.log()[-2000:]}",
    )
    victim.kill()  # the consumer's start-up work (an upkeep, a sweep) may be running beside it
    held = {lock["name"]: lock for lock in list_locks(redis_client)[0]}
    assert check in held  # beside it, maybe, the lock of a sweep the consumer was running
    assert 0 < held[check]["ttl_s"] <= 6
    wait_for(lambda: not list_locks(redis_client)[0], timeout=15, message="the dead worker's lock to expire")
    assert len(checking()) == 1  # nobody has taken its work back yet
    sandbox.configure(latency_ms=0)
    rescuer = consumer(periodic=False, extra_env=short)
    wait_for(
        lambda: key_row(db, key_id).needs_reauth,
        timeout=60,
        message=lambda: f"the reaped task to run again; log:\n{rescuer.log()[-3000:]}",
    )
    key = key_row(db, key_id)
    assert key.status == "error"  # never invalid: the member keeps access and is asked to re-authorise
    stats = sandbox.stats()
    assert stats["overlapping_refreshes"] == 0
    assert re.search(r"requeued [1-9]\d* tasks of dead workers", rescuer.log())
    wait_for(lambda: not checking(), timeout=15, message="the rerun to finish")


def test_a_task_that_fails_for_good_goes_to_the_dead_store_and_retry_runs_it_again(
    db, sandbox, redis_client, consumer, key_factory
):
    import tasks
    from tasks import PRIORITY_ON_DEMAND
    from tasks.keys import validate

    key_id, _, token = key_factory(status="valid")
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0)
    worker = consumer(periodic=False, extra_env={"VALIDATE_MAX_ATTEMPTS": "2", "RETRY_BASE": "0.05"})
    validate(key_id, priority=PRIORITY_ON_DEMAND)
    wait_for(
        lambda: deadstore.count(redis_client) == 1,
        timeout=30,
        message=lambda: f"the task in the dead store; log:\n{worker.log()[-2000:]}",
    )
    entry = deadstore.page(redis_client)[0]
    assert entry["name"] == "bastion.keys.validate" and entry["args"] == [key_id]
    assert entry["kwargs"]["attempt"] == 2 and entry["attempts"] == 2
    assert "GaveUp" in entry["error"] and "gave up after 2 attempts" in entry["error"]
    assert "Traceback" in entry["traceback"]
    assert key_row(db, key_id).status == "valid"  # transient failures never make a key invalid
    assert crypto.decrypt(key_row(db, key_id).refresh_token_encrypted) == token

    sandbox.configure(sso_fault_rate=0.0)
    assert deadstore.retry(redis_client, entry["id"], tasks.requeue)
    assert deadstore.count(redis_client) == 0
    wait_for(
        lambda: key_row(db, key_id).refresh_uncertain is False and key_row(db, key_id).last_ok_at is not None,
        timeout=30,
        message=lambda: f"the retried task to succeed; log:\n{worker.log()[-2000:]}",
    )
    assert key_row(db, key_id).consecutive_failures == 0


def test_the_reaper_gives_up_after_a_few_deaths(redis_client):
    requeued = []
    entry_args = ("bastion.keys.validate", [7], {"attempt": 1, "slot": None})
    for _ in range(inflight.MAX_REAPS + 1):
        inflight.register(redis_client, "t1", *entry_args, 100, "validate:7", "otherhost:1:Worker-1", now=0)
        inflight.reap(redis_client, requeued.append, now=10_000)
    assert len(requeued) == inflight.MAX_REAPS
    assert requeued[0]["args"] == [7] and requeued[0]["kwargs"] == {"attempt": 1, "slot": None}
    dead = deadstore.page(redis_client)
    assert len(dead) == 1 and "died" in dead[0]["error"]


def test_the_reaper_leaves_live_work_alone(redis_client):
    import os
    import socket

    worker = f"{socket.gethostname()}:{os.getpid()}:Worker-1"
    inflight.register(redis_client, "t2", "bastion.keys.validate", [8], {}, 100, "validate:8", worker)
    assert inflight.reap(redis_client, lambda entry: None) == (0, 0)
    assert redis_client.hlen(redis_keys.INFLIGHT) == 1


def test_a_consumer_stopped_with_sigterm_mid_refresh_stores_the_rotated_token(
    db, sandbox, redis_client, consumer, key_factory
):
    from tasks import PRIORITY_ON_DEMAND
    from tasks.keys import validate

    key_id, _, token = key_factory(status="valid")
    sandbox.configure(latency_ms=2000)  # SSO rotates the token, then takes its time to answer
    worker = consumer(periodic=False)
    validate(key_id, priority=PRIORITY_ON_DEMAND)
    wait_for(
        lambda: sandbox.stats()["in_flight"] >= 1,
        timeout=30,
        message=lambda: f"the refresh to be in flight; log:\n{worker.log()[-2000:]}",
    )
    seconds, killed = worker.graceful_stop(interrupt_after=1.0, kill_after=20.0)  # as a supervisor does
    assert not killed and worker.process.returncode == 0, worker.log()[-2000:]
    key = key_row(db, key_id)
    assert key.status == "valid" and not key.refresh_uncertain and key.refresh_started_at is None
    assert crypto.decrypt(key.refresh_token_encrypted) != token  # the rotated token was stored
    assert sandbox.stats()["rotated_token_reuse"] == 0
    assert not redis_client.hlen(redis_keys.INFLIGHT)


def test_a_round_killed_mid_call_loses_no_character_and_the_moves_land(
    db, sandbox, redis_client, consumer, key_factory
):
    from app.corps import affiliation
    from app.corps.models import Character
    from tasks.corps import affiliation_round

    key_id, made, _ = key_factory(status="valid")
    target = sandbox.control("POST", "/corporations", json={"name": "Elsewhere Inc", "ticker": "ELSE"})
    sandbox.control(
        "POST", f"/characters/{made['character_id']}/move", json={"corporation_id": target["corporation_id"]}
    )
    sandbox.configure(latency_ms=4000)  # the affiliation call takes its time
    fast = {"AFFILIATION_LEASE": "2", "AFFILIATION_MAX_WAIT": "0.1"}
    victim = consumer(periodic=False, extra_env=fast)
    affiliation.gather([made["character_id"]])
    affiliation_round("full")  # a round now, whatever else the consumer finds to do
    wait_for(
        lambda: sandbox.stats()["in_flight"] >= 1 and redis_client.exists(redis_keys.AFFILIATION_PROCESSING),
        timeout=30,
        message=lambda: f"the affiliation call to be in flight; log:\n{victim.log()[-2000:]}",
    )
    victim.kill()
    assert affiliation.pending_count() == 0  # the id is only in the dead round's hands
    sandbox.configure(latency_ms=0)
    rescuer = consumer(periodic=False, extra_env=fast)

    def landed():
        db.session.expire_all()
        moved = db.session.get(Character, made["character_id"]).corporation_id == target["corporation_id"]
        db.session.commit()
        return moved

    wait_for(landed, timeout=45, message=lambda: f"the move to land; log:\n{rescuer.log()[-3000:]}")
    assert "of a dead affiliation round put back" in rescuer.log()


def test_a_redis_that_lost_its_data_is_noticed_by_the_upkeep_and_due_keys_are_swept(
    db, sandbox, redis_client, consumer, key_factory
):
    key_id, _, _ = key_factory(status="pending")
    worker = consumer(periodic=False)  # no periodic sweep: only the upkeep can find the work
    wait_for(
        lambda: redis_client.exists(redis_keys.EPOCH),
        timeout=20,
        message=lambda: f"the upkeep to mark this Redis; log:\n{worker.log()[-2000:]}",
    )
    wait_for(lambda: key_row(db, key_id).status == "valid", timeout=30, message="the first sweep")
    key = key_row(db, key_id)
    key.next_check_at = key.last_checked_at  # due again
    db.session.commit()
    redis_client.flushall()  # Redis restarted empty: queue, markers and epoch are gone
    checked = key_row(db, key_id).last_checked_at
    wait_for(
        lambda: key_row(db, key_id).last_checked_at != checked,
        timeout=30,
        message=lambda: f"the key to be checked again; log:\n{worker.log()[-2000:]}",
    )
    assert "Redis holds no epoch" in worker.log()
