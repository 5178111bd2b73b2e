"""Affiliation rounds against the sandbox: one call per batch, bad ids isolated, moves noticed."""

from app.corps import affiliation
from app.corps.models import Character, Corporation
from app.jobs import redis_keys


def characters(db, sandbox, count, corporation_id=None, user=None):
    made = []
    for i in range(count):
        row = sandbox.control(
            "POST",
            "/characters",
            json={
                "name": f"Round Pilot {i}",
                **({"corporation_id": corporation_id} if corporation_id else {}),
            },
        )
        if db.session.get(Corporation, row["corporation_id"]) is None:
            db.session.add(Corporation(id=row["corporation_id"]))
            db.session.flush()
        db.session.add(
            Character(
                id=row["character_id"], name=row["name"], user_id=user, corporation_id=row["corporation_id"]
            )
        )
        made.append(row)
    db.session.commit()
    return made


def test_a_round_asks_once_per_batch_and_records_the_check(db, sandbox, redis_client):
    made = characters(db, sandbox, 5)
    assert affiliation.gather([row["character_id"] for row in made]) == 5
    result = affiliation.run_round(batch_size=1000)
    assert result.calls == 1 and result.checked == 5 and not result.bad_ids
    assert sandbox.stats()["affiliation_calls"] == 1
    db.session.expire_all()
    assert all(db.session.get(Character, row["character_id"]).affiliation_checked_at for row in made)
    assert affiliation.pending_count() == 0


def test_an_unknown_id_is_isolated_by_splitting_the_batch(db, sandbox, redis_client):
    made = characters(db, sandbox, 7)
    ids = [row["character_id"] for row in made]
    affiliation.gather(ids + [1])  # 1 is no character at all: ESI fails the whole batch
    result = affiliation.run_round(batch_size=1000)
    assert result.bad_ids == [1]
    assert result.checked == 7
    assert 2 <= result.calls <= 8  # halves until the bad id stands alone


def test_a_character_that_moved_marks_its_user_for_reconciliation(db, sandbox, redis_client, make_user):
    user = make_user()
    made = characters(db, sandbox, 1, user=user.id)[0]
    elsewhere = sandbox.control("POST", "/corporations", json={"name": "Elsewhere Inc", "ticker": "ELSE"})
    sandbox.control(
        "POST",
        f"/characters/{made['character_id']}/move",
        json={"corporation_id": elsewhere["corporation_id"]},
    )
    affiliation.gather([made["character_id"]])
    result = affiliation.run_round()
    assert result.changed_users == {user.id}
    db.session.expire_all()
    moved = db.session.get(Character, made["character_id"])
    assert moved.corporation_id == elsewhere["corporation_id"]
    assert (
        db.session.get(Corporation, elsewhere["corporation_id"]) is not None
    )  # named later by corps.refresh


def test_ids_are_put_back_when_esi_cannot_answer(db, sandbox, redis_client):
    made = characters(db, sandbox, 3)
    affiliation.gather([row["character_id"] for row in made])
    sandbox.configure(esi_fault_rate=1.0, timeout_share=0.0)
    result = affiliation.run_round()
    assert result.returned == 3 and result.wait > 0
    assert redis_client.zcard(redis_keys.AFFILIATION_PENDING) == 3


def test_a_character_waiting_keeps_its_place(redis_client, app):
    with app.app_context():
        affiliation.gather([11], now=100.0)
        affiliation.gather([11, 12], now=200.0)
        assert redis_client.zscore(redis_keys.AFFILIATION_PENDING, "11") == 100.0
        assert affiliation.oldest_wait(now=300.0) == 200.0


def test_ids_of_a_round_that_died_come_back_when_its_lease_runs_out(app, db, redis_client, sandbox):
    with app.app_context():
        affiliation.gather([11, 12, 13], now=1000.0)
        # What a round does first: the batch moves to the processing set under a lease ...
        taken = redis_client.eval(affiliation.TAKE_LUA, 3, *affiliation._ROUND_KEYS, 1000, 60_000)
        assert sorted(int(m) for m in taken[::2]) == [11, 12, 13]
        assert affiliation.pending_count() == 0
        # ... and then its worker is killed: while the lease holds, nobody touches the ids.
        assert affiliation.put_back_abandoned() == 0
        redis_client.delete(redis_keys.AFFILIATION_LEASE)  # the lease ran out
        assert affiliation.put_back_abandoned() == 3
        assert affiliation.pending_count() == 3
        assert redis_client.zscore(redis_keys.AFFILIATION_PENDING, "11") == 1000.0  # their wait is kept
        assert not redis_client.exists(redis_keys.AFFILIATION_PROCESSING)
