"""The queue counts what it holds by task name and priority, on a real Redis."""

import struct
import time


def test_queued_tasks_are_counted_by_name_and_priority_and_counted_down_when_taken(redis_client):
    from tasks import PRIORITY_ON_DEMAND, PRIORITY_SWEEP, huey
    from tasks.access import reconcile
    from tasks.keys import validate

    for key_id in range(3):
        validate(key_id + 1, priority=PRIORITY_SWEEP)
    validate(9, priority=PRIORITY_ON_DEMAND)
    reconcile(4)
    storage = huey.storage
    assert storage.pending_by_task() == {
        ("bastion.keys.validate", PRIORITY_SWEEP): 3,
        ("bastion.keys.validate", PRIORITY_ON_DEMAND): 1,
        ("bastion.access.reconcile", 0): 1,
    }
    first = huey.deserialize_task(storage.dequeue())
    assert (first.args, first.priority) == ((9,), PRIORITY_ON_DEMAND)  # the highest priority first
    assert storage.pending_by_task()[("bastion.keys.validate", PRIORITY_SWEEP)] == 3
    assert ("bastion.keys.validate", PRIORITY_ON_DEMAND) not in storage.pending_by_task()
    assert [huey.deserialize_task(data).args for data in storage.enqueued_items()] == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    while storage.dequeue() is not None:
        pass
    assert storage.pending_by_task() == {}
    assert huey.pending_count() == 0


def test_a_message_queued_without_a_header_is_still_read_and_a_lost_count_heals(redis_client):
    from tasks import huey
    from tasks.keys import validate

    storage = huey.storage
    legacy = huey.serialize_task(validate.s(7))
    storage.conn.zadd(storage.queue_key, {struct.pack(">Q", int(time.time() * 1e6)) + legacy: 0})
    storage.conn.hincrby(storage.counts_key, "bastion.keys.validate|0", 5)  # a count gone astray
    task = huey.deserialize_task(storage.dequeue())
    assert task.args == (7,)
    assert storage.pending_by_task() == {}  # the queue is empty, so nothing is counted


def test_scheduled_tasks_are_counted_by_name_and_each_kind_of_work_sees_only_its_own(redis_client):
    from datetime import UTC, datetime, timedelta

    from tasks import huey
    from tasks.keys import validate
    from tasks.services import sync

    storage = huey.storage
    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=30)
    later = soon + timedelta(hours=1)
    for grant_id in range(1, 120):  # syncs waiting out a webhook's backoff
        huey.add_schedule(sync.s(grant_id, eta=later))
    check = validate.s(5, eta=soon)
    huey.add_schedule(check)
    huey.add_schedule(check)  # the same message twice is one scheduled task
    validate(6)
    assert storage.scheduled_by_task() == {"bastion.services.sync": 119, "bastion.keys.validate": 1}
    assert huey.waiting(validate) == 2  # one queued, one scheduled: the syncs do not count
    assert huey.waiting(sync) == 119
    assert [t.args for t in huey.read_schedule(soon + timedelta(seconds=1))] == [(5,)]
    assert storage.scheduled_by_task() == {"bastion.services.sync": 119}
    storage.conn.hincrby(storage.schedule_counts_key, "bastion.keys.validate", 3)  # a count gone astray
    assert len(huey.read_schedule(later + timedelta(seconds=1))) == 119
    assert storage.scheduled_by_task() == {}  # the schedule is empty, so nothing is counted
