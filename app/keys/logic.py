"""Members' keys: register one from an SSO grant, remove one, pick the main character."""

import logging

from app import crypto
from app.audit import record
from app.clock import utcnow
from app.corps.directors import drop_director_roles
from app.corps.logic import find_character, refresh_affiliation
from app.corps.models import Character
from app.eve import get_client
from app.eve.errors import EveError
from app.extensions import db
from app.keys.models import Key

log = logging.getLogger(__name__)


class KeyRefused(Exception):
    """A key cannot be registered; the message says why, for the member."""


def register_key(user, claims, refresh_token):
    """Store a character's grant for a user (token encrypted), pending validation; returns the key."""
    character = find_character(claims["character_id"])
    if character is not None and character.user_id not in (None, user.id):
        raise KeyRefused(
            f"{character.name} is already registered by another Bastion user. "
            "If it is yours now, ask an admin to release it."
        )
    if character is None:
        character = Character(id=claims["character_id"], name=claims["name"], user_id=user.id)
        db.session.add(character)
        refresh_affiliation(character)
    character.user_id = user.id
    character.name = claims["name"]
    character.owner_hash = claims["owner"]
    key = db.session.scalar(db.select(Key).filter_by(character_id=character.id))
    if key is None:
        key = Key(character_id=character.id, user=user)
        db.session.add(key)
        action = "key.add"
    else:
        action = "key.renew"
    key.user = user
    key.owner_hash = claims["owner"]
    key.scopes = " ".join(claims["scp"])
    key.refresh_token_encrypted = crypto.encrypt(refresh_token)
    key.source = "sso"  # an imported key re-authorised here is Bastion's own from now on
    key.status, key.reason, key.needs_reauth = "pending", None, False
    key.consecutive_failures = 0
    key.next_check_at = utcnow()
    if user.main_character_id is None:
        user.main_character_id = character.id
    record(action, actor=user, target=key, detail=f"{character.name} ({character.id})")
    return key


def remove_key(user, key, actor=None):
    """Delete a member's key and revoke its grant at SSO; the character stays theirs.

    An admin (actor) may remove any key, a main character's too; the member may not remove their
    main's key while they have others.
    """
    if key.user_id != user.id:
        raise KeyRefused("That key is not yours.")
    character = key.character
    if actor is None and user.main_character_id == character.id and len(user.keys) > 1:
        raise KeyRefused("This is your main character. Make another character your main first.")
    revoked = True
    try:
        get_client().revoke(crypto.decrypt(key.refresh_token_encrypted))
    except (EveError, crypto.DecryptionError) as exc:
        log.warning("revoking key %s at SSO failed: %s", key.id, exc)
        revoked = False
    record("key.remove", actor=actor or user, target=key, detail=f"{character.name} ({character.id})")
    db.session.delete(key)
    if character.is_director:
        db.session.flush()
        drop_director_roles([character.id], "the key of its Director character was removed")
    return revoked


def discard_grant(refresh_token):
    """Revoke a grant Bastion does not need; a failure only leaves it to expire unused."""
    try:
        get_client().revoke(refresh_token)
    except EveError as exc:
        log.warning("revoking a spare grant failed: %s", exc)


class NotYours(KeyRefused):
    """The character is not the user's (pages answer 404, so ids reveal nothing)."""


def _own_character(user, character_id):
    character = db.session.get(Character, character_id)
    if character is None or character.user_id != user.id:
        raise NotYours("That character is not yours.")
    return character


def set_main(user, character_id):
    """Make one of the user's characters their main; only a character whose key is valid proves
    where the member stands, so only such a character can be the main."""
    character = _own_character(user, character_id)
    if character.key is None or character.key.status != "valid":
        raise KeyRefused(f"{character.name} has no valid key, so it cannot be your main: add it again first.")
    user.main_character_id = character.id
    record("user.main", actor=user, target=user, detail=f"{character.name} ({character.id})")
    return character


def release_character(user, character_id):
    """Take a character without a key off the member's account (it is no longer theirs here)."""
    character = _own_character(user, character_id)
    if character.key is not None:
        raise KeyRefused(f"Remove the key of {character.name} first.")
    if user.main_character_id == character.id:
        raise KeyRefused(f"{character.name} is your main character. Make another character your main first.")
    character.user_id = None
    character.is_director = False
    record("character.release", actor=user, target=user, detail=f"{character.name} ({character.id})")
    return character


def user_keys(user):
    """The user's characters with their keys, main first then by name."""
    characters = db.session.scalars(
        db.select(Character).filter_by(user_id=user.id).order_by(Character.name)
    ).all()
    return sorted(characters, key=lambda c: c.id != user.main_character_id)
