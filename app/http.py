"""What every outside client reads from HTTP answers the same way."""


def header_number(value, default=None):
    """A header's value as a number of at least zero (seconds, calls left), or default when unreadable."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default
