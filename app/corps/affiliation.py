"""Affiliation rounds: character ids gathered in Redis, one POST /characters/affiliation per 1000.

ESI fails a whole batch for one unknown id, so a batch answered with a 4xx is split in halves until
the bad ids are isolated. Characters whose corporation or alliance changed are returned, so their
users are reconciled.
"""

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, insert, select, update

from app.access import guard
from app.access.state import state_from
from app.clock import utcnow
from app.corps.directors import drop_director_roles
from app.corps.models import Alliance, Character, Corporation
from app.eve import get_client
from app.eve.errors import BadRequest, EveError, NotFound
from app.extensions import db, write_transaction
from app.jobs import redis_keys
from app.jobs.connection import get_redis
from app.jobs.setup import get_governor

log = logging.getLogger(__name__)


TAKE_LUA = """
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #popped, 2 do redis.call('ZADD', KEYS[2], popped[i + 1], popped[i]) end
if #popped > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[2]) end
return popped
"""

# Back to the pending set with the time each id started waiting; only when the lease has gone
# (ARGV[1] == '1') unless the round itself puts them back.
PUT_BACK_LUA = """
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local items = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #items, 2 do redis.call('ZADD', KEYS[1], 'NX', items[i + 1], items[i]) end
redis.call('DEL', KEYS[2], KEYS[3])
return #items / 2
"""

_ROUND_KEYS = [
    redis_keys.AFFILIATION_PENDING,
    redis_keys.AFFILIATION_PROCESSING,
    redis_keys.AFFILIATION_LEASE,
]


def gather(character_ids, now=None):
    """Add characters to the next round (a character already waiting keeps its place); how many wait now."""
    ids = [int(i) for i in character_ids]
    now = time.time() if now is None else now
    pipe = get_redis().pipeline(transaction=False)
    if ids:
        pipe.zadd(redis_keys.AFFILIATION_PENDING, dict.fromkeys(ids, now), nx=True)
    pipe.zcard(redis_keys.AFFILIATION_PENDING)
    return pipe.execute()[-1]


def pending_count():
    """How many characters wait for a round."""
    return get_redis().zcard(redis_keys.AFFILIATION_PENDING)


def oldest_wait(now=None):
    """Seconds the longest-waiting character has waited, or None when none waits."""
    first = get_redis().zrange(redis_keys.AFFILIATION_PENDING, 0, 0, withscores=True)
    if not first:
        return None
    now = time.time() if now is None else now
    return now - first[0][1]


def gather_due(limit=10_000):
    """Add characters whose affiliation was not checked for an interval; returns how many."""
    cutoff_dt = utcnow() - timedelta(seconds=current_app.config["AFFILIATION_INTERVAL"])
    ids = db.session.scalars(
        select(Character.id)
        .where(Character.user_id.is_not(None))
        .where((Character.affiliation_checked_at.is_(None)) | (Character.affiliation_checked_at < cutoff_dt))
        .order_by(Character.affiliation_checked_at.is_not(None), Character.affiliation_checked_at)
        .limit(limit)
    ).all()
    db.session.commit()
    gather(ids)
    return len(ids)


class RoundResult:
    """What a round did."""

    def __init__(self):
        self.checked = 0
        self.calls = 0
        self.changed_users = set()
        self.bad_ids = []
        self.wait = 0.0
        self.returned = 0
        self.held = 0  # moves the incident guard held


def put_back_abandoned():
    """Ids a dead round was working on (its lease ran out) go back to wait; returns how many."""
    return int(get_redis().eval(PUT_BACK_LUA, 3, *_ROUND_KEYS, "1"))


def run_round(batch_size=None, keep_alive=None):
    """Take up to one batch of ids and ask ESI where they are; ids are put back if ESI cannot answer.

    The ids being worked on wait in a processing set under a lease (renewed with every call, and
    keep_alive() is called too), so a round that dies loses none of them: see put_back_abandoned.
    """
    redis = get_redis()
    batch_size = batch_size or current_app.config["AFFILIATION_BATCH"]
    result = RoundResult()
    reason, wait = get_governor().permit("esi")
    if reason != "ok" or wait > 0.005:
        result.wait = max(wait, 0.01)
        return result
    lease_ms = int(current_app.config["AFFILIATION_LEASE"] * 1000)
    popped = redis.eval(TAKE_LUA, 3, *_ROUND_KEYS, batch_size, lease_ms)
    ids = [int(member) for member in popped[::2]]
    if not ids:
        return result

    def renew():
        redis.pexpire(redis_keys.AFFILIATION_LEASE, lease_ms)
        if keep_alive is not None:
            keep_alive()

    try:
        rows = _affiliations(ids, result, renew)
    except EveError as exc:
        redis.eval(PUT_BACK_LUA, 3, *_ROUND_KEYS, "0")
        result.returned = len(ids)
        result.wait = exc.wait_seconds(5.0)
        log.warning("affiliation round put %s ids back: %s", len(ids), exc)
        return result
    _apply(rows, result)
    redis.delete(redis_keys.AFFILIATION_PROCESSING, redis_keys.AFFILIATION_LEASE)
    return result


def _affiliations(ids, result, renew):
    """Affiliations of ids; a 4xx batch is split to isolate the ids ESI does not know."""
    client = get_client()
    renew()
    result.calls += 1
    try:
        return client.affiliation(ids)
    except (NotFound, BadRequest):
        if len(ids) == 1:
            result.bad_ids.append(ids[0])
            return []
        middle = len(ids) // 2
        return _affiliations(ids[:middle], result, renew) + _affiliations(ids[middle:], result, renew)


def _apply(rows, result):
    """Store each character's corporation and alliance in bulk; note the users whose standing may change."""
    now = utcnow()
    chars = Character.__table__
    by_id = {row["character_id"]: row for row in rows}
    with write_transaction() as session:
        conn = session.connection()
        _ensure_entities(
            conn,
            {row["corporation_id"] for row in rows},
            {row["alliance_id"] for row in rows if row.get("alliance_id")},
        )
        current = conn.execute(
            select(
                chars.c.id, chars.c.corporation_id, chars.c.alliance_id, chars.c.user_id, chars.c.is_director
            ).where(chars.c.id.in_(list(by_id)))
        ).all()
        moved, left_as_directors = [], []
        changes = [
            (c, by_id[c[0]])
            for c in current
            if (c[1], c[2]) != (by_id[c[0]]["corporation_id"], by_id[c[0]].get("alliance_id"))
        ]
        leaving = _leaving_tracked(conn, changes)
        held = set(leaving) if guard.hold_affiliation(len(current), len(leaving)) else set()
        guard.note_held_characters(sorted(held), sorted(set(by_id) - held))
        for (character_id, corporation_id, _alliance_id, user_id, is_director), row in changes:
            if character_id in held:  # the incident guard doubts this round: nobody moves out yet
                continue
            moved.append({"cid": character_id, "corp": row["corporation_id"], "alli": row.get("alliance_id")})
            if user_id is not None:
                result.changed_users.add(user_id)
            if is_director and row["corporation_id"] != corporation_id:
                left_as_directors.append(character_id)
        if moved:
            conn.execute(
                update(chars)
                .where(chars.c.id == bindparam("cid"))
                .values(corporation_id=bindparam("corp"), alliance_id=bindparam("alli")),
                moved,
            )
        conn.execute(
            update(chars).where(chars.c.id.in_(list(set(by_id) - held))).values(affiliation_checked_at=now)
        )
        if held:  # looked up again once the guard's re-check time has passed
            due_again = now - timedelta(
                seconds=current_app.config["AFFILIATION_INTERVAL"] - current_app.config["GUARD_RECHECK"]
            )
            conn.execute(
                update(chars).where(chars.c.id.in_(list(held))).values(affiliation_checked_at=due_again)
            )
            result.held = len(held)
        result.checked = len(current)
    if left_as_directors:  # a Director role was held in the corporation they left
        drop_director_roles(left_as_directors, "its Director character left the corporation")
    if result.bad_ids:
        log.warning("ESI does not know characters %s", result.bad_ids)


def _leaving_tracked(conn, changes):
    """Ids of registered characters a round would move from a corporation tracked as member or blue
    to one that is untracked or hostile (by corporation or alliance)."""
    corps, alliances = Corporation.__table__, Alliance.__table__
    corp_ids = {c[1] for c, _ in changes} | {row["corporation_id"] for _, row in changes}
    alliance_ids = {c[2] for c, _ in changes if c[2]} | {
        row.get("alliance_id") for _, row in changes if row.get("alliance_id")
    }
    tracking = dict(
        conn.execute(select(corps.c.id, corps.c.tracked_as).where(corps.c.id.in_(corp_ids))).all()
    )
    allied = (
        dict(
            conn.execute(
                select(alliances.c.id, alliances.c.tracked_as).where(alliances.c.id.in_(alliance_ids))
            ).all()
        )
        if alliance_ids
        else {}
    )
    leaving = []
    for (character_id, corporation_id, alliance_id, user_id, _), row in changes:
        if user_id is None:
            continue
        before = state_from("valid", tracking.get(corporation_id), allied.get(alliance_id))
        after = state_from("valid", tracking.get(row["corporation_id"]), allied.get(row.get("alliance_id")))
        if before in ("member", "blue") and after == "guest":
            leaving.append(character_id)
    return leaving


def _ensure_entities(conn, corporation_ids, alliance_ids):
    """Rows for corporations and alliances seen for the first time (corps.refresh names them)."""
    for model, ids in ((Alliance, alliance_ids), (Corporation, corporation_ids)):
        table = model.__table__
        if not ids:
            continue
        known = set(conn.execute(select(table.c.id).where(table.c.id.in_(list(ids)))).scalars())
        missing = [{"id": i, "name": "", "ticker": ""} for i in ids - known]
        if missing:
            conn.execute(insert(table), missing)
