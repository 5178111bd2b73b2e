"""Characters' affiliations and the corporations and alliances they point at."""

import logging

from app.corps.models import Alliance, Character, Corporation
from app.eve import get_client
from app.eve.errors import EveError
from app.extensions import db
from app.models import utcnow

log = logging.getLogger(__name__)


def ensure_alliance(alliance_id, fetch=True):
    """The alliance row, made (with its name and ticker from ESI when it answers) if missing."""
    alliance = db.session.get(Alliance, alliance_id)
    if alliance is None:
        alliance = Alliance(id=alliance_id)
        db.session.add(alliance)
    if fetch and not alliance.name:
        try:
            data = get_client().alliance(alliance_id)
        except EveError as exc:
            log.warning("alliance %s not refreshed: %s", alliance_id, exc)
        else:
            alliance.name, alliance.ticker = data["name"], data["ticker"]
            alliance.executor_corporation_id = data.get("executor_corporation_id")
            alliance.refreshed_at = utcnow()
    return alliance


def ensure_corporation(corporation_id, fetch=True):
    """The corporation row, made (with its name, ticker and alliance from ESI when it answers) if missing."""
    corporation = db.session.get(Corporation, corporation_id)
    if corporation is None:
        corporation = Corporation(id=corporation_id)
        db.session.add(corporation)
    if fetch and not corporation.name:
        try:
            data = get_client().corporation(corporation_id)
        except EveError as exc:
            log.warning("corporation %s not refreshed: %s", corporation_id, exc)
        else:
            corporation.name, corporation.ticker = data["name"], data["ticker"]
            corporation.member_count = data.get("member_count")
            corporation.ceo_id = data.get("ceo_id")
            if data.get("alliance_id"):
                ensure_alliance(data["alliance_id"])
            corporation.alliance_id = data.get("alliance_id")
            corporation.refreshed_at = utcnow()
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
