"""A key's refresh claimed in the database, and short writes of one key's row.

The claim is a compare-and-set on the key's row, so two runs never refresh one key at once even if
Redis lost its locks; a claim older than the lock TTL belongs to a run that died.
"""

from datetime import timedelta

from app.clock import utcnow
from app.extensions import write_transaction
from app.jobs.locks import RETRY_SOON
from app.keys.statements import CLAIM, CLAIM_CLEAN, CLAIMED_AT, update_key


def claim_clean(key_id):
    """Claim a key left clean by the last run (no claim, no doubt, no re-authorisation awaited) and
    read it, in one statement: its row as the run found it, or None when it was not claimed."""
    with write_transaction() as session:
        return session.connection().execute(CLAIM_CLEAN, {"key_id": key_id, "now": utcnow()}).first()


def claim_refresh(row, ttl):
    """Claim the key's refresh in the database: (claimed, seconds to wait, an earlier run was cut off).

    A compare-and-set, so two runs never refresh one key at once even if Redis lost its locks; a
    claim older than the lock TTL belongs to a run that died.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=ttl)
    with write_transaction() as session:
        conn = session.connection()
        claimed = conn.execute(CLAIM, {"key_id": row.id, "now": now, "cutoff": cutoff}).rowcount == 1
        held = None if claimed else conn.execute(CLAIMED_AT, {"key_id": row.id}).scalar()
    if not claimed:
        # A live run usually ends soon; a dead one's claim goes stale when its lock expires.
        wait = ttl - (now - held).total_seconds() if held else RETRY_SOON
        return False, max(0.5, min(RETRY_SOON, wait)), False
    return True, 0.0, row.refresh_started_at is not None


def release_claim(row, uncertain):
    """Free the key's claim without having used its token; a doubt about an earlier cut-off refresh
    (the claim this run took over, or one noted before) is kept, so a later invalid_grant asks for
    re-authorisation instead of counting as definitive."""
    write_key(row.id, refresh_started_at=None, refresh_uncertain=bool(uncertain))


def write_key(key_id, **values):
    """Update one key in a short transaction of its own."""
    with write_transaction() as session:
        update_key(session.connection(), key_id, values)
