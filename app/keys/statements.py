"""The SQL of a key check, built once: a statement built afresh costs SQLAlchemy its cache key on
every run, and the check runs for every key. Plain SQL on the hot path, without the ORM's
bookkeeping."""

import functools

from sqlalchemy import bindparam, select, update

from app.corps.models import Alliance, Character, Corporation
from app.keys.models import Key

KEYS = Key.__table__
CHARACTERS = Character.__table__
CORPORATIONS = Corporation.__table__
ALLIANCES = Alliance.__table__
SELECT_KEY = (
    select(
        KEYS.c.id,
        KEYS.c.user_id,
        KEYS.c.character_id,
        KEYS.c.refresh_token_encrypted,
        KEYS.c.owner_hash,
        KEYS.c.status,
        KEYS.c.refresh_started_at,
        KEYS.c.refresh_uncertain,
        KEYS.c.scopes,
        KEYS.c.error_since,
        KEYS.c.needs_reauth,
        KEYS.c.consecutive_failures,
        KEYS.c.next_check_at,
        KEYS.c.last_ok_at,
        KEYS.c.source,
        CHARACTERS.c.affiliation_checked_at,
        CHARACTERS.c.corporation_id,
        CHARACTERS.c.is_director,
        CORPORATIONS.c.tracked_as,
        ALLIANCES.c.tracked_as.label("alliance_tracked_as"),
    )
    .join_from(KEYS, CHARACTERS, CHARACTERS.c.id == KEYS.c.character_id)
    .outerjoin(CORPORATIONS, CORPORATIONS.c.id == CHARACTERS.c.corporation_id)
    .outerjoin(ALLIANCES, ALLIANCES.c.id == CORPORATIONS.c.alliance_id)
    .where(KEYS.c.id == bindparam("key_id"))
)
CLAIM = (
    update(KEYS)
    .where(KEYS.c.id == bindparam("key_id"))
    .where((KEYS.c.refresh_started_at.is_(None)) | (KEYS.c.refresh_started_at < bindparam("cutoff")))
    .values(refresh_started_at=bindparam("now"))
)
CLAIMED_AT = select(KEYS.c.refresh_started_at).where(KEYS.c.id == bindparam("key_id"))


@functools.lru_cache(maxsize=64)
def _key_update(columns):
    """An UPDATE of these columns of one key, built once per set of columns (a statement built
    afresh costs SQLAlchemy its cache key on every run)."""
    return (
        update(KEYS)
        .where(KEYS.c.id == bindparam("key_id"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )


def update_key(conn, key_id, values):
    """Update one key's columns on an open connection."""
    statement = _key_update(tuple(sorted(values)))
    conn.execute(statement, {"key_id": key_id, **{f"new_{c}": v for c, v in values.items()}})
