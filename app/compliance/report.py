"""What the compliance view shows: every in-game member with the Bastion user it belongs to and
its key's health, coverage over time, and registered characters no longer in the corporation."""

from datetime import timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.clock import utcnow
from app.compliance import tokens as tracking
from app.compliance.models import CoverageSample, Roster, RosterMember
from app.corps.models import Character, Corporation
from app.extensions import db
from app.keys.models import Key

FILTERS = {
    "unregistered": "Unregistered",
    "invalid": "Registered, key invalid",
    "alt": "Registered through an alt only",
}
SPARK_POINTS = 30


class Freshness(NamedTuple):
    """Whether the list can be trusted as current: ok, and what to tell the director if not."""

    ok: bool
    message: str | None


def _main():
    return aliased(Character, name="main")


def _details(corporation_id):
    """Rows (character id, name, logon, joined, user id, the user's main's name, key status, key
    reason, main's corporation) of the corporation's in-game members, by name."""
    character, main = aliased(Character, name="held"), _main()
    return (
        select(
            RosterMember.character_id,
            RosterMember.name,
            RosterMember.logon_at,
            RosterMember.joined_at,
            character.user_id,
            main.name.label("main_name"),
            Key.status.label("key_status"),
            Key.reason.label("key_reason"),
            main.corporation_id.label("main_corporation_id"),
        )
        .outerjoin(character, character.id == RosterMember.character_id)
        .outerjoin(Key, Key.character_id == RosterMember.character_id)
        .outerjoin(User, User.id == character.user_id)
        .outerjoin(main, main.id == User.main_character_id)
        .where(RosterMember.corporation_id == corporation_id)
        .order_by(RosterMember.name, RosterMember.character_id)
    )


def _filtered(corporation_id, chosen, *columns):
    """columns of the corporation's in-game members that pass the filter, with only the joins the
    filter needs (every join is at most one row per member, so counts stay right)."""
    query = select(*columns).select_from(RosterMember).where(RosterMember.corporation_id == corporation_id)
    if chosen not in FILTERS:
        return query
    query = query.outerjoin(Key, Key.character_id == RosterMember.character_id)
    if chosen == "unregistered":
        return query.where(Key.id.is_(None))
    if chosen == "invalid":
        return query.where(Key.status == "invalid")
    character, main = aliased(Character, name="held"), _main()
    return (
        query.join(character, character.id == RosterMember.character_id)
        .join(User, User.id == character.user_id)
        .outerjoin(main, main.id == User.main_character_id)
        .where(Key.id.is_not(None), or_(main.corporation_id.is_(None), main.corporation_id != corporation_id))
    )


def member_query(corporation_id, chosen=""):
    """Every in-game member that passes the filter, with details, by name (for the export)."""
    if chosen not in FILTERS:
        return _details(corporation_id)
    chosen_ids = _filtered(corporation_id, chosen, RosterMember.character_id)
    return _details(corporation_id).where(RosterMember.character_id.in_(chosen_ids))


def page_of_members(corporation_id, chosen, page, per_page):
    """One page of member_query: the page's ids come from the filter alone (by the index on
    corporation and name), and only those rows are joined for their details."""
    total = db.session.scalar(_filtered(corporation_id, chosen, func.count())) or 0
    page = min(max(1, page), max(1, -(-total // per_page)))
    ids = db.session.scalars(
        _filtered(corporation_id, chosen, RosterMember.character_id)
        .order_by(RosterMember.name, RosterMember.character_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = (
        db.session.execute(_details(corporation_id).where(RosterMember.character_id.in_(ids))).all()
        if ids
        else []
    )
    return Page(items, page, per_page, total)


def describe(row):
    """A row's standing in words: unregistered, or registered with the key's status."""
    if row.key_status is None:
        return "unregistered"
    return f"registered, key {row.key_status}"


def coverage(corporation_id):
    """{in_game, registered, valid, share (0..1 or None)} of the corporation now."""
    in_game = db.session.scalar(
        select(func.count()).select_from(RosterMember).where(RosterMember.corporation_id == corporation_id)
    )
    registered, valid = db.session.execute(
        select(func.count(Key.id), func.count(Key.id).filter(Key.status == "valid"))
        .select_from(RosterMember)
        .join(Key, Key.character_id == RosterMember.character_id)
        .where(RosterMember.corporation_id == corporation_id)
    ).one()
    return {
        "in_game": in_game or 0,
        "registered": registered or 0,
        "valid": valid or 0,
        "share": (registered / in_game) if in_game else None,
    }


def sparkline(corporation_id, width=160, height=32):
    """SVG polyline points of the coverage share at the last readings (oldest first), or ""."""
    samples = db.session.execute(
        select(CoverageSample.in_game, CoverageSample.registered)
        .where(CoverageSample.corporation_id == corporation_id)
        .order_by(CoverageSample.taken_at.desc(), CoverageSample.id.desc())
        .limit(SPARK_POINTS)
    ).all()[::-1]
    if len(samples) < 2:
        return ""
    step = width / (len(samples) - 1)
    points = []
    for n, (in_game, registered) in enumerate(samples):
        share = registered / in_game if in_game else 0.0
        points.append(f"{n * step:.1f},{height - share * height:.1f}")
    return " ".join(points)


# ESI caches a corporation's member list for an hour: a reading can be that much older than it looks.
LIST_CACHE = timedelta(hours=1)


def list_as_of(roster):
    """The moment EVE's member list of the last reading may be as old as: an hour before its
    Expires (or before the reading, when ESI named none)."""
    if roster.expires_at is not None:
        return roster.expires_at - LIST_CACHE
    return roster.refreshed_at - LIST_CACHE


def not_in_list(roster, limit=200):
    """Characters with a key that Bastion has in the corporation but the last reading did not:
    (left: their affiliation, confirmed before EVE's list, put them there, so they have left;
    unsure: confirmed since, so they may have joined after the list was made, or left)."""
    as_of = list_as_of(roster)
    left, unsure = [], []
    for row in left_corporation(roster.corporation_id, limit):
        confirmed = row.affiliation_checked_at
        (left if confirmed is not None and confirmed < as_of else unsure).append(row)
    return left, unsure


def left_corporation(corporation_id, limit=200):
    """Characters with a key that Bastion has in the corporation but the last reading did not."""
    return db.session.execute(
        select(Character.id, Character.name, Character.user_id, Key.status, Character.affiliation_checked_at)
        .join(Key, Key.character_id == Character.id)
        .outerjoin(
            RosterMember,
            and_(RosterMember.character_id == Character.id, RosterMember.corporation_id == corporation_id),
        )
        .where(Character.corporation_id == corporation_id, RosterMember.character_id.is_(None))
        .order_by(Character.name)
        .limit(limit)
    ).all()


def freshness(roster, tokens):
    """Whether the stored list is current, and if not, why, in words a director can act on."""
    if not tokens:
        return Freshness(False, "No tracking token: add one below so Bastion can read who is in game.")
    broken = [t for t in tokens if not tracking.healthy(t)]
    if roster is None or roster.refreshed_at is None:
        if roster is not None and roster.error:
            return Freshness(False, f"The member list could not be read yet: {roster.error}")
        return Freshness(False, "The member list has not been read yet; it is on its way.")
    age = utcnow() - roster.refreshed_at
    stale = age > timedelta(seconds=current_app.config["ROSTER_STALE_S"])
    if roster.error or stale:
        why = roster.error or (
            "every tracking token is broken" if len(broken) == len(tokens) else "it was not read again"
        )
        return Freshness(
            False, f"This list is from {roster.refreshed_at:%Y-%m-%d %H:%M} UTC and may be out of date: {why}"
        )
    if len(broken) == len(tokens):
        return Freshness(
            False, "Every tracking token is broken: the list will not be read again until one works."
        )
    return Freshness(True, None)


def roster_of(corporation_id):
    """The corporation's roster row, or None."""
    return db.session.get(Roster, corporation_id)


class Page(NamedTuple):
    """One page of rows, with what the pager needs."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self):
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages

    @property
    def prev_num(self):
        return self.page - 1

    @property
    def next_num(self):
        return self.page + 1


def unread_rosters():
    """Names of corporations whose last reading of their in-game members failed."""
    return db.session.scalars(
        select(Corporation.name)
        .join(Roster, Roster.corporation_id == Corporation.id)
        .where(Roster.error.is_not(None))
        .order_by(Corporation.name)
    ).all()
