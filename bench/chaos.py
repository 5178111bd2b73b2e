"""``python -m bench chaos``: kill -9 consumers and restart Redis (losing its data) during a sweep.

Every kill and restart happens when the share of checked keys crosses a random threshold, so they
fall at random moments of the work. The run ends when every key has a verdict and every user was
reconciled.
"""

import random
import time

from bench.harness import Harness


def run(args):
    """Run the chaos benchmark; returns the result as a dict."""
    rng = random.Random(args.seed)
    harness = Harness(args.keys, workers=args.workers)
    events = sorted(
        [(rng.uniform(0.05, 0.9), "kill") for _ in range(args.kills)]
        + [(rng.uniform(0.1, 0.8), "redis") for _ in range(args.redis_restarts)]
    )
    done_events = []
    try:
        consumers = harness.begin(args.consumers, latency_ms=args.latency_ms, fault_rate=args.fault_rate)
        started = time.monotonic()
        finished = False
        while time.monotonic() - started < args.timeout:
            checked, reconciled = harness.progress()
            if checked >= args.keys and reconciled >= args.keys:
                finished = True
                break
            while events and checked >= events[0][0] * args.keys:
                _, kind = events.pop(0)
                moment = round(time.monotonic() - started, 1)
                if kind == "kill":
                    victim = rng.randrange(len(consumers))
                    consumers[victim].kill()
                    consumers[victim] = harness.start_consumer(periodic=victim == 0)
                    done_events.append({"at_s": moment, "event": "kill -9 consumer", "checked": checked})
                else:
                    harness.redis.restart_empty()
                    done_events.append({"at_s": moment, "event": "redis restarted empty", "checked": checked})
            time.sleep(0.2)
        seconds = time.monotonic() - started
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
            "events": done_events,
            "seconds": round(seconds, 2),
            "consumers": args.consumers,
            "workers_per_consumer": args.workers,
            "latency_ms": args.latency_ms,
            "fault_rate": args.fault_rate,
        }
    finally:
        harness.stop()
