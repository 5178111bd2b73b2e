"""When a key is checked next: its interval, spread with jitter, never inside EVE's downtime."""

import random
from datetime import UTC, datetime, timedelta

from app.clock import timestamp, utcnow
from app.jobs.governor import downtime_until, parse_window


def spread(seconds, jitter):
    """An interval with up to +-jitter of it added at random, so keys do not bunch up."""
    return seconds * (1 + random.uniform(-jitter, jitter))  # noqa: S311  (scheduling, not security)


def next_check(config, now=None, interval=None):
    """The next check of a key: one interval (with jitter) from now, moved out of the downtime."""
    now = now or utcnow()
    interval = config["KEY_CHECK_INTERVAL"] if interval is None else interval
    moment = now + timedelta(seconds=spread(interval, config["CHECK_JITTER"]))
    window = parse_window(config.get("EVE_DOWNTIME", ""))
    end = downtime_until(window, timestamp(moment))
    if end:
        moment = _from_timestamp(end) + timedelta(seconds=random.uniform(0, 300))  # noqa: S311
    return moment


def _from_timestamp(stamp):
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
