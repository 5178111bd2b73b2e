"""Template filters."""

from app.models import utcnow


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
