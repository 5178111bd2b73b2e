"""Shared column helpers and the import of every model, so Alembic sees the whole schema."""

from datetime import UTC, datetime


def utcnow():
    """The current time as a naive UTC datetime, as every DateTime column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def import_all_models():
    """Import every area's models so that db.metadata holds the whole schema."""
    from app.accounts import models as _accounts  # noqa: F401
    from app.admin import models as _admin  # noqa: F401
    from app.corps import models as _corps  # noqa: F401
    from app.jobs import models as _jobs  # noqa: F401
    from app.keys import models as _keys  # noqa: F401
    from app.services import models as _services  # noqa: F401
