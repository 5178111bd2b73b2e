"""The clock every part of Bastion reads: naive UTC datetimes, as every DateTime column stores them."""

from datetime import UTC, datetime


def utcnow():
    """The current time as a naive UTC datetime, as every DateTime column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def timestamp(naive_utc):
    """Seconds since the epoch of a naive UTC datetime (as the columns store them)."""
    return naive_utc.replace(tzinfo=UTC).timestamp()
