"""Errors raised by tasks, and checks of task arguments."""


class GaveUp(Exception):
    """A task stopped retrying; the dead store keeps it for a manual retry."""


class TaskArgumentError(ValueError):
    """A task was queued with an argument it cannot use."""


def checked_id(value, name):
    """A positive whole number, or a clear error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskArgumentError(f"{name} must be a positive whole number, got {value!r}")
    return value
