"""``GET /metrics``: Prometheus metrics, read at scrape time from Redis and the database.

The consumers are separate processes, so nothing is counted in this process's memory: queue
depths, task outcomes and durations, upstream calls and governor state come from the counters
the consumers keep in Redis (app/jobs/counters.py), keys and users from the database. The route
answers only to the bearer token in METRICS_TOKEN; without one configured it is off.
"""

import hmac

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from app.access import guard
from app.extensions import csrf
from app.jobs import counters, monitor
from app.jobs.connection import get_redis
from app.overview import overview
from tasks import huey

bp = Blueprint("metrics", __name__)

GOVERNOR_STATES = ("ok", "throttled", "backoff", "paused")


class BastionCollector:
    """Everything /metrics reports, gathered when Prometheus asks."""

    def collect(self):
        redis_client = get_redis()
        status = monitor.status(huey)
        queue = GaugeMetricFamily(
            "bastion_queue_tasks", "Tasks in the queue by where they are", labels=["where"]
        )
        for where in ("pending", "scheduled", "running", "dead"):
            queue.add_metric([where], status["queue"][where])
        yield queue
        pending = GaugeMetricFamily(
            "bastion_queue_pending_tasks", "Queued tasks by task and priority", labels=["task", "priority"]
        )
        for task, row in status["by_task"].items():
            for priority, count in row["by_priority"].items():
                pending.add_metric([task, priority], count)
        yield pending
        yield GaugeMetricFamily("bastion_locks_held", "Per-target locks held", value=status["locks_held"])
        yield GaugeMetricFamily("bastion_paused", "1 while all work is paused", value=int(status["paused"]))
        alive = sum(1 for p in status["consumer"]["processes"] if p["alive"])
        yield GaugeMetricFamily("bastion_consumer_processes_alive", "Consumer processes alive", value=alive)

        outcomes = CounterMetricFamily(
            "bastion_tasks", "Finished task attempts by outcome", labels=["task", "outcome"]
        )
        durations = SummaryMetricFamily("bastion_task_duration_seconds", "Time tasks ran", labels=["task"])
        for name, row in sorted(counters.task_totals(redis_client).items()):
            task = huey.short_name(name)
            for outcome in counters.OUTCOMES:
                outcomes.add_metric([task, outcome], row[outcome])
            durations.add_metric([task], count_value=row["timed"], sum_value=row["seconds"])
        yield outcomes
        yield durations

        calls = CounterMetricFamily(
            "bastion_upstream_calls", "Calls to upstream APIs by HTTP status", labels=["upstream", "status"]
        )
        for (upstream, code), count in sorted(counters.upstream_calls(redis_client).items()):
            calls.add_metric([upstream, code], count)
        yield calls

        state = GaugeMetricFamily(
            "bastion_governor_state", "1 for the state each upstream is in", labels=["upstream", "state"]
        )
        rate = GaugeMetricFamily(
            "bastion_governor_rate_per_second", "Calls per second allowed now", labels=["upstream"]
        )
        limit = GaugeMetricFamily("bastion_governor_limit_per_second", "Known limit", labels=["upstream"])
        budget = GaugeMetricFamily(
            "bastion_governor_error_budget_remaining", "ESI error budget left", labels=["upstream"]
        )
        level = GaugeMetricFamily("bastion_governor_backoff_level", "Backoff level", labels=["upstream"])
        for upstream, g in status["upstreams"].items():
            for name in GOVERNOR_STATES:
                state.add_metric([upstream, name], int(g["state"] == name))
            rate.add_metric([upstream], g["rate_per_s"])
            if g["limit_per_s"] is not None:
                limit.add_metric([upstream], g["limit_per_s"])
            if g["error_budget_remaining"] is not None:
                budget.add_metric([upstream], g["error_budget_remaining"])
            level.add_metric([upstream], g["backoff_level"])
        yield from (state, rate, limit, budget, level)

        counts = overview()
        keys = GaugeMetricFamily("bastion_keys", "Keys by status", labels=["status"])
        for name, count in counts["keys"].items():
            keys.add_metric([name], count)
        users = GaugeMetricFamily("bastion_users", "Users by state", labels=["state"])
        for name, count in counts["users"].items():
            users.add_metric([name], count)
        yield keys
        yield users
        held = guard.status()
        yield GaugeMetricFamily(
            "bastion_guard_open", "1 while the incident guard holds removals", value=int(held["open"])
        )
        guarded = GaugeMetricFamily("bastion_guard_held", "What the incident guard holds", labels=["kind"])
        for kind in ("keys", "grants", "characters"):
            guarded.add_metric([kind], held[f"held_{kind}"])
        yield guarded
        yield GaugeMetricFamily(
            "bastion_grants_ending",
            "Grants in their grace period: access ends unless the cause is fixed",
            value=counts["grants_ending"],
        )


def bearer_authorised():
    """True when the caller sent METRICS_TOKEN as a bearer token (never when none is configured)."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
@csrf.exempt
def metrics():
    """Prometheus text format, for a scraper holding the bearer token."""
    if not current_app.config.get("METRICS_TOKEN"):
        return Response("Metrics are off: set METRICS_TOKEN to turn them on.\n", 404, mimetype="text/plain")
    if not bearer_authorised():
        return Response(
            "This needs the bearer token from METRICS_TOKEN.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BastionCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
