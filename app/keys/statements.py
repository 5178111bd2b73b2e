"""The SQL of a key check, built once: a statement built afresh costs SQLAlchemy its cache key on
every run, and the check runs for every key. Plain SQL on the hot path, without the ORM's
bookkeeping."""

import functools

from sqlalchemy import bindparam, literal_column, null, select, update

from app.corps.models import Alliance, Character, Corporation
from app.keys.models import Key

KEYS = Key.__table__
CHARACTERS = Character.__table__
CORPORATIONS = Corporation.__table__
ALLIANCES = Alliance.__table__
_KEY_COLUMNS = (
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
)
SELECT_KEY = (
    select(
        *_KEY_COLUMNS,
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


def _of_character(column):
    """One column of the key's character, or of what the character belongs to, as a subquery of
    the key's row: an UPDATE's RETURNING may name only its own table on SQLite, where SQLAlchemy
    writes it without table names, so the subquery is written out with them."""
    joins = {
        "characters": "",
        "corporations": " JOIN corporations ON corporations.id = characters.corporation_id",
        "alliances": " JOIN corporations ON corporations.id = characters.corporation_id"
        " JOIN alliances ON alliances.id = corporations.alliance_id",
    }[column.table.name]
    return literal_column(
        f"(SELECT {column.table.name}.{column.name} FROM characters{joins}"  # noqa: S608  (our own names)
        " WHERE characters.id = keys.character_id)",
        type_=column.type,
    )


# A key as the last run left it (no claim, no doubt, no re-authorisation awaited) claimed and read
# in one statement: the row comes back, as the run found it, only when this run claimed it.
CLAIM_CLEAN = (
    update(KEYS)
    .where(KEYS.c.id == bindparam("key_id"))
    .where(KEYS.c.refresh_started_at.is_(None))
    .where(KEYS.c.refresh_uncertain.is_(False))
    .where(KEYS.c.needs_reauth.is_(False))
    .values(refresh_started_at=bindparam("now"))
    .returning(
        *(null().label(c.name) if c is KEYS.c.refresh_started_at else c for c in _KEY_COLUMNS),
        _of_character(CHARACTERS.c.affiliation_checked_at).label("affiliation_checked_at"),
        _of_character(CHARACTERS.c.corporation_id).label("corporation_id"),
        _of_character(CHARACTERS.c.is_director).label("is_director"),
        _of_character(CORPORATIONS.c.tracked_as).label("tracked_as"),
        _of_character(ALLIANCES.c.tracked_as).label("alliance_tracked_as"),
    )
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
