"""Logging in with EVE: find the user through the character and its owner hash, or make one."""

from flask import current_app

from app.accounts.models import User
from app.audit import record
from app.clock import utcnow
from app.corps.logic import find_character
from app.extensions import db
from app.keys.logic import discard_grant, register_key
from app.keys.models import Key
from app.keys.validation import REASON_SOLD


class LoginRefused(Exception):
    """This character may not log in; the message says why."""


def _login_renews(key, claims):
    """True when a login's grant should replace the stored key: none, invalid, waiting for the
    member to re-authorise, or lacking a scope this login grants (a key imported from Alliance Auth
    with publicData alone gets its missing permission by signing in)."""
    if key is None or key.status == "invalid" or key.needs_reauth:
        return True
    granted = set(claims.get("scp") or ())
    return any(scope not in key.scope_list and scope in granted for scope in current_app.config["EVE_SCOPES"])


def login_with_character(claims, refresh_token):
    """The user a verified SSO login belongs to, made on first login with the character as main."""
    character = find_character(claims["character_id"])
    if character is not None and character.user_id is not None:
        if character.owner_hash and character.owner_hash != claims["owner"]:
            _flag_transferred(character)
            raise LoginRefused(
                f"{character.name} has moved to another EVE account since it was registered here, "
                "so it cannot sign in to the old Bastion account. Ask an admin to release it."
            )
        user = character.user
        if not user.is_active:
            raise LoginRefused("This account is disabled. Ask an admin.")
        if _login_renews(character.key, claims):
            register_key(user, claims, refresh_token)
        else:
            discard_grant(refresh_token)  # the stored key is fine; leave no spare grant behind
    else:
        user = User(role="member", state="guest")
        db.session.add(user)
        db.session.flush()
        register_key(user, claims, refresh_token)
        record("user.create", actor=user, target=user, detail=f"first login as {claims['name']}")
    user.last_login_at = utcnow()
    return user


def _flag_transferred(character):
    """A verified token shows a new owner: the old account's key for it is definitively invalid."""
    key = db.session.scalar(db.select(Key).filter_by(character_id=character.id))
    if key is not None and key.status != "invalid":
        key.status = "invalid"
        key.reason = REASON_SOLD
        key.last_checked_at = utcnow()
        record("key.invalid", target=key, detail="owner hash changed at login")
    db.session.commit()


class RoleRefused(Exception):
    """A role change that cannot be made; the message says why, for the admin."""


def change_role(user, role, actor):
    """Make a user a member, a director or an admin; audited and committed.

    No admin takes their own admin role away: another admin must (so one always remains).
    """
    if user.id == actor.id and role != "admin":
        raise RoleRefused("You cannot take away your own admin role; ask another admin.")
    before, user.role = user.role, role
    if before != role:
        user.end_sessions()  # a session opened under the old role must not keep it
    record("user.role", actor, target=user, detail=f"{before} -> {role}")
    db.session.commit()
