"""Template filters."""

import time
from datetime import UTC, datetime

from app.clock import utcnow

DAY = 86400


def date(moment):
    """A UTC time as "2026-12-03 14:05 UTC"."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def when(moment):
    """A UTC time as "in 5 min" or "3 h ago" within a day, else its date; or "never"."""
    if moment is None:
        return "never"
    seconds = (moment - utcnow()).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    if seconds >= DAY:
        return f"on {date(moment)}"
    if seconds < 60:
        return "in a moment" if future else "just now"
    text = f"{int(seconds // 60)} min" if seconds < 3600 else f"{int(seconds // 3600)} h"
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
    if value < DAY:
        return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"
    return f"{int(value // DAY)} d {int(value % DAY // 3600)} h"


def relative(timestamp):
    """An epoch time as "in 3.2 s" or "12 s ago" within a minute, then as ``when`` says it."""
    if timestamp is None:
        return "–"
    delta = float(timestamp) - time.time()
    if abs(delta) >= 60:
        return when(datetime.fromtimestamp(float(timestamp), UTC).replace(tzinfo=None))
    return f"in {seconds(delta)}" if delta > 0 else f"{seconds(-delta)} ago"


def clock(timestamp):
    """An epoch time as "14:03:07 UTC"."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# What the audit log's actions are called in words (others: "Thing: what happened").
ACTION_NAMES = {
    "key.invalid": "Key turned invalid",
    "key.reauth": "Key needs re-authorisation",
    "key.remove": "Key removed",
    "key.check": "Key check asked for",
    "key.held": "Key verdict held by the guard",
    "grant.approved": "Access given on request",
    "grant.manual": "Access given by hand",
    "grant.requested": "Access given on asking",
    "grant.revoked": "Access revoked",
    "request.approved": "Request approved",
    "request.denied": "Request denied",
    "request.withdrawn": "Request withdrawn",
    "user.create": "Account created",
    "user.main": "Main character changed",
    "user.role": "Role changed",
    "user.imported": "Moved from Alliance Auth",
    "user.sessions_ended": "Signed out everywhere by an admin",
    "user.signed_out_everywhere": "Signed out everywhere",
    "director.appoint": "Director appointed",
    "director.dismiss": "Director appointment ended",
    "director.esi": "Director by ESI role",
    "director.esi_lost": "Director role lost in ESI",
    "guard.apply": "Held changes applied",
    "guard.discard": "Held changes discarded",
    "queue.pause": "All work paused",
    "queue.resume": "Work resumed",
    "queue.sweep": "Sweep run by hand",
    "task.retry": "Dead task retried",
    "task.retry_all": "Every dead task retried",
    "task.discard": "Dead task discarded",
    "alerts.test": "Test alert sent",
}


def action_name(action):
    """An audit action in words: "key.invalid" -> "Key turned invalid"."""
    if action in ACTION_NAMES:
        return ACTION_NAMES[action]
    thing, _, what = (action or "").partition(".")
    return (
        f"{thing.replace('_', ' ').capitalize()}: {what.replace('_', ' ').replace('.', ' ')}"
        if what
        else action
    )
