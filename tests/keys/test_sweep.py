"""The sweep: due keys, oldest first, up to the high-water mark, never queued twice, not while paused."""

from datetime import timedelta

from app.clock import utcnow
from app.jobs import markers
from app.jobs.pause import pause
from app.keys.models import Key
from app.keys.sweep import VALIDATE, high_water_mark, sweep


def make_keys(db, key_factory, count):
    ids = []
    for offset in range(count):
        key_id, _, _ = key_factory()
        key = db.session.get(Key, key_id)
        key.next_check_at = utcnow() - timedelta(minutes=count - offset)  # the first made is the oldest
        ids.append(key_id)
    db.session.commit()
    return ids


def test_due_keys_are_queued_oldest_first_up_to_the_high_water_mark(app, db, redis_client, key_factory):
    ids = make_keys(db, key_factory, 4)
    later, _, _ = key_factory()  # not due
    db.session.get(Key, later).next_check_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    room = high_water_mark()
    queued = []
    enqueued, more = sweep(room - 2, lambda key_id: queued.append(key_id) or True)
    assert queued == ids[:2] and enqueued == 2 and more
    again = []
    enqueued, more = sweep(0, lambda key_id: again.append(key_id) or True)
    assert again == ids[2:] and not more  # the two already queued are skipped, the later key is not due
    assert markers.is_queued(redis_client, VALIDATE, ids[0])


def test_a_key_without_a_slot_is_left_unmarked(db, redis_client, key_factory):
    ids = make_keys(db, key_factory, 2)
    enqueued, more = sweep(0, lambda key_id: False)
    assert (enqueued, more) == (0, True)
    assert not markers.is_queued(redis_client, VALIDATE, ids[0])


def test_nothing_is_queued_while_paused(db, redis_client, key_factory):
    make_keys(db, key_factory, 2)
    pause(redis_client)
    assert sweep(0, lambda key_id: True) == (0, False)
