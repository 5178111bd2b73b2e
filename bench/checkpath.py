"""``python -m bench checkpath``: one key check after another in this process, in one thread, and
the CPU each costs this process (the sandbox and Redis run apart).

The sweep benchmark measures the whole engine under load, where two consumers of eight threads
share two cores with the sandbox: its CPU figures move by up to a fifth between runs. This one
measures the check itself (validate_key and what follows a verdict, as keys.validate runs them,
without Huey's queue), with no other thread to contend with, and how its cost divides (--profile).
On a virtual machine whose speed varies it still moves by about a tenth from run to run.

--floor measures only what no design of the engine avoids, with Bastion's own EVE client (without
the governor's hook) and cipher: decrypt the refresh token, refresh it, encrypt the new one, verify
the access token, and the roles call. No Redis, SQL, lock, queue or verdict.

--recheck checks every key once first (untimed), then measures checking them again: valid keys
checked again, the steady state of a real install. Every mode reports the Redis round trips
(commands or pipelines sent) and SQL statements per measured check.

--beside-floor measures the check (with --recheck, checking again) and the floor in the same run,
on half the keys each, in alternate blocks of 50, and reports the ratio: the machine's speed
varies from run to run, the ratio much less.
"""

import copy
import cProfile
import pstats
import time

from bench.harness import Harness


def run(args):
    """Check N due keys one at a time; report CPU and wall time per key."""
    harness = Harness(args.keys, known_limit=100_000)
    try:
        harness.start()
        harness.seed()
        harness.sandbox.control("POST", "/config", json={"latency_ms": 0})
        harness.sandbox.control("POST", "/stats/reset")
        from app.keys import validation
        from tasks.keys import after_check

        with harness.app.app_context():
            from app.extensions import db
            from app.keys.models import Key

            ids = db.session.scalars(db.select(Key.id).order_by(Key.id)).all()
            db.session.commit()
            if args.beside_floor:
                return _beside_floor(args, harness, ids, _whole_check(validation.validate_key, after_check))
            warm, measured = ids[: args.warmup], ids[args.warmup :]
            check = _floor_check() if args.floor else _whole_check(validation.validate_key, after_check)
            for key_id in warm:
                check(key_id)
            if args.recheck:  # every key valid once, then due again
                for key_id in measured:
                    check(key_id)
                _all_due_again()
                for key_id in warm:
                    check(key_id)
            counter = _Counter(db.engine)
            profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waiting
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            verdicts = {}
            for key_id in measured:
                action = check(key_id)
                if action is not None:
                    verdicts[action] = verdicts.get(action, 0) + 1
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            counted = counter.stop()
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").dump_stats(args.profile)
        count = len(measured)
        return {
            "benchmark": "checkpath",
            "part": "floor: refresh, roles call, token verified, decrypted and encrypted"
            if args.floor
            else "a valid key checked again"
            if args.recheck
            else "the whole check (first checks)",
            "keys": count,
            "verdicts": verdicts,
            "cpu_ms_per_key": round(cpu * 1000 / count, 3) if count else None,
            "wall_ms_per_key": round(wall * 1000 / count, 3) if count else None,
            "redis_round_trips_per_key": round(counted["redis"] / count, 2) if count else None,
            "sql_statements_per_key": round(counted["sql"] / count, 2) if count else None,
            "refresh_calls": harness.sandbox.control("GET", "/stats")["refresh_calls"],
            "database": harness.database_url.split(":", 1)[0],
        }
    finally:
        harness.stop()


def _whole_check(validate_key, after_check):
    """A function checking one key as keys.validate does, without the queue; returns the verdict's action."""

    def check(key_id):
        verdict = validate_key(key_id, "bench")
        after_check(verdict)
        return verdict.action

    return check


def _floor_check():
    """A function doing, for one key, only the outside calls and the cryptography of a check."""
    from app import crypto
    from app.eve import get_client
    from app.extensions import db
    from app.keys.models import Key

    client = copy.copy(get_client())  # the app's client, settings and all, without the governor's hook
    client.on_response = None
    stored = {
        key.id: (key.character_id, key.refresh_token_encrypted) for key in db.session.scalars(db.select(Key))
    }
    db.session.commit()

    def check(key_id):
        character_id, secret = stored[key_id]
        tokens = client.refresh(crypto.decrypt(secret))
        stored[key_id] = (character_id, crypto.encrypt(tokens["refresh_token"]))
        client.verify(tokens["access_token"])
        client.roles(character_id, tokens["access_token"])

    return check


def _all_due_again():
    """Every key due now, as each is again once its interval has passed."""
    from app.extensions import db
    from app.keys.models import Key

    db.session.execute(db.update(Key).values(next_check_at=db.func.now()))
    db.session.commit()


def _beside_floor(args, harness, ids, whole):
    """The check (first checks, or with recheck checks again) and the floor in one run: half the
    keys each, measured in alternate blocks, so both meet the same machine."""
    from app.extensions import db

    mine, floors = ids[0::2], ids[1::2]
    floor = _floor_check()
    for key_id in mine[: args.warmup // 2]:
        whole(key_id)
    for key_id in floors[: args.warmup // 2]:
        floor(key_id)
    mine, floors = mine[args.warmup // 2 :], floors[args.warmup // 2 :]
    if args.recheck:
        for key_id in mine:
            whole(key_id)
        _all_due_again()
    cpu = {"check": 0.0, "floor": 0.0}
    counter = _Counter(db.engine)
    block = 50
    for start in range(0, min(len(mine), len(floors)), block):
        for mode, check, keys in (("check", whole, mine), ("floor", floor, floors)):
            began = time.process_time()
            for key_id in keys[start : start + block]:
                check(key_id)
            cpu[mode] += time.process_time() - began
    counted = counter.stop()
    count = min(len(mine), len(floors))
    per = {mode: cpu[mode] * 1000 / count for mode in cpu}
    return {
        "benchmark": "checkpath",
        "part": ("a valid key checked again" if args.recheck else "the whole check (first checks)")
        + ", beside the floor",
        "keys_each": count,
        "cpu_ms_per_check": round(per["check"], 3),
        "cpu_ms_per_floor": round(per["floor"], 3),
        "ratio": round(per["check"] / per["floor"], 2),
        "redis_round_trips_per_check": round(counted["redis"] / count, 2),
        "sql_statements_per_check": round(counted["sql"] / count, 2),
        "database": harness.database_url.split(":", 1)[0],
    }


class _Counter:
    """Counts what this process sends from now on: Redis round trips (a command, or a pipeline, or a
    script, sent as one packet) and SQL statements."""

    def __init__(self, engine):
        from redis.connection import Connection
        from sqlalchemy import event

        self.counts = {"redis": 0, "sql": 0}
        self._connection_class, self._send = Connection, Connection.send_packed_command
        counts, send = self.counts, self._send

        def counted_send(connection, command, check_health=True):
            counts["redis"] += 1
            return send(connection, command, check_health)

        Connection.send_packed_command = counted_send
        self._engine, self._event = engine, event

        def statement(*_args):
            counts["sql"] += 1

        self._statement = statement
        event.listen(engine, "before_cursor_execute", statement)

    def stop(self):
        self._connection_class.send_packed_command = self._send
        self._event.remove(self._engine, "before_cursor_execute", self._statement)
        return dict(self.counts)
