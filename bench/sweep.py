"""``python -m bench sweep``: validate N due keys against the sandbox and report how politely and fast."""

import signal
import subprocess
import sys
import time

from bench.harness import Harness
from bench.receiver import OutageReceiver
from bench.servers import CpuMeter, stop_process, venv_bin


def _per(seconds, count):
    return round(seconds * 1000 / count, 3) if count else None


def _profiler(pid, path):
    """py-spy sampling one consumer (the thread holding the GIL) until stopped; None without it."""
    if not path:
        return None
    return subprocess.Popen(
        [
            venv_bin("py-spy"),
            "record",
            "--pid",
            str(pid),
            "--output",
            path,
            "--format",
            "flamegraph" if path.endswith(".svg") else "raw",
            "--rate",
            "200",
            "--gil",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _redis_commands(url):
    """How many commands of each kind the Redis server has run (every client's, INFO commandstats)."""
    import collections

    import redis

    client = redis.Redis.from_url(url)
    try:
        return collections.Counter(
            {
                name.removeprefix("cmdstat_"): stats["calls"]
                for name, stats in client.info("commandstats").items()
            }
        )
    finally:
        client.close()


def run(args):
    """Run the sweep benchmark; returns the result as a dict."""
    extra = {"GOVERNOR_SAFETY": str(args.safety)} if args.safety else {}
    harness = Harness(
        args.keys,
        workers=args.workers,
        known_limit=args.sso_limit if args.known_limit else None,
        extra_env=extra,
    )
    receiver = OutageReceiver() if args.service_outage_s is not None else None
    hogs = []
    try:
        consumers = harness.begin(
            args.consumers,
            before_consumers=(lambda h: h.add_webhook_service(receiver.url)) if receiver else None,
            latency_ms=args.latency_ms,
            fault_rate=args.fault_rate,
            sso_rate_limit=args.sso_limit,
        )
        # Busy processes beside the run, as a neighbour on a shared machine would be.
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.cpu_hog)]
        # The window opens once the consumers run: their start-up is not the work measured. Keys
        # checked before it opens (a few, by the first consumer up) are left out of the figures.
        harness.wait_ready(consumers)
        started = time.monotonic()
        checked_before, _ = harness.progress()
        refreshes_before = harness.sandbox.control("GET", "/stats")["refresh_calls"]
        meters = {
            "consumers": CpuMeter([c.pid for c in consumers]).start(),
            "sandbox": CpuMeter(harness.sandbox.pids()).start(),
            "redis": CpuMeter([harness.redis.process.pid if harness.redis.process else None]).start(),
        }
        commands_before = _redis_commands(harness.redis.url)
        profiler = _profiler(consumers[0].pid, getattr(args, "profile", None))
        if receiver:
            receiver.go_down_for(args.service_outage_s)
        peak_rss = 0.0
        done = False
        keys_done_s = None
        timeline = []
        while time.monotonic() - started < args.timeout:
            checked, reconciled = harness.progress()
            timeline.append((round(time.monotonic() - started, 1), checked, reconciled))
            peak_rss = max([peak_rss] + [c.peak_rss_mb() or 0 for c in consumers])
            if checked >= args.keys and reconciled >= args.keys:
                keys_done_s = keys_done_s or round(time.monotonic() - started, 2)
                syncs = harness.grant_syncs() if receiver else {}
                if not receiver or (syncs and set(syncs) <= {"synced", "failed"}):
                    done = True
                    break
            if not all(c.alive() for c in consumers):
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        for meter in meters.values():
            meter.stop()
        commands = _redis_commands(harness.redis.url)
        commands.subtract(commands_before)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes the profile as it stops
            profiler.wait(timeout=60)
        peak_rss = max([peak_rss] + [c.peak_rss_mb() or 0 for c in consumers])
        stats = harness.sandbox.control("GET", "/stats")
        governor = harness.governor_state("sso")
        counts, reauth = harness.key_counts()
        checked, reconciled = harness.progress()
        measured = checked - checked_before  # keys checked inside the window
        refresh_calls = stats["refresh_calls"]
        span = (stats["last_refresh_at"] or 0) - (stats["first_refresh_at"] or 0)
        achieved = refresh_calls / span if span > 0 else None
        result = {
            "benchmark": "sweep",
            "keys": args.keys,
            "validated": checked,
            "reconciled_users": reconciled,
            "finished": done,
            "seconds": round(seconds, 2),
            "refresh_calls": refresh_calls,
            "affiliation_calls": stats["affiliation_calls"],
            "affiliation_ids": stats["affiliation_ids"],
            "affiliation_batches": stats["affiliation_batches"],
            "esi_calls": {k: v for k, v in stats["calls"].items() if "/esi/" in k},
            "duplicate_refreshes": stats["duplicate_refreshes"],
            "overlapping_refreshes": stats["overlapping_refreshes"],
            "rotated_token_reuse": stats["rotated_token_reuse"],
            "upstream_429": stats["served_429"],
            "upstream_420": stats["served_420"],
            "faults_injected": stats["faults"],
            "allowed_rate": args.sso_limit,
            # the most token calls the sandbox let through in any one second: at most the limit
            "busiest_second_calls": stats.get("busiest_token_second"),
            "achieved_rate": round(achieved, 2) if achieved else None,
            "efficiency": round(achieved / args.sso_limit, 3) if achieved and args.sso_limit else None,
            "wrongly_invalid": harness.wrongly_invalid(),
            "keys_per_s": round(measured / seconds, 1) if seconds else None,
            "cpu_hogs": args.cpu_hog,
            "cpu_ms": {
                "consumers_per_validated_key": _per(meters["consumers"].total(), measured),
                "sandbox_per_refresh": _per(meters["sandbox"].total(), refresh_calls - refreshes_before),
                "redis_per_validated_key": _per(meters["redis"].total(), measured),
            },
            "redis_commands_per_validated_key": round(commands.total() / measured, 1) if measured else None,
            "redis_commands_by_name": dict(commands.most_common(20)) if args.verbose else None,
            "keys_by_status": counts,
            "needs_reauth": reauth,
            "consumer_peak_rss_mb": round(peak_rss, 1),
            "consumers": args.consumers,
            "governor": governor,
            "workers_per_consumer": args.workers,
            "latency_ms": args.latency_ms,
            "known_limit": bool(args.known_limit),
            "fault_rate": args.fault_rate,
        }
        if receiver:
            delivered = [at - started for grant_id, at in receiver.delivered.items() if grant_id]
            result["service_outage"] = {
                "outage_s": args.service_outage_s,
                "keys_checked_s": keys_done_s,
                "grants_by_sync_status": harness.grant_syncs(),
                "syncs_delivered": len(delivered),
                "refused_while_down": receiver.refused,
                "first_delivered_s": round(min(delivered), 1) if delivered else None,
                "last_delivered_s": round(max(delivered), 1) if delivered else None,
            }
        if profiler is not None:
            result["profile"] = (
                args.profile if profiler.returncode == 0 else profiler.stderr.read().decode()[-500:]
            )
        if not done or args.verbose:
            result["consumer_log_tail"] = consumers[0].log()[-3000:]
        if args.verbose:
            result["timeline"] = timeline[:: max(1, len(timeline) // 40)]
        return result
    finally:
        for hog in hogs:
            stop_process(hog)
        harness.stop()
        if receiver:
            receiver.stop()
