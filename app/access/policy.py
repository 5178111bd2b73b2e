"""The policy: which grant a user should have for a service, from their state, the service's policy,
every character they hold and any grant by hand or on request. Pure decisions;
app/access/reconcile.py applies them."""

from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy.orm import aliased

from app.access.state import PROVING_STATUSES, standing_status, state_from
from app.clock import utcnow
from app.compliance.models import Roster, unregistered_in_game
from app.corps.models import Alliance, Character, Corporation
from app.extensions import db
from app.keys.models import Key
from app.services.models import Service


class Facts(NamedTuple):
    """What is known of a user beyond their state, for any service's policy.

    invalid_character / hostile_character: a description of a character whose key is invalid, and
    of one in a corporation or alliance tracked as hostile (None when none), with the character's
    name and when the key was last checked. main_proves: the main character's key proves its
    affiliation. affiliation_state: the state the main's corporation and alliance give (what the
    user's state would be with a working key); it tells a removal caused by a key, which waits out
    a grace period, from one caused by where the main is, which does not.
    """

    invalid_character: str | None
    hostile_character: str | None
    main_proves: bool = True
    affiliation_state: str | None = None
    invalid_checked_at: datetime | None = None
    hostile_name: str | None = None
    # A character of the user that is in a corporation in game (by its tracking token) without a key.
    unregistered_character: str | None = None
    # The main's key was never checked yet (a new key): it proves nothing so far, but nothing is wrong.
    main_pending: bool = False


class Decision(NamedTuple):
    """The grant a user should have for a service: status (None: no grant needed), source, reason,
    and whether a removal it calls for waits out the grace period (graceful) or happens at once."""

    status: str | None
    source: str | None
    reason: str | None
    graceful: bool = False
    # What ends access: key, alt, state, expired, account; None: nothing; stale: the user's state
    # was read before a change that reconciliation will bring, so nothing changes now.
    cause: str | None = None


def _invalid_key(user):
    """(character name, last checked) of a key of the user that is invalid, or None."""
    return db.session.execute(
        db.select(Character.name, Key.last_checked_at)
        .join(Character, Character.id == Key.character_id)
        .where(Key.user_id == user.id, Key.status == "invalid")
        .order_by(Key.id)
        .limit(1)
    ).first()


def _hostile(user):
    """(character name, description) of a character of the user in a hostile corporation or
    alliance, or None."""
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
    if corp_tracking == "hostile":
        where = f"{corp_name or 'a corporation'} [{ticker}]" if ticker else corp_name or "a corporation"
    else:
        where = f"the alliance {alliance_name}" if alliance_name else "an alliance"
    return name, f"{name} is in {where}, tracked as hostile"


def _main_standing(user):
    """(the main's key proves its affiliation, the state its corporation and alliance give, the
    main's key waits for its first check)."""
    if user.main_character_id is None:
        return False, "guest", False
    corp, alliance = aliased(Corporation), aliased(Alliance)
    row = db.session.execute(
        db.select(Key.status, Key.source, corp.tracked_as, alliance.tracked_as)
        .select_from(Character)
        .outerjoin(Key, Key.character_id == Character.id)
        .outerjoin(corp, corp.id == Character.corporation_id)
        .outerjoin(alliance, alliance.id == Character.alliance_id)
        .where(Character.id == user.main_character_id)
    ).first()
    if row is None:
        return False, "guest", False
    key_status, key_source, corp_tracking, alliance_tracking = row
    affiliation = state_from("valid", corp_tracking, alliance_tracking)
    key_status = standing_status(key_status, key_source)
    return key_status in PROVING_STATUSES, affiliation, key_status == "pending"


def _unregistered(user):
    """The name of a character of the user, in a corporation's in-game member list, without a key.

    Only a list read lately counts: one that went stale (its tracking token broke) never takes
    access away on its own.
    """
    fresh_since = utcnow() - timedelta(seconds=current_app.config["ROSTER_STALE_S"])
    return db.session.scalar(unregistered_in_game(user.id).where(Roster.refreshed_at >= fresh_since).limit(1))


def facts_about(user):
    """The facts about a user's characters that the policy of any service may need."""
    invalid, hostile = _invalid_key(user), _hostile(user)
    proves, affiliation, pending = _main_standing(user)
    return Facts(
        invalid_character=invalid[0] if invalid else None,
        hostile_character=hostile[1] if hostile else None,
        main_proves=proves,
        affiliation_state=affiliation,
        invalid_checked_at=invalid[1] if invalid else None,
        hostile_name=hostile[0] if hostile else None,
        unregistered_character=_unregistered(user),
        main_pending=pending,
    )


def _in_force(grant, now):
    """Not revoked and not expired."""
    return grant.status != "revoked" and (grant.expires_at is None or grant.expires_at > now)


def manual_in_force(grant, now):
    """A grant by hand (a director's or an admin's) that has not been revoked and has not expired."""
    return grant is not None and grant.source == "manual" and _in_force(grant, now)


def _decide(state, user, service, grant, facts, now):
    """The Decision for a user in a given state, not yet told whether a removal is graceful."""
    manual = manual_in_force(grant, now)
    requested = (
        grant is not None
        and grant.source == "request"
        and _in_force(grant, now)
        and user.is_active_account
        and state in service.request_state_list
    )
    automatic = state in service.auto_state_list and user.is_active_account
    if not (manual or requested or automatic):
        if grant is None or grant.status == "revoked":
            return Decision(None, None, None)
        if grant.source != "policy" and grant.expires_at is not None and grant.expires_at <= now:
            return Decision("revoked", grant.source, "The grant expired.", cause="expired")
        if not user.is_active_account:
            return Decision("revoked", grant.source, "The account is disabled.", cause="account")
        if grant.source == "request":
            return Decision(
                "revoked", "request", f"Given on request; {state}s may no longer ask for it.", cause="state"
            )
        return Decision("revoked", grant.source, f"Not given automatically to {state}s.", cause="state")
    source = "manual" if manual else "request" if requested else "policy"
    if service.qualify == "every" and facts.hostile_character:
        return Decision(
            "suspended", source, f"Every character must qualify: {facts.hostile_character}.", cause="alt"
        )
    if service.require_registered and facts.unregistered_character:
        name = facts.unregistered_character
        return Decision(
            "suspended",
            source,
            f"Every character in the corporation must be registered: {name} has no key.",
            cause="alt",
        )
    if service.strict and facts.invalid_character:
        return Decision("suspended", source, f"The key of {facts.invalid_character} is invalid.", cause="key")
    if source != "policy":
        return Decision("active", source, grant.reason)
    return Decision("active", source, f"Given automatically to {state}s.")


def desired(user, service, grant, facts, now):
    """The Decision for a user's grant of a service.

    A removal is graceful when a key or an alt causes it (an invalid key, a hostile alt, a main
    whose key no longer proves where it is): fixing that keeps access. It is immediate when the
    main character's corporation or alliance causes it (leaving for a hostile or untracked
    corporation), or when someone decided it (a policy change, an expiry, a disabled account).
    """
    # A main whose key no longer proves counts as a guest for the grants (which wait out their own
    # grace), though the state itself waits out the grace before it falls (app/access/state.py).
    state = user.state if facts.main_proves else "guest"
    decision = _decide(state, user, service, grant, facts, now)
    cause = decision.cause
    if cause == "state" and facts.affiliation_state is not None:
        now_state = facts.affiliation_state if facts.main_proves else "guest"
        if now_state != state and _decide(now_state, user, service, grant, facts, now).cause is None:
            # The state is stale (a verdict was taken back, a character moved back, after it was
            # read): nothing changes until the reconciliation that follows such a change.
            return Decision(grant.status, grant.source, grant.reason, cause="stale")
    graceful = cause in ("alt", "key")
    if cause == "state" and not facts.main_proves and facts.affiliation_state not in (None, state):
        # The state fell because the main's key stopped proving; with a working key would it stay?
        graceful = _decide(facts.affiliation_state, user, service, grant, facts, now).cause in (
            None,
            "alt",
            "key",
        )
    return decision._replace(graceful=graceful)


def any_service():
    """True when some service is enabled (else there are no grants to reconcile)."""
    return db.session.scalar(_ANY_SERVICE) is not None


_ANY_SERVICE = db.select(Service.id).where(Service.enabled.is_(True)).limit(1)  # built once
