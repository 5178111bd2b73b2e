"""The policy: which grant a user should have for a service, from their state, the service's policy,
every character they hold and any grant by hand or on request. Pure decisions;
app/access/reconcile.py applies them."""

from typing import NamedTuple

from sqlalchemy.orm import aliased

from app.corps.models import Alliance, Character, Corporation
from app.extensions import db
from app.keys.models import Key
from app.services.models import Service


class Facts(NamedTuple):
    """What is known of a user beyond their state: a character whose key is invalid, and a character
    in a corporation or alliance tracked as hostile (a description of it), each None when none."""

    invalid_character: str | None
    hostile_character: str | None


def invalid_key_character(user):
    """The name of a character of the user whose key is invalid, or None."""
    key = db.session.scalars(
        db.select(Key).where(Key.user_id == user.id, Key.status == "invalid").order_by(Key.id).limit(1)
    ).first()
    return key.character.name if key is not None else None


def hostile_character(user):
    """ "Name in [TICK] Corp, tracked as hostile" for a character of the user in a hostile
    corporation or alliance, or None."""
    corp, alliance = aliased(Corporation), aliased(Alliance)
    row = db.session.execute(
        db.select(Character.name, corp.name, corp.ticker, corp.tracked_as, alliance.name, alliance.tracked_as)
        .join(corp, corp.id == Character.corporation_id)
        .outerjoin(alliance, alliance.id == Character.alliance_id)
        .where(Character.user_id == user.id)
        .where((corp.tracked_as == "hostile") | (alliance.tracked_as == "hostile"))
        .order_by(Character.name)
        .limit(1)
    ).first()
    if row is None:
        return None
    name, corp_name, ticker, corp_tracking, alliance_name, _ = row
    where = f"{corp_name} [{ticker}]" if corp_tracking == "hostile" else f"the alliance {alliance_name}"
    return f"{name} is in {where}, tracked as hostile"


def facts_about(user):
    """The facts about a user's characters that the policy of any service may need."""
    return Facts(invalid_key_character(user), hostile_character(user))


def _in_force(grant, now):
    """Not revoked and not expired."""
    return grant.status != "revoked" and (grant.expires_at is None or grant.expires_at > now)


def manual_in_force(grant, now):
    """A grant by hand (a director's or an admin's) that has not been revoked and has not expired."""
    return grant is not None and grant.source == "manual" and _in_force(grant, now)


def requested_in_force(grant, user, service, now):
    """A grant the member asked for, in force while their state may still ask for the service."""
    return (
        grant is not None
        and grant.source == "request"
        and _in_force(grant, now)
        and user.is_active_account
        and user.state in service.request_state_list
    )


def desired(user, service, grant, facts, now):
    """(status, source, reason) the grant should have; status None when no grant is needed."""
    manual = manual_in_force(grant, now)
    requested = requested_in_force(grant, user, service, now)
    automatic = user.state in service.auto_state_list and user.is_active_account
    if not (manual or requested or automatic):
        if grant is None or grant.status == "revoked":
            return None, None, None
        if grant.source != "policy" and grant.expires_at is not None and grant.expires_at <= now:
            return "revoked", grant.source, "The grant expired."
        if grant.source == "request":
            return "revoked", "request", f"Given on request; {user.state}s may no longer ask for it."
        return "revoked", grant.source, f"Not given automatically to {user.state}s."
    source = "manual" if manual else "request" if requested else "policy"
    if service.qualify == "every" and facts.hostile_character:
        return "suspended", source, f"Every character must qualify: {facts.hostile_character}."
    if service.strict and facts.invalid_character:
        return "suspended", source, f"The key of {facts.invalid_character} is invalid."
    if source != "policy":
        return "active", source, grant.reason
    return "active", source, f"Given automatically to {user.state}s."


def any_service():
    """True when some service is enabled (else there are no grants to reconcile)."""
    return db.session.scalar(db.select(Service.id).where(Service.enabled.is_(True)).limit(1)) is not None
