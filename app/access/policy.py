"""The policy: which grant a user should have for a service, from their state, the service's policy
and any grant by hand. Pure decisions; app/access/reconcile.py applies them."""

from app.extensions import db
from app.keys.models import Key
from app.services.models import Service


def invalid_key_character(user):
    """The name of a character of the user whose key is invalid, or None."""
    key = db.session.scalars(
        db.select(Key).where(Key.user_id == user.id, Key.status == "invalid").order_by(Key.id).limit(1)
    ).first()
    return key.character.name if key is not None else None


def manual_in_force(grant, now):
    """A director's or an approved request's grant that has not been revoked and has not expired."""
    return (
        grant is not None
        and grant.source == "manual"
        and grant.status != "revoked"
        and (grant.expires_at is None or grant.expires_at > now)
    )


def desired(user, service, grant, invalid_character, now):
    """(status, source, reason) the grant should have; status None when no grant is needed."""
    manual = manual_in_force(grant, now)
    automatic = user.state in service.auto_state_list and user.is_active_account
    if not (manual or automatic):
        if grant is None or grant.status == "revoked":
            return None, None, None
        if grant.source == "manual" and grant.expires_at is not None and grant.expires_at <= now:
            return "revoked", "manual", "The grant expired."
        return "revoked", grant.source, f"Not given automatically to {user.state}s."
    source = "manual" if manual else "policy"
    if service.strict and invalid_character:
        return "suspended", source, f"The key of {invalid_character} is invalid."
    if manual:
        return "active", source, grant.reason
    return "active", source, f"Given automatically to {user.state}s."


def any_service():
    """True when some service is enabled (else there are no grants to reconcile)."""
    return db.session.scalar(db.select(Service.id).where(Service.enabled.is_(True)).limit(1)) is not None
