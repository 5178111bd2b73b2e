"""Template filters."""

import time
from datetime import UTC, datetime

from app.clock import utcnow


def when(moment):
    """A UTC time as "in 5 min" or "3 h ago", or "never"."""
    if moment is None:
        return "never"
    seconds = (moment - utcnow()).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    if seconds < 60:
        return "in a moment" if future else "just now"
    if seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)} h"
    else:
        text = f"{int(seconds // 86400)} d"
    return f"in {text}" if future else f"{text} ago"


def seconds(value):
    """A duration as "0.4 s", "12 s", "3 min 5 s", "2 h 10 min"."""
    if value is None:
        return "–"
    value = max(0.0, float(value))
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def relative(timestamp):
    """An epoch time as "in 3.2 s" or "12 s ago"."""
    if timestamp is None:
        return "–"
    delta = float(timestamp) - time.time()
    return f"in {seconds(delta)}" if delta > 0 else f"{seconds(-delta)} ago"


def clock(timestamp):
    """An epoch time as "14:03:07 UTC"."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
