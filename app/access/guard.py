"""The incident guard: a misbehaving EVE never strips an alliance.

Three kinds of event that remove access go through it: definitive key verdicts ("verdicts": a key
turning invalid), removals of grants ("removals": a member losing a grant), and affiliation rounds
("affiliation": characters leaving tracked corporations). Each kind keeps a sliding window in
Redis; when what removes access within the window exceeds what is plausible (more than
max(minimum, share) of what was seen), the kind opens: new verdicts and removals are held (keys
keep their last status, grants stay active, characters keep their corporation), and held keys are
re-checked after GUARD_RECHECK seconds. A kind closes by itself when, GUARD_RECHECK seconds after
it opened, the recent window looks normal again; nothing held is applied by closing: each held key
waits for its own re-check. One rule (plausible) opens and closes every kind. What an admin may
do with what is held (apply, discard, re-check now) is app/access/guard_actions.py.
"""

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, update

from app.access.models import Grant
from app.access.state import reconcile_states
from app.accounts.models import User
from app.audit import record
from app.corps.models import Character
from app.extensions import db
from app.jobs import redis_keys
from app.jobs.connection import get_redis
from app.jobs.rounds import Batch, later
from app.keys.models import Key

log = logging.getLogger(__name__)

KINDS = ("verdicts", "removals", "affiliation")
LABELS = {
    "verdicts": "keys turning invalid",
    "removals": "members losing a grant",
    "affiliation": "characters leaving tracked corporations",
}

# Records one event in its kind's window and reads what the rule needs; deciding is plausible()'s.
OBSERVE_LUA = """
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local removing, recheck, kind = ARGV[4] == '1', tonumber(ARGV[5]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, member)
if removing then redis.call('ZADD', KEYS[2], now, member) end
local state = redis.call('HMGET', KEYS[3], kind .. ':since', kind .. ':applied_until', 'known')
return {
  redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('ZCOUNT', KEYS[1], now - recheck, '+inf'), redis.call('ZCOUNT', KEYS[2], now - recheck, '+inf'),
  state[1] or '', state[2] or '', state[3] or '',
}
"""


def _config(name):
    return current_app.config[name]


def _limits(kind):
    prefix = {"verdicts": "GUARD_VERDICT", "removals": "GUARD_REMOVAL", "affiliation": "GUARD_AFFILIATION"}[
        kind
    ]
    return _config(f"{prefix}_MIN"), _config(f"{prefix}_SHARE")


def plausible(kind, removing, seen):
    """The guard's one rule: `removing` events of `seen` in a window are plausible (no incident)
    when they are at most max(minimum, share x seen) for the kind. A kind opens when it is broken
    and closes when its recent window keeps it again."""
    minimum, share = _limits(kind)
    return removing <= max(minimum, share * seen)


def _close(kind, why):
    """The kind looks normal again: stop holding its events (what is held waits for its re-check)."""
    get_redis().hdel(redis_keys.GUARD_STATE, f"{kind}:since", f"{kind}:detail")
    log.warning("incident guard closed for %s: %s", LABELS[kind], why)


def _open(kind, detail, now):
    """Start holding a kind's events; False when another process opened it first."""
    redis = get_redis()
    if not redis.hsetnx(redis_keys.GUARD_STATE, f"{kind}:since", now):
        return False
    redis.hset(redis_keys.GUARD_STATE, f"{kind}:detail", detail)
    log.warning("incident guard opened for %s: %s; holding them", LABELS[kind], detail)
    return True


_SCRIPTS = {}


def _observe(kind, member, removing, base=0, now=None):
    """Count one event of a kind; ('pass' | 'hold' | 'opened' | 'closed', seen, removing) in the window.

    base: what a share of removals is a share of, when not the events seen (members, for removals).
    """
    if not _config("GUARD_ENABLED"):
        return "pass", 0, 0
    now = time.time() if now is None else now
    redis = get_redis()
    batch = _observation(Batch(redis), kind, member, removing, now)
    return _judge(kind, batch.send()[0], removing, base, now)


def _observation(batch, kind, member, removing, now, then=None):
    """Queue one event's observation into a round trip; its answer is for _judge()."""
    keys = (redis_keys.guard_events(kind, False), redis_keys.guard_events(kind, True), redis_keys.GUARD_STATE)
    args = (now, _config("GUARD_WINDOW"), member, int(removing), _config("GUARD_RECHECK"), kind)
    script = _SCRIPTS.get("observe")
    if script is None:  # built once (its hash is computed then), and sent by its hash
        script = _SCRIPTS["observe"] = batch.redis.register_script(OBSERVE_LUA)
    return batch.script(script, keys, args, then=then)


def _judge(kind, answer, removing, base, now):
    """What an observation's answer decides (see _observe)."""
    seen, bad, recent, recent_bad, since, applied, known = answer
    if not known:  # Redis lost the guard's state: what the database holds reopens it
        since = _recover(get_redis(), now).get(f"{kind}:since", since)
    since, applied = _number(since), _number(applied) or 0.0
    recheck = _config("GUARD_RECHECK")
    if since is not None:
        if not removing and now - since >= recheck and plausible(kind, recent_bad, recent):
            _close(kind, "the re-checks look normal")
            return "closed", seen, bad
        return ("hold" if removing else "pass"), seen, bad
    if removing and now >= applied and not plausible(kind, bad, base if base > 0 else seen):
        detail = f"{bad} {LABELS[kind]} in {_config('GUARD_WINDOW') / 60:.0f} min"
        if kind != "removals":
            detail += f", {100 * bad / max(seen, 1):.0f} % of {seen}"
        return ("opened" if _open(kind, detail, now) else "hold"), seen, bad
    return "pass", seen, bad


def _state(redis, now=None):
    """The guard's state in Redis, recovered from the database first when Redis lost it."""
    state = redis.hgetall(redis_keys.GUARD_STATE)
    if "known" not in state:
        state = _recover(redis, time.time() if now is None else now)
    return state


def _recover(redis, now):
    """Redis lost the guard's state (restarted empty, flushed): the held key verdicts and grant
    removals in the database reopen their kinds from now, so nothing held goes through before the
    re-checks have been seen; the 'known' mark says the state is whole again. Returns the state."""
    held_keys = db.session.scalar(db.select(func.count()).select_from(Key).where(Key.held_at.is_not(None)))
    held_grants = db.session.scalar(
        db.select(func.count()).select_from(Grant).where(Grant.held_at.is_not(None))
    )  # read in the caller's transaction (an affiliation round's, say): never committed here
    for kind, held, what in (("verdicts", held_keys, "key verdicts"), ("removals", held_grants, "removals")):
        if held and redis.hsetnx(redis_keys.GUARD_STATE, f"{kind}:since", now):
            redis.hset(
                redis_keys.GUARD_STATE,
                f"{kind}:detail",
                f"reopened: Redis lost the guard's state while {held} {what} were held",
            )
            log.warning("incident guard reopened for %s: %s held in the database", LABELS[kind], held)
    redis.hset(redis_keys.GUARD_STATE, "known", 1)
    return redis.hgetall(redis_keys.GUARD_STATE)


def _number(raw):
    """A number Redis returned as text ('' or None: no number)."""
    raw = raw.decode() if isinstance(raw, bytes) else raw
    return float(raw) if raw else None


# Verdicts


# Marks, in a verdict's event, a key whose character held a Director role the verdict takes away.
DIRECTOR_MARK = "+director"


def observe_check(key_id, turns_invalid, previous, now=None, director=False):
    """A key's check ended; turns_invalid when its verdict would make it invalid. 'hold' (keep the
    key's status and re-check it later), 'opened' (hold it, and the recent verdicts are held too),
    'pass' or 'closed' (record the verdict). director: the key's character is a Director, so that a
    verdict taken back gives the directorship back too.

    A verdict that would not make the key invalid is never held: it is 'pass' at once, and counted
    with the run's next round trip to Redis (app/jobs/rounds.py), whose answer may close the guard.
    """
    now = time.time() if now is None else now
    member = f"{key_id}:{previous}{DIRECTOR_MARK if director else ''}:{now:.6f}"
    if turns_invalid or not _config("GUARD_ENABLED"):
        return _observe("verdicts", member, turns_invalid, now=now)[0]

    def judge(answer):
        _judge("verdicts", answer, False, 0, now)

    later(get_redis(), lambda batch: _observation(batch, "verdicts", member, False, now, then=judge))
    return "pass"


def hold_values(reason, now):
    """What a held verdict writes on the key: the reason and a re-check, status unchanged."""
    return {
        "held_reason": reason[:255],
        "held_at": now,
        "next_check_at": now + timedelta(seconds=_config("GUARD_RECHECK")),
    }


def after_verdict(conn, key_id, decision, reason, now):
    """In the verdict's transaction: audit a held verdict; when the guard just opened, take back the
    verdicts of the window that already made keys invalid. (users to reconcile, key ids held)."""
    if decision in ("hold", "opened"):
        record(
            "key.held", target_type="key", target_id=key_id, detail=f"held by the incident guard: {reason}"
        )
    if decision != "opened":
        return set(), []
    previous, directors = {}, set()
    for member in get_redis().zrange(redis_keys.guard_events("verdicts", True), 0, -1):
        held_id, status, _ = (member if isinstance(member, str) else member.decode()).split(":", 2)
        status, mark, _ = status.partition("+")
        if int(held_id) != key_id:
            previous.setdefault(int(held_id), status)
            if mark:
                directors.add(int(held_id))
    return take_back(conn, previous, now, directors)


def is_open(kind):
    """True while the guard holds this kind of event."""
    return f"{kind}:since" in _state(get_redis())


def take_back(conn, previous, now, directors=()):
    """Keys that turned invalid (or, imported, were refused and wait for re-authorisation) are held
    instead: each back to its status before ({key id: status}), the reason kept, a re-check due;
    their users' states reconciled; a Director role the verdict took away (directors: key ids) is
    given back, and the caller reconciles those users' directorships. (users, key ids taken back)."""
    keys = Key.__table__
    users, held = set(), []
    for key_id, status in previous.items():
        row = conn.execute(
            keys.select().where(
                keys.c.id == key_id,
                (keys.c.status == "invalid") | keys.c.needs_reauth.is_(True),
                keys.c.held_at.is_(None),
            )
        ).first()
        if row is None:
            continue
        values = hold_values(row.reason or "invalid", now)
        conn.execute(
            update(keys)
            .where(keys.c.id == key_id)
            .values(status=status, reason=None, needs_reauth=False, error_since=None, **values)
        )
        record(
            "key.held",
            target_type="key",
            target_id=key_id,
            detail=f"taken back by the incident guard: {row.reason}",
        )
        users.add(row.user_id)
        held.append(key_id)
        if key_id in directors:
            characters = Character.__table__
            conn.execute(
                update(characters).where(characters.c.id == row.character_id).values(is_director=True)
            )
    if users:
        reconcile_states(conn, sorted(users), now)
    return users, held


# Removals


def _members():
    """Members and blues: what a share of members losing a grant is a share of."""
    return db.session.scalar(
        db.select(func.count()).select_from(User).where(User.state.in_(("member", "blue")))
    )


def hold_removal(user_id, now=None):
    """A member is about to lose a grant: True when the guard holds the removal."""
    decision, _, _ = _observe("removals", str(user_id), True, base=_members() or 1, now=now)
    return decision in ("hold", "opened")


# Affiliation


def hold_affiliation(checked, leaving, now=None):
    """An affiliation round would move `leaving` of `checked` characters out of tracked
    corporations: True when the guard holds those moves.

    The guard judges the rounds of its window together, so that many small rounds of wrong data
    open it as one big round would; once open, only a round whose own share of moves is normal
    (at most the share, whatever the minimum) closes it, so a small round of wrong data never does.
    """
    if not _config("GUARD_ENABLED") or not checked:
        return False
    redis, now = get_redis(), time.time() if now is None else now
    state = _state(redis, now)
    events = redis_keys.guard_events("affiliation", False)
    pipe = redis.pipeline()
    pipe.zremrangebyscore(events, "-inf", now - _config("GUARD_WINDOW"))
    pipe.zadd(events, {f"{now:.6f}:{checked}:{leaving}": now})
    pipe.zrange(events, 0, -1)
    rounds = [member.split(":")[1:] for member in pipe.execute()[-1]]
    seen, gone = sum(int(c) for c, _ in rounds), sum(int(g) for _, g in rounds)
    if float(state.get("affiliation:applied_until") or 0) > now:
        return False
    if "affiliation:since" in state:
        if leaving <= _limits("affiliation")[1] * checked:
            _close("affiliation", "a round looked normal")
            return False
        return True
    if plausible("affiliation", gone, seen):
        return False
    minutes = _config("GUARD_WINDOW") / 60
    share = 100 * gone / seen
    detail = f"{gone} of {seen} characters ({share:.0f} %) in {len(rounds)} rounds of {minutes:.0f} min"
    _open("affiliation", detail, now)
    return True


def note_held_characters(held, released):
    """Characters whose moves a round held, and those it applied (no longer held)."""
    pipe = get_redis().pipeline()
    if released:
        pipe.srem(redis_keys.GUARD_HELD_CHARACTERS, *released)
    if held:
        pipe.sadd(redis_keys.GUARD_HELD_CHARACTERS, *held)
    pipe.execute()


# What admins see and do


def status(now=None):
    """The guard for the dashboard: open kinds (since, detail), and what is held."""
    now = time.time() if now is None else now
    state = _state(get_redis(), now)
    kinds = {}
    for kind in KINDS:
        since = state.get(f"{kind}:since")
        if since is not None:
            kinds[kind] = {
                "since": float(since),
                "detail": state.get(f"{kind}:detail", ""),
                "label": LABELS[kind],
            }
    held_keys = db.session.scalar(db.select(func.count()).select_from(Key).where(Key.held_at.is_not(None)))
    held_grants = db.session.scalar(
        db.select(func.count()).select_from(Grant).where(Grant.held_at.is_not(None))
    )
    held_characters = get_redis().scard(redis_keys.GUARD_HELD_CHARACTERS)
    return {
        "open": bool(kinds),
        "kinds": kinds,
        "held_keys": held_keys,
        "held_grants": held_grants,
        "held_characters": held_characters,
        "held": held_keys + held_grants + held_characters,
    }


def review(now=None):
    """Close kinds whose recent window looks normal again (the periodic look, as each check does)."""
    redis, now = get_redis(), time.time() if now is None else now
    state = _state(redis, now)
    recheck = _config("GUARD_RECHECK")
    closed = []
    for kind in ("verdicts", "removals"):
        since = state.get(f"{kind}:since")
        if since is None or now - float(since) < recheck:
            continue
        recent_bad = redis.zcount(redis_keys.guard_events(kind, True), now - recheck, "+inf")
        recent = redis.zcount(redis_keys.guard_events(kind, False), now - recheck, "+inf")
        if kind == "removals":
            recent = _members()
            db.session.commit()
        if plausible(kind, recent_bad, recent):
            _close(kind, "the recent window looks normal")
            closed.append(kind)
    return closed


def users_with_held_grants():
    """Users whose held removals wait for the guard to close (reconciled again once it has)."""
    if is_open("removals"):
        return []
    return db.session.scalars(db.select(Grant.user_id).where(Grant.held_at.is_not(None)).distinct()).all()
