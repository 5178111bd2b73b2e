"""The clock every part of Bastion reads: naive UTC datetimes, as every DateTime column stores them."""

from datetime import UTC, datetime


def utcnow():
    """The current time as a naive UTC datetime, as every DateTime column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)
