"""Characters' affiliations and the corporations and alliances they point at."""

import logging
from datetime import timedelta

from app.clock import utcnow
from app.corps.models import Alliance, Character, Corporation
from app.eve import get_client
from app.eve.errors import EveError
from app.extensions import db

log = logging.getLogger(__name__)


CACHE_SECONDS = 3600  # ESI's cache time for corporations and alliances


def apply_alliance(alliance, data, now):
    """Copy ESI's answer about an alliance onto its row; it is asked again after ESI's cache time."""
    alliance.name, alliance.ticker = data["name"], data["ticker"]
    alliance.executor_corporation_id = data.get("executor_corporation_id")
    alliance.refreshed_at = now
    alliance.expires_at = now + timedelta(seconds=CACHE_SECONDS)


def apply_corporation(corporation, data, now):
    """Copy ESI's answer about a corporation onto its row (the alliance row must exist)."""
    corporation.name, corporation.ticker = data["name"], data["ticker"]
    corporation.member_count = data.get("member_count")
    corporation.ceo_id = data.get("ceo_id")
    corporation.alliance_id = data.get("alliance_id")
    corporation.refreshed_at = now
    corporation.expires_at = now + timedelta(seconds=CACHE_SECONDS)


def ensure_alliance(alliance_id):
    """The alliance row, made (with its name and ticker from ESI when it answers) if missing."""
    alliance = db.session.get(Alliance, alliance_id)
    if alliance is None:
        alliance = Alliance(id=alliance_id)
        db.session.add(alliance)
    if not alliance.name:
        try:
            data = get_client().alliance(alliance_id)
        except EveError as exc:
            log.warning("alliance %s not refreshed: %s", alliance_id, exc)
        else:
            apply_alliance(alliance, data, utcnow())
    return alliance


def ensure_corporation(corporation_id):
    """The corporation row, made (with its name, ticker and alliance from ESI when it answers) if missing."""
    corporation = db.session.get(Corporation, corporation_id)
    if corporation is None:
        corporation = Corporation(id=corporation_id)
        db.session.add(corporation)
    if not corporation.name:
        try:
            data = get_client().corporation(corporation_id)
        except EveError as exc:
            log.warning("corporation %s not refreshed: %s", corporation_id, exc)
        else:
            if data.get("alliance_id"):
                ensure_alliance(data["alliance_id"])
            apply_corporation(corporation, data, utcnow())
    return corporation


def set_affiliation(character, corporation_id, alliance_id):
    """Point a character at its corporation and alliance; True when either changed.

    New corporations and alliances get their names from ESI at once (affiliation rounds, which
    see a thousand characters at a time, leave that to corps.refresh).
    """
    if corporation_id is not None:
        ensure_corporation(corporation_id)
    if alliance_id is not None:
        ensure_alliance(alliance_id)
    changed = (character.corporation_id, character.alliance_id) != (corporation_id, alliance_id)
    character.corporation_id = corporation_id
    character.alliance_id = alliance_id
    character.affiliation_checked_at = utcnow()
    return changed


def refresh_affiliation(character):
    """Ask ESI where one character is now; False when ESI could not tell."""
    try:
        data = get_client().character(character.id)
    except EveError as exc:
        log.warning("affiliation of character %s not refreshed: %s", character.id, exc)
        return False
    set_affiliation(character, data["corporation_id"], data.get("alliance_id"))
    return True


def find_character(character_id):
    """A character row by EVE id, or None."""
    return db.session.get(Character, character_id)
