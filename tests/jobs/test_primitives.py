"""Locks, markers, the pause switch and the dead store on a real Redis."""

import subprocess
import sys
import time

from app.jobs import deadstore, markers, redis_keys
from app.jobs.locks import TargetLock, list_locks
from app.jobs.pause import is_paused, pause, resume
from tests.support import wait_for


def test_a_lock_has_one_owner_who_alone_releases_it(redis_client):
    first = TargetLock(redis_client, "key:1", "worker-a", ttl=30)
    second = TargetLock(redis_client, "key:1", "worker-b", ttl=30)
    assert first.acquire() == (True, 0.0)
    acquired, wait = second.acquire()
    assert not acquired and 0 < wait <= 1.0
    second.release()  # not the owner: nothing happens
    assert list_locks(redis_client)[0][0]["owner"] == "worker-a"
    assert first.extend()
    first.release()
    assert list_locks(redis_client)[0] == []
    assert second.acquire()[0]


def test_the_lock_index_follows_each_acquire_extend_and_release(redis_client):
    """The index the dashboard lists locks from is written in the lock's own scripts."""
    index, name = redis_keys.LOCK_INDEX, redis_keys.lock("key:7")
    lock = TargetLock(redis_client, "key:7", "worker-a", ttl=30)
    before = time.time()
    assert lock.acquire()[0]
    first = redis_client.zscore(index, name)
    assert before + 30 <= first <= time.time() + 30
    assert not TargetLock(redis_client, "key:7", "worker-b", ttl=30).acquire()[0]
    assert redis_client.zscore(index, name) == first  # a refused acquire leaves it alone
    wait_for(lambda: time.time() + 30 > first + 0.01, timeout=2, message="the clock to move")
    assert lock.extend()
    assert redis_client.zscore(index, name) > first
    TargetLock(redis_client, "key:7", "worker-b", ttl=30).release()  # not the owner
    assert redis_client.zscore(index, name) is not None
    lock.release()
    assert redis_client.zscore(index, name) is None and redis_client.get(name) is None


def test_a_lock_of_a_killed_process_expires_by_itself(redis_client):
    script = (
        "import redis, sys, time; from app.jobs.locks import TargetLock;"
        "r = redis.Redis.from_url(sys.argv[1], decode_responses=True);"
        "assert TargetLock(r, 'key:9', 'killed', ttl=2).acquire()[0];"
        "print('held', flush=True); time.sleep(60)"
    )
    url = redis_client.connection_pool.connection_kwargs
    holder = subprocess.Popen(
        [sys.executable, "-c", script, f"redis://127.0.0.1:{url['port']}/0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait()
        (held,), count = list_locks(redis_client)
        assert (held["name"], held["owner"], count) == ("key:9", "killed", 1)
        mine = TargetLock(redis_client, "key:9", "survivor", ttl=30)
        assert not mine.acquire()[0]
        wait_for(lambda: mine.acquire()[0], timeout=10, message="the dead holder's lock to expire")
    finally:
        holder.kill()


def test_markers_keep_a_target_from_being_queued_twice(redis_client):
    assert markers.claim(redis_client, "keys.validate", 5)
    assert not markers.claim(redis_client, "keys.validate", 5)
    assert markers.is_queued(redis_client, "keys.validate", 5)
    markers.clear(redis_client, "keys.validate", 5)
    assert markers.claim(redis_client, "keys.validate", 5)


def test_the_pause_switch(redis_client):
    assert not is_paused(redis_client)
    pause(redis_client, "admin")
    assert is_paused(redis_client)
    resume(redis_client)
    assert not is_paused(redis_client)


def test_the_dead_store_keeps_what_is_needed_to_run_a_task_again(redis_client):
    dead_id = deadstore.add(
        redis_client,
        name="bastion.keys.validate",
        args=[3],
        kwargs={"attempt": 6},
        priority=100,
        target="validate:3",
        error="GaveUp: no",
        traceback="Traceback ...",
        attempts=6,
        task_id="abc",
    )
    assert deadstore.count(redis_client) == 1
    assert deadstore.get(redis_client, dead_id)["kwargs"] == {"attempt": 6}
    requeued = []
    assert deadstore.retry(redis_client, dead_id, requeued.append)
    assert requeued[0]["args"] == [3] and requeued[0]["priority"] == 100
    assert not deadstore.retry(redis_client, dead_id, requeued.append)  # a second click finds nothing
    other = deadstore.add(
        redis_client,
        name="x",
        args=[],
        kwargs={},
        priority=None,
        target=None,
        error="e",
        traceback="",
        attempts=1,
    )
    assert deadstore.discard(redis_client, other) and deadstore.count(redis_client) == 0


def test_retry_all_runs_every_dead_task(redis_client):
    for i in range(3):
        deadstore.add(
            redis_client,
            name="bastion.keys.validate",
            args=[i],
            kwargs={},
            priority=None,
            target=None,
            error="e",
            traceback="",
            attempts=1,
        )
    requeued = []
    assert deadstore.retry_all(redis_client, requeued.append) == 3
    assert sorted(entry["args"][0] for entry in requeued) == [0, 1, 2]
