"""Why a user has or lacks a service: the decision as a trace of facts, each with its source and
time, and what the member can do about it.

The outcome comes from the policy itself (``desired``), so the explanation cannot disagree with
what reconciliation does; the steps say which facts it rested on.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from app.access.models import Grant
from app.access.policy import Facts, desired, facts_about
from app.clock import utcnow
from app.extensions import db
from app.services.models import Service

STATE_NAMES = {"member": "members", "blue": "blues", "guest": "guests"}


@dataclass
class Step:
    """One fact the decision rests on: what it says, where it comes from, since when; tone is
    ok (it counts for access), bad (it counts against), or info."""

    text: str
    source: str
    at: datetime | None = None
    tone: str = "info"


@dataclass
class Explanation:
    """The decision for one user and one service."""

    service: str  # slug
    service_name: str
    access: bool  # the user can use the service now
    status: str  # active, ending, suspended, revoked, pending, none
    summary: str
    steps: list[Step] = field(default_factory=list)
    remedy: str | None = None
    ends_at: datetime | None = None

    def as_json(self):
        data = asdict(self)
        for step in data["steps"]:
            step["at"] = _iso(step["at"])
        data["ends_at"] = _iso(self.ends_at)
        return data


def _iso(moment):
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(moment):
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "an unknown time"


def _names(states):
    return " and ".join(STATE_NAMES.get(s, s) for s in states) or "nobody"


def _corp_name(corp):
    """ "Name [TICK]", or the id while ESI has not told the name yet."""
    if corp is None:
        return "an unknown corporation"
    name = corp.name or f"corporation {corp.id}"
    return f"{name} [{corp.ticker}]" if corp.ticker else name


def _standing(user, facts):
    """The step saying where the user's state comes from."""
    main = user.main_character
    if not user.is_active_account:
        return Step("The account is disabled.", "an admin", tone="bad")
    if main is None:
        return Step(f"State {user.state}: no main character yet.", "your characters", tone="bad")
    corp = main.corporation
    where = _corp_name(corp)
    alliance = main.alliance
    tracking = [
        f"{corp.name} tracked as {corp.tracked_as}" if corp is not None and corp.tracked_as else None,
        f"alliance {alliance.name} tracked as {alliance.tracked_as}"
        if alliance is not None and alliance.tracked_as
        else None,
    ]
    tracking = "; ".join(t for t in tracking if t) or "not tracked"
    if not facts.main_proves and facts.main_pending:
        text = (
            f"State {user.state} for now: the key of your main character {main.name} is being checked "
            f"for the first time ({where}, {tracking})."
        )
        return Step(text, "main character's key", user.state_changed_at, "info")
    if not facts.main_proves:
        text = (
            f"State {user.state}: the key of your main character {main.name} does not prove where it is "
            f"({where}, {tracking})."
        )
        return Step(text, "main character's key", user.state_changed_at, "bad")
    text = f"State {user.state}: main character {main.name} in {where} ({tracking})."
    tone = "ok" if user.state in ("member", "blue") else "bad"
    return Step(text, "main character's affiliation (ESI)", main.affiliation_checked_at, tone)


def _policy(service, user, grant, now):
    """The steps saying what the service's policy and any grant by hand or on request give."""
    steps = []
    auto = service.auto_state_list
    ask = service.request_state_list
    text = f"Given automatically to {_names(auto)}." if auto else "Not given automatically."
    if ask:
        text += f" {_names(ask).capitalize()} may ask" + (
            ", and a director approves." if service.requires_approval else "."
        )
    steps.append(Step(text, f"the policy of {service.name}", tone="ok" if user.state in auto else "info"))
    if grant is not None and grant.source == "manual":
        by = grant.granted_by.display_name if grant.granted_by else "an admin"
        until = f" until {_at(grant.expires_at)}" if grant.expires_at else ""
        live = grant.status != "revoked" and (grant.expires_at is None or grant.expires_at > now)
        why = f": {grant.reason}" if grant.reason else ""
        steps.append(
            Step(f"Given by hand by {by}{until}{why}", by, grant.created_at, "ok" if live else "info")
        )
    elif grant is not None and grant.source == "request":
        steps.append(Step("Given on your request.", "your request", grant.created_at, "ok"))
    if grant is not None and grant.status == "revoked" and grant.revoked_by is not None:
        steps.append(
            Step(
                f"Revoked by {grant.revoked_by.display_name}.",
                grant.revoked_by.display_name,
                grant.updated_at,
                "bad",
            )
        )
    return steps


def _characters(service, facts):
    """The steps saying whether the characters beyond the main qualify, for services that ask."""
    steps = []
    if service.qualify == "every":
        if facts.hostile_character:
            steps.append(
                Step(
                    f"Every character must qualify: {facts.hostile_character}.",
                    "affiliation (ESI)",
                    tone="bad",
                )
            )
        else:
            steps.append(
                Step(
                    "Every character must qualify: none is in a hostile corporation or alliance.",
                    "affiliation (ESI)",
                    tone="ok",
                )
            )
    if service.require_registered:
        if facts.unregistered_character:
            missing = facts.unregistered_character
            text = f"Every character in the corporation must be registered: {missing} is not."
            steps.append(Step(text, "the corporation's member list", tone="bad"))
        else:
            steps.append(
                Step(
                    "Every character in the corporation must be registered: they are.",
                    "the corporation's member list",
                    tone="ok",
                )
            )
    if service.strict:
        if facts.invalid_character:
            text = f"Every key must be valid: the key of {facts.invalid_character} is invalid."
            steps.append(Step(text, "EVE SSO", facts.invalid_checked_at, "bad"))
        else:
            steps.append(Step("Every key must be valid: they are.", "EVE SSO", tone="ok"))
    return steps


def remedy(decision, service, user, facts):
    """What the member can do about a removal or a refusal, or None."""
    cause = decision.cause
    if cause == "key":
        return f"Renew the key of {facts.invalid_character} on My keys (log in with it again), or remove it."
    if (
        cause == "alt"
        and decision.reason
        and decision.reason.startswith("Every character in the corporation")
    ):
        return (
            f"Add {facts.unregistered_character} on My keys: your corporation expects every character in it."
        )
    if cause == "alt":
        return (
            f"Remove {facts.hostile_name} from your account on My keys, or move it out of that corporation."
        )
    if cause == "account":
        return "Ask an admin about your account."
    if cause == "expired":
        return "Ask a director to give it again."
    if cause == "state" and not facts.main_proves and user.main_character is not None:
        return _main_key_remedy(user, facts)
    return None


def _main_key_remedy(user, facts):
    """What to do about a main character's key that proves nothing: wait for a new one, else renew."""
    name = user.main_character.name
    if facts.main_pending:
        return f"Wait a moment: the key of {name} is being checked; this takes a few seconds."
    return f"Renew the key of your main character {name} on My keys."


def _refusal(service, user, facts, grant):
    """Why a user without the service lacks it, and what to do."""
    if user.state in service.request_state_list:
        if grant is not None and grant.status == "revoked" and grant.revoked_by is not None:
            return "Ask again below; a director must approve it."
        return "Ask for it below" + ("; a director approves." if service.requires_approval else ".")
    given = set(service.auto_state_list) | set(service.request_state_list)
    wanted = [s for s in STATE_NAMES if s in given]
    if not wanted:
        return "Only a director or an admin can give it; ask one."
    if not facts.main_proves and user.main_character is not None:
        return _main_key_remedy(user, facts)
    tracked = " or ".join(s for s in wanted if s != "guest") or "member"
    if user.main_character is None:
        return (
            f"It is for {_names(wanted)}: add a character in a corporation tracked as {tracked} on My keys."
        )
    return (
        f"It is for {_names(wanted)}: make a character in a corporation tracked as {tracked} "
        "your main on My keys, or ask a director."
    )


def explain(user, service, grant=None, facts=None, now=None):
    """The Explanation of a user's access to a service."""
    now = now or utcnow()
    facts = facts if facts is not None else facts_about(user)
    decision = desired(user, service, grant, facts, now)
    steps = [_standing(user, facts), *_policy(service, user, grant, now), *_characters(service, facts)]
    live = grant is not None and grant.status == "active"
    status = "none" if grant is None else grant.status
    fix = None
    if live and grant.ends_at is not None:
        status = "ending"
        steps.append(
            Step(
                f"Ends at {_at(grant.ends_at)} unless fixed: {grant.ending_reason}",
                "grace period",
                grant.ends_at,
                "bad",
            )
        )
        fix = remedy(decision, service, user, facts)
        summary = f"Yes, until {_at(grant.ends_at)}: {grant.ending_reason}"
    elif live:
        summary = f"Yes: {grant.reason or decision.reason}"
    elif grant is not None and (
        grant.status == "suspended"
        or (grant.status == "revoked" and (decision.status or grant.source != "policy"))
    ):
        summary = f"No: {grant.reason}"
        fix = remedy(decision, service, user, facts) or (
            _refusal(service, user, facts, grant) if grant.status == "revoked" else None
        )
    elif decision.status == "active":
        summary = f"Yes, as soon as it is set up: {decision.reason}"
    else:
        summary = "No: " + (
            f"not given to {STATE_NAMES.get(user.state, user.state)}."
            if user.is_active_account
            else "the account is disabled."
        )
        fix = (
            _refusal(service, user, facts, grant)
            if user.is_active_account
            else "Ask an admin about your account."
        )
    if not service.enabled:
        summary, fix, live = f"No: {service.name} is disabled.", None, False
    return Explanation(
        service.slug,
        service.name,
        live and service.enabled,
        status,
        summary,
        steps,
        fix,
        grant.ends_at if live else None,
    )


def explain_all(user, now=None):
    """The Explanation of every enabled service for a user, by service name."""
    now = now or utcnow()
    facts = facts_about(user)
    grants = {g.service_id: g for g in db.session.scalars(db.select(Grant).where(Grant.user_id == user.id))}
    services = db.session.scalars(db.select(Service).where(Service.enabled.is_(True)).order_by(Service.name))
    return [explain(user, s, grants.get(s.id), facts, now) for s in services]


def summary_of(user, service, grant, facts: Facts, now=None):
    """One line for the audit log: the decision and the facts it rested on."""
    found = explain(user, service, grant, facts, now)
    facts_text = " ".join(
        step.text for step in found.steps if step.tone != "info" or step.source == "grace period"
    )
    return f"{found.summary} | {facts_text}"
