"""``python -m bench chaos``: kill -9 consumers, stop them as supervisors do, restart Redis (losing
its data) and restart PostgreSQL during a sweep.

With ``--db-restarts`` the run uses a throwaway PostgreSQL cluster of its own (Debian's server),
which it stops for ``--db-down-s`` seconds at random moments.

A graceful stop is what systemd, Docker, Kubernetes or honcho do: SIGTERM, SIGINT a second later,
SIGKILL ten seconds later if the consumer is still there; a new consumer starts at once.

Every kill and restart happens when the share of checked keys crosses a random threshold, so they
fall at random moments of the work. The run ends when every key has a verdict and every user was
reconciled.
"""

import random
import threading
import time

from bench.harness import Harness
from bench.servers import PostgresServer


def run(args):
    """Run the chaos benchmark; returns the result as a dict."""
    rng = random.Random(args.seed)
    postgres = PostgresServer().start() if args.db_restarts else None
    # The moved characters leave the tracked corporation on purpose: the incident guard is told that
    # many may leave in one round (it would otherwise, rightly, hold them for an admin).
    guard_env = {"GUARD_AFFILIATION_MIN": str(args.moves + 1)} if args.moves else {}
    harness = Harness(
        args.keys, workers=args.workers, database_url=postgres.url if postgres else None, extra_env=guard_env
    )
    events = sorted(
        [(rng.uniform(0.05, 0.9), "kill") for _ in range(args.kills)]
        + [(rng.uniform(0.1, 0.8), "redis") for _ in range(args.redis_restarts)]
        + [(rng.uniform(0.05, 0.9), "graceful") for _ in range(args.graceful_stops)]
        + [(rng.uniform(0.1, 0.7), "db") for _ in range(args.db_restarts)]
    )
    done_events = []
    stopping = []
    moves = {}

    def seed_moves(h):
        if args.moves:
            ids, corporation_id = h.move_characters(args.moves)
            moves.update(ids=set(ids), corporation_id=corporation_id, landed={})

    try:
        consumers = harness.begin(
            args.consumers,
            before_consumers=seed_moves,
            latency_ms=args.latency_ms,
            fault_rate=args.fault_rate,
        )
        started = time.monotonic()
        finished = False
        kills_at = []
        while time.monotonic() - started < args.timeout:
            try:
                checked, reconciled = harness.progress()
            except Exception:  # the database is restarting: look again in a moment
                time.sleep(0.5)
                continue
            if moves:
                now = time.monotonic() - started
                for character_id in harness.characters_in(moves["corporation_id"]) & moves["ids"]:
                    moves["landed"].setdefault(character_id, now)
            all_moved = not moves or len(moves["landed"]) == len(moves["ids"])
            if checked >= args.keys and reconciled >= args.keys and all_moved:
                finished = True
                break
            while events and checked >= events[0][0] * args.keys:
                _, kind = events.pop(0)
                moment = round(time.monotonic() - started, 1)
                if kind == "db":
                    record = {
                        "at_s": moment,
                        "event": f"PostgreSQL down for {args.db_down_s} s",
                        "checked": checked,
                    }
                    done_events.append(record)
                    stopping.append(threading.Thread(target=postgres.restart, args=(args.db_down_s,)))
                    stopping[-1].start()
                elif kind == "graceful":
                    victim = rng.randrange(len(consumers))
                    stopped = consumers[victim]
                    consumers[victim] = harness.start_consumer(periodic=victim == 0)
                    record = {"at_s": moment, "event": "graceful stop of a consumer", "checked": checked}
                    done_events.append(record)
                    stopping.append(threading.Thread(target=_stop_gracefully, args=(stopped, record)))
                    stopping[-1].start()
                elif kind == "kill":
                    victim = rng.randrange(len(consumers))
                    consumers[victim].kill()
                    kills_at.append(moment)
                    consumers[victim] = harness.start_consumer(periodic=victim == 0)
                    done_events.append({"at_s": moment, "event": "kill -9 consumer", "checked": checked})
                else:
                    harness.redis.restart_empty()
                    done_events.append({"at_s": moment, "event": "redis restarted empty", "checked": checked})
            time.sleep(0.2)
        seconds = time.monotonic() - started
        for thread in stopping:
            thread.join()
        stats = harness.sandbox.control("GET", "/stats")
        counts, reauth = harness.key_counts()
        checked, reconciled = harness.progress()
        locks = harness.locks()
        return {
            "benchmark": "chaos",
            "keys": args.keys,
            "validated_all": checked == args.keys,
            "finished": finished,
            "lost": args.keys - checked,
            "reconciled_users": reconciled,
            "keys_by_status": counts,
            "needs_reauth": reauth,
            "overlapping_refreshes": stats["overlapping_refreshes"],
            "rotated_token_reuse": stats["rotated_token_reuse"],
            "duplicate_refreshes": stats["duplicate_refreshes"],
            "wrongly_invalid": harness.wrongly_invalid(),
            "stale_locks": sum(1 for lock in locks if lock["ttl_s"] is None),
            "locks_left": len(locks),
            "upstream_420": stats["served_420"],
            "upstream_429": stats["served_429"],
            "refresh_calls": stats["refresh_calls"],
            "kills": args.kills,
            "redis_restarts": args.redis_restarts,
            "db_restarts": args.db_restarts,
            **_moves_report(moves, kills_at),
            "dead": harness.dead_count(),
            "dead_reasons": harness.dead_reasons(),
            "graceful_stops": args.graceful_stops,
            "graceful_stops_killed": sum(1 for e in done_events if e.get("needed_sigkill")),
            "events": done_events,
            "seconds": round(seconds, 2),
            "consumers": args.consumers,
            "workers_per_consumer": args.workers,
            "latency_ms": args.latency_ms,
            "fault_rate": args.fault_rate,
        }
    finally:
        for thread in stopping:
            thread.join()
        harness.stop()
        if postgres is not None:
            postgres.stop()


def _stop_gracefully(consumer, record):
    """SIGTERM, SIGINT 1 s later, SIGKILL 10 s later if needed; noted on the event."""
    seconds, killed = consumer.graceful_stop(interrupt_after=1.0, kill_after=10.0)
    record["exited_after_s"] = seconds
    record["needed_sigkill"] = killed


def _moves_report(moves, kills_at):
    """How the seeded moves landed: the slowest, measured from the last kill before it landed."""
    if not moves:
        return {}
    waits = [at - max([0.0] + [k for k in kills_at if k <= at]) for at in moves["landed"].values()]
    return {
        "moves_seeded": len(moves["ids"]),
        "moves_landed": len(moves["landed"]),
        "slowest_move_landed_s": round(max(waits), 1) if waits else None,
    }
