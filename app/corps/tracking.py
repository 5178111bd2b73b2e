"""Which corporations and alliances count: tracked as member or blue by an admin, by EVE id.

A change of tracking changes the standing of everyone with a character there; the functions
return those users' ids, and the caller queues their reconciliation.
"""

from sqlalchemy import func

from app.audit import record
from app.clock import utcnow
from app.corps.directors import reconcile_directorships
from app.corps.logic import apply_alliance, apply_corporation, ensure_alliance
from app.corps.models import Alliance, Character, Corporation
from app.eve import get_client
from app.eve.errors import EveError, NotFound
from app.extensions import db

KINDS = {
    "corporation": (Corporation, Character.corporation_id),
    "alliance": (Alliance, Character.alliance_id),
}


class TrackingRefused(Exception):
    """The corporation or alliance cannot be tracked; the message says why, for the admin."""


def tracked_entity(kind, entity_id):
    """A corporation or alliance by kind and EVE id, or None."""
    model, _ = KINDS.get(kind, (None, None))
    return db.session.get(model, entity_id) if model else None


def users_with_characters_in(kind, entity_id):
    """Ids of users with a character in the corporation or alliance."""
    _, column = KINDS[kind]
    return db.session.scalars(
        db.select(Character.user_id).where(column == entity_id, Character.user_id.is_not(None)).distinct()
    ).all()


def set_tracking(entity, kind, tracked_as, actor):
    """Count a corporation or alliance as member, blue or nothing; audited and committed.

    Returns the ids of the users to reconcile.
    """
    before, entity.tracked_as = entity.tracked_as, tracked_as
    detail = f"{entity.name} [{entity.ticker}]: {before} -> {tracked_as}"
    record(f"{kind}.track", actor, target_type=kind, target_id=entity.id, detail=detail)
    db.session.commit()
    user_ids = users_with_characters_in(kind, entity.id)
    directors = db.session.scalars(
        db.select(Character.user_id).where(Character.user_id.in_(user_ids), Character.is_director.is_(True))
    ).all()
    for user_id in set(directors):  # a Director role counts only where the corporation is a member
        reconcile_directorships(user_id, f"{entity.name} is tracked as {tracked_as or 'nothing'} now")
    return user_ids


def resolve(kind, text):
    """The EVE id of a corporation or alliance given by id, by a name or ticker Bastion knows, or by
    its exact name as ESI resolves it; TrackingRefused says why when there is none."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or len(text) > 100:
        raise TrackingRefused(f"Give the {kind}'s EVE id or its full name (up to 100 characters).")
    model, _ = KINDS[kind]
    known = db.session.scalars(db.select(model).where(func.lower(model.name) == text.lower())).all()
    if not known and len(text) <= 5:
        known = db.session.scalars(db.select(model).where(func.lower(model.ticker) == text.lower())).all()
    if len(known) == 1:
        return known[0].id
    if len(known) > 1:
        listed = ", ".join(f"{e.name} ({e.id})" for e in known[:5])
        raise TrackingRefused(f"More than one {kind} goes by {text!r}: {listed}. Give its EVE id.")
    try:
        found = get_client().ids_of([text]).get(f"{kind}s", [])
    except EveError as exc:
        raise TrackingRefused(
            f"EVE could not be asked just now ({exc}); try again, or give the EVE id."
        ) from None
    if not found:
        raise TrackingRefused(
            f"EVE knows no {kind} named {text!r} (names must be whole, in any case); give its EVE id."
        )
    return int(found[0]["id"])


def track(kind, entity_id, tracked_as, actor):
    """Fetch a corporation or alliance from ESI and track it; (entity, ids of users to reconcile)."""
    client = get_client()
    try:
        data = client.corporation(entity_id) if kind == "corporation" else client.alliance(entity_id)
    except NotFound:
        raise TrackingRefused(f"EVE knows no {kind} with id {entity_id}.") from None
    except EveError as exc:
        raise TrackingRefused(f"EVE could not be asked just now ({exc}); try again in a minute.") from None
    now = utcnow()
    model, _ = KINDS[kind]
    entity = db.session.get(model, entity_id) or model(id=entity_id)
    if kind == "corporation":
        if data.get("alliance_id"):
            ensure_alliance(data["alliance_id"])
        apply_corporation(entity, data, now)
    else:
        apply_alliance(entity, data, now)
    db.session.add(entity)
    return entity, set_tracking(entity, kind, tracked_as, actor)
