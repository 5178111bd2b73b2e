"""Reminding members to register the characters their corporation expects.

Only a person Bastion knows can be reached: a character of the corporation without a key that
belongs to a Bastion user (an alt whose key was removed, say), who linked Discord. Everyone else is
reached in game, with the registration link the portal shows. A member is reminded once a day at
most per corporation.
"""

from typing import NamedTuple

from flask import current_app, has_request_context
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.accounts.auth import public_url
from app.accounts.models import User
from app.compliance.models import RosterMember, unregistered_in_game
from app.corps.models import Character, Corporation
from app.extensions import db
from app.jobs import redis_keys
from app.jobs.backoff import retry_delay
from app.jobs.connection import get_redis
from app.jobs.outcome import Outcome
from app.jobs.setup import get_governor
from app.keys.models import Key
from app.services.connectors import ConnectorError, discord
from app.services.models import DiscordLink

ONCE_PER_S = 24 * 3600


class Reach(NamedTuple):
    """Whom a reminder can reach: users (ids) with Discord linked, and unregistered characters
    that nobody Bastion knows holds (or whose holder has no Discord linked)."""

    users: list
    unreachable: int


def missing_characters(user_id, corporation_id=None):
    """(character name, corporation name) of the user's characters without a key that are in a
    corporation in game (as its last reading had them)."""
    query = (
        unregistered_in_game(user_id)
        .join(Corporation, Corporation.id == RosterMember.corporation_id)
        .with_only_columns(Character.name, Corporation.name)
    )
    if corporation_id is not None:
        query = query.where(RosterMember.corporation_id == corporation_id)
    return db.session.execute(query).all()


def reach(corporation_id):
    """Who a reminder for the corporation's unregistered characters would reach."""
    unregistered = (
        select(RosterMember.character_id)
        .outerjoin(Key, Key.character_id == RosterMember.character_id)
        .where(RosterMember.corporation_id == corporation_id, Key.id.is_(None))
    )
    total = db.session.scalar(select(func.count()).select_from(unregistered.subquery())) or 0
    linked = (
        unregistered.join(Character, Character.id == RosterMember.character_id)
        .join(DiscordLink, DiscordLink.user_id == Character.user_id)
        .with_only_columns(Character.user_id, func.count())
        .group_by(Character.user_id)
    )
    users = db.session.execute(linked).all()
    return Reach(sorted(user_id for user_id, _ in users), total - sum(count for _, count in users))


def registration_link():
    """Where a member adds a character: PUBLIC_URL's, else this request's address, else words."""
    if has_request_context():
        return public_url("keys.index")
    base = current_app.config.get("PUBLIC_URL")
    return f"{base}/keys" if base else "the My keys page on Bastion"


def text(corporation, names):
    """The direct message."""
    listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (
        f"From Bastion: {corporation.name} asks you to register {listed}. "
        f"Add each character here: {registration_link()}"
    )


def claim(corporation_id, user_id):
    """True when the member was not reminded in the last day (and now counts as reminded)."""
    try:
        return bool(get_redis().set(redis_keys.nudged(corporation_id, user_id), "1", nx=True, ex=ONCE_PER_S))
    except RedisError:
        return False


def send(corporation_id, user_id, attempt=1):
    """Send one member the reminder by Discord direct message, through Discord's governor."""
    corporation, user = db.session.get(Corporation, corporation_id), db.session.get(User, user_id)
    if corporation is None or user is None or user.discord is None:
        return Outcome("nothing", message="the member or their Discord link is gone")
    names = [name for name, _ in missing_characters(user_id, corporation_id)]
    if not names:
        return Outcome("nothing", message="nothing is missing any more")
    if not current_app.config["DISCORD_BOT_TOKEN"]:
        return Outcome("nothing", message="no Discord bot is configured")
    reason, wait = get_governor().gate(discord.UPSTREAM)
    if reason != "ok":
        return Outcome("wait", max(wait, 0.05), f"discord: {reason}")
    try:
        discord.direct_message(user.discord.discord_user_id, text(corporation, names))
    except ConnectorError as exc:
        config = current_app.config
        if exc.transient and attempt < config["VALIDATE_MAX_ATTEMPTS"]:
            delay = exc.retry_after or retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
            return Outcome("retry", delay, str(exc))
        return Outcome("done", message=f"not sent: {exc}")
    return Outcome("done", message=f"sent to {user.display_name}")
