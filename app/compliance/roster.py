"""Reading a corporation's in-game members with its tracking token, and storing them.

ESI's member list is cached an hour (its Expires is honoured and its ETag sent back); names of
characters Bastion does not know come from POST /universe/names in batches of up to 1,000. Every
ESI call passes the ESI governor first; a 429 from the corp-member bucket waits its Retry-After.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select, update

from app.clock import utcnow
from app.compliance import tokens as tracking
from app.compliance.models import CoverageSample, Roster, RosterMember, TrackingToken
from app.compliance.report import coverage
from app.corps.directors import is_member_corporation
from app.corps.models import Character, Corporation
from app.eve import get_client
from app.eve.errors import ErrorLimited, EveError, RateLimited, Unauthorized
from app.extensions import db, write_transaction
from app.jobs.backoff import retry_delay
from app.jobs.outcome import DONE, RETRY, Outcome
from app.jobs.setup import get_governor
from app.services.models import Service

log = logging.getLogger(__name__)

UPSTREAM = "esi"
MEMBERS_ROUTE = "/corporations/{id}/members"
NAMES_BATCH = 1000
CHUNK = 500  # ids per IN (...) list
SAMPLES_KEPT_DAYS = 90
MEMBERS = RosterMember.__table__


# A reading that needs a fresh access token first: the task checks key_id, then reads again.
NEED_TOKEN = "need_token"  # noqa: S105  (an action, not a secret)


@dataclass
class Reading(Outcome):
    """A reading's outcome: done, wait, retry (a failure, with backoff) or NEED_TOKEN; with the key
    to check for a token, and the users whose standing the reading may have changed."""

    key_id: int | None = None
    users: tuple = ()


def _timestamp(value):
    """An ESI date-time as a naive UTC datetime, or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _chunks(values, size=CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _roster(corporation_id):
    """The corporation's roster row, made when missing (inside a write transaction)."""
    roster = db.session.get(Roster, corporation_id)
    if roster is None:
        roster = Roster(corporation_id=corporation_id, member_count=0)
        db.session.add(roster)
    return roster


def _settle(corporation_id, now, refused=None, error=None):
    """Record the tokens ESI refused, and why the list could not be read (if it could not)."""
    with write_transaction() as session:
        roster = _roster(corporation_id)
        if error is not None:
            roster.error, roster.error_at = error[:255], now
        for token_id, message in (refused or {}).items():
            session.execute(
                update(TrackingToken)
                .where(TrackingToken.id == token_id)
                .values(error=message[:255], error_at=now)
            )


def refresh(corporation_id, force=False, attempt=1):
    """Read the corporation's members if the last reading expired (or force); committed.

    A failed reading is tried again with backoff up to VALIDATE_MAX_ATTEMPTS; then it is done for
    now, its error shown, and the next sweep reads again.

    No transaction is open during an outside call: what the reading needs is read first, the
    calls are made, then everything is written in one short write transaction.
    """
    corporation = db.session.get(Corporation, corporation_id)
    if corporation is None or not is_member_corporation(corporation):
        db.session.commit()
        return Reading("done", message="not a member corporation")
    now = utcnow()
    roster = db.session.get(Roster, corporation_id)
    if (
        roster is not None
        and not force
        and roster.expires_at
        and roster.expires_at > now
        and not roster.error
    ):
        db.session.commit()
        return Reading("done", message="the last reading is still fresh")
    etag = roster.etag if roster is not None and roster.refreshed_at is not None and not force else None
    tokens = tracking.tokens_of(corporation_id)
    # A key added again through "Add character" may have lost the membership scope.
    lacking = {
        t.id: "its key no longer grants the membership scope: add the tracking token again"
        for t in tokens
        if tracking.MEMBERSHIP_SCOPE not in t.key.scope_list
    }
    candidates = [
        (t.id, t.key_id, t.tracks_members, t.key.character.name, t.key.character_id)
        for t in tokens
        if t.key.status != "invalid" and t.id not in lacking
    ]
    db.session.commit()
    if not candidates:
        error = "No working tracking token: a director of the corporation must add one."
        _settle(corporation_id, now, lacking, error)
        return Reading("done", message="no tracking token")
    usable = [(c, tracking.access_token(c[1])) for c in candidates]
    usable = [(c, access) for c, access in usable if access]
    if not usable:
        return Reading(NEED_TOKEN, key_id=candidates[0][1], message="no fresh access token")
    client, refused = get_client(), dict(lacking)
    for (token_id, key_id, tracks_members, _, character_id), access in usable:
        reason, wait = get_governor().gate(UPSTREAM)
        if reason == "ok":
            bucket_ok, wait = get_governor().buckets.gate(MEMBERS_ROUTE, f"character:{character_id}")
            reason = "ok" if bucket_ok else "the corp-member bucket is spent"
        if reason != "ok":
            _settle(corporation_id, now, refused)
            return Reading("wait", delay=max(wait, 0.5), message=f"esi: {reason}")
        try:
            ids, new_etag, expires = client.esi_read(f"/corporations/{corporation_id}/members", access, etag)
        except Unauthorized as exc:
            refused[token_id] = str(exc)
            tracking.forget_access(key_id)
            log.info("tracking token %s refused for %s: %s", token_id, corporation_id, exc)
            continue
        except (RateLimited, ErrorLimited) as exc:
            _settle(corporation_id, now, refused)
            return Reading("wait", delay=exc.wait_seconds(1.0), message=str(exc))
        except EveError as exc:
            _settle(
                corporation_id,
                now,
                refused,
                f"ESI did not answer ({exc}); the list below is from the last reading.",
            )
            config = current_app.config
            if attempt >= config["VALIDATE_MAX_ATTEMPTS"]:
                return Reading(DONE, message=f"gave up for now after {attempt} attempts: {exc}")
            delay = retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
            return Reading(RETRY, delay=delay, message=str(exc))
        logons, logons_note = _logons(client, tracks_members, access, corporation_id)
        reading = _gather(corporation_id, ids)
        with write_transaction() as session:
            _settle(corporation_id, now, refused)
            session.execute(
                update(TrackingToken)
                .where(TrackingToken.id == token_id)
                .values(error=None, error_at=None, last_used_at=now)
            )
            roster = _roster(corporation_id)
            roster.etag = new_etag
            roster.expires_at = datetime.fromtimestamp(expires, UTC).replace(tzinfo=None) if expires else None
            roster.refreshed_at, roster.error, roster.error_at = now, None, None
            roster.logons_note = logons_note
            if logons is not None:
                roster.logons_at = now
            users = _write(session.connection(), corporation_id, roster, *reading, logons, now)
        return Reading("done", message=f"{len(reading[0])} members", users=tuple(users))
    names = "; ".join(f"{c[3]}: {refused[c[0]]}" for c, _ in usable if c[0] in refused)
    _settle(corporation_id, now, refused, f"ESI refused every tracking token ({names}).")
    return Reading("done", message="every tracking token was refused")


def no_access_token(corporation_id):
    """The key checks that should have brought a fresh access token did not: say so (the reading
    is tried again after ROSTER_RETRY_S)."""
    _settle(
        corporation_id,
        utcnow(),
        error="No tracking token could be used: EVE did not confirm its key lately (see the token's health).",
    )


def _logons(client, tracks_members, access, corporation_id):
    """({character id: (logon, logoff, joined)} or None, a note when unavailable) from member tracking."""
    if not tracks_members:
        return None, "Last logons need a tracking token with member tracking (a Director's)."
    try:
        rows, _, _ = client.esi_read(f"/corporations/{corporation_id}/membertracking", access)
    except EveError as exc:
        return None, f"Last logons unavailable: {exc}"[:255]
    found = {
        int(r["character_id"]): (
            _timestamp(r.get("logon_date")),
            _timestamp(r.get("logoff_date")),
            _timestamp(r.get("start_date")),
        )
        for r in rows or []
        if isinstance(r, dict) and isinstance(r.get("character_id"), int)
    }
    return found, None


def _names(ids):
    """Names of characters: Bastion's own first, then ESI's in batches of up to 1,000."""
    known = {}
    for chunk in _chunks(ids):
        known.update(
            db.session.execute(select(Character.id, Character.name).where(Character.id.in_(chunk))).all()
        )
    db.session.commit()
    unknown = sorted(set(ids) - set(known))
    client = get_client()
    for batch in _chunks(unknown, NAMES_BATCH):
        try:
            known.update((int(r["id"]), str(r["name"])[:128]) for r in client.names(batch) if "id" in r)
        except EveError as exc:  # the names come with the next reading
            log.info("names of %s characters not read: %s", len(batch), exc)
    return known


def _gather(corporation_id, ids):
    """(ids now, the stored {id: name}, names of those without one) for the write; ids None (a 304:
    unchanged since the last reading) keeps the stored list."""
    existing = dict(
        db.session.execute(
            select(MEMBERS.c.character_id, MEMBERS.c.name).where(MEMBERS.c.corporation_id == corporation_id)
        ).all()
    )
    db.session.commit()
    ids = set(existing) if ids is None else {int(i) for i in ids}
    nameless = {i for i in ids if not existing.get(i)}
    return ids, existing, _names(nameless) if nameless else {}


def _write(conn, corporation_id, roster, ids, existing, names, logons, now):
    """Replace the stored member list with the new one, add a coverage sample; the ids of users to
    reconcile when a service requires every in-game character to be registered."""
    gone, new = set(existing) - ids, ids - set(existing)
    for chunk in _chunks(gone):
        conn.execute(
            delete(MEMBERS).where(
                MEMBERS.c.corporation_id == corporation_id, MEMBERS.c.character_id.in_(chunk)
            )
        )
    blank = (None, None, None)
    if new:
        conn.execute(
            insert(MEMBERS),
            [
                {
                    "corporation_id": corporation_id,
                    "character_id": i,
                    "name": names.get(i, ""),
                    "logon_at": (logons or {}).get(i, blank)[0],
                    "logoff_at": (logons or {}).get(i, blank)[1],
                    "joined_at": (logons or {}).get(i, blank)[2],
                    "first_seen_at": now,
                }
                for i in sorted(new)
            ],
        )
    renamed = [{"c": corporation_id, "i": i, "n": name} for i, name in names.items() if i in existing]
    if renamed:
        conn.execute(
            update(MEMBERS)
            .where(MEMBERS.c.corporation_id == bindparam("c"), MEMBERS.c.character_id == bindparam("i"))
            .values(name=bindparam("n")),
            renamed,
        )
    if logons:
        rows = [
            {"c": corporation_id, "i": i, "on": v[0], "off": v[1], "since": v[2]}
            for i, v in logons.items()
            if i in ids - new
        ]
        if rows:
            conn.execute(
                update(MEMBERS)
                .where(MEMBERS.c.corporation_id == bindparam("c"), MEMBERS.c.character_id == bindparam("i"))
                .values(logon_at=bindparam("on"), logoff_at=bindparam("off"), joined_at=bindparam("since")),
                rows,
            )
    roster.member_count = len(ids)
    registered = coverage(corporation_id)["registered"]
    db.session.add(
        CoverageSample(corporation_id=corporation_id, taken_at=now, in_game=len(ids), registered=registered)
    )
    db.session.execute(
        delete(CoverageSample).where(
            CoverageSample.corporation_id == corporation_id,
            CoverageSample.taken_at < now - timedelta(days=SAMPLES_KEPT_DAYS),
        )
    )
    changed = gone | new
    if not changed or not _rule_in_use():
        return []
    users = set()
    for chunk in _chunks(changed):
        users.update(
            db.session.scalars(
                select(Character.user_id).where(Character.id.in_(chunk), Character.user_id.is_not(None))
            ).all()
        )
    return sorted(users)


def _rule_in_use():
    return (
        db.session.scalar(
            select(Service.id).where(Service.enabled.is_(True), Service.require_registered.is_(True)).limit(1)
        )
        is not None
    )


def due_corporations(now=None):
    """Member corporations with a tracking token whose reading expired or failed."""
    now = now or utcnow()
    rows = db.session.execute(
        select(TrackingToken.corporation_id, Roster.expires_at, Roster.error_at)
        .outerjoin(Roster, Roster.corporation_id == TrackingToken.corporation_id)
        .distinct()
    ).all()
    retry_before = now - timedelta(seconds=current_app.config["ROSTER_RETRY_S"])
    due = {
        corporation_id
        for corporation_id, expires_at, error_at in rows
        if expires_at is None or expires_at <= now or (error_at is not None and error_at <= retry_before)
    }
    return sorted(due)
