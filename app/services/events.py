"""The description of a grant that connectors send: who, which character and corporation, what access."""

import hashlib
import time
import uuid

from app.clock import utcnow


def _iso(moment):
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def grant_event(grant):
    """A JSON-ready dict about a grant and its user."""
    user, service = grant.user, grant.service
    main = user.main_character
    corp = main.corporation if main is not None else None
    alliance = main.alliance if main is not None else None
    return {
        "id": uuid.uuid4().hex,  # one per delivery: a replayed event repeats it
        # Microseconds since 1970 when the event was made: a receiver applies, per grant, only
        # events newer than the last one it applied.
        "version": time.time_ns() // 1000,
        "service": service.slug,
        "sent_at": _iso(utcnow()),
        "user": {"id": user.id, "name": user.display_name, "state": user.state},
        "character": {"id": main.id, "name": main.name} if main is not None else None,
        "corporation": {"id": corp.id, "name": corp.name, "ticker": corp.ticker}
        if corp is not None
        else None,
        "alliance": (
            {"id": alliance.id, "name": alliance.name, "ticker": alliance.ticker}
            if alliance is not None
            else None
        ),
        "grant": {
            "id": grant.id,
            "status": grant.status,
            "source": grant.source,
            "reason": grant.reason,
            "expires_at": _iso(grant.expires_at),
        },
    }


def identity(grant):
    """What the outside system knows of the grant's user: state, main character, corporation, alliance,
    and the service's name template when it has one."""
    user = grant.user
    main = user.main_character
    corp = main.corporation if main is not None else None
    alliance = main.alliance if main is not None else None
    parts = [
        user.state,
        main.name if main is not None else user.display_name,
        corp.ticker if corp is not None else "",
        alliance.ticker if alliance is not None else "",
    ]
    template = grant.service.name_template
    if template:  # a new template renames everyone; the names it may use count too
        parts += [corp.name if corp is not None else "", alliance.name if alliance is not None else ""]
        parts.append(hashlib.sha256(template.encode()).hexdigest()[:16])
    return "|".join(parts)[:255]
