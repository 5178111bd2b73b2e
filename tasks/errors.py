"""Errors raised by tasks, and checks of task arguments."""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


class GaveUp(Exception):
    """A task stopped retrying; the dead store keeps it for a manual retry."""


class TaskArgumentError(ValueError):
    """A task was queued with an argument it cannot use."""


# Ids are 64-bit in the database (EVE's character ids are large); anything bigger names nothing.
MAX_ID = 2**63 - 1


def checked_id(value, name):
    """A positive whole number that fits an id, or a clear error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
        raise TaskArgumentError(f"{name} must be a positive whole number below 2**63, got {shown}")
    return value


def is_database_blip(exc):
    """True when the database could not be reached or dropped the connection: worth waiting out."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def is_redis_blip(exc):
    """True when Redis could not be reached or dropped the connection (a restart): worth waiting out."""
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


def is_blip(exc):
    """A store Bastion needs was away for a moment: the database or Redis."""
    return is_database_blip(exc) or is_redis_blip(exc)


class UnknownTask(LookupError):
    """A stored task names no task this version knows (or could not be read): it cannot run again."""
