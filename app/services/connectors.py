"""Connectors: how Bastion tells an outside system that a user gained, changed or lost access.

Every connector has the same four operations, called by the ``services.sync`` task:

- ``provision(event)``: the user has just been granted the service;
- ``update(event)``: the user keeps it, but something about them changed (name, corporation);
- ``deprovision(event)``: the grant ended (revoked, suspended or expired);
- ``check()``: can the outside system be reached with these settings? (for the admin's test button)

``event`` is a dict describing the user, their main character, corporation and alliance, and the
grant (see ``app/services/events.py``). A connector raises ConnectorError; ``transient`` errors
are retried with backoff, the others are shown to admins as the grant's sync error.
"""

import hashlib
import hmac
import json
import time

import requests

WEBHOOK_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Bastion-Signature"
TIMESTAMP_HEADER = "X-Bastion-Timestamp"


class ConnectorError(Exception):
    """An outside system refused or failed; transient ones are retried."""

    def __init__(self, message, transient=False, retry_after=None, status=None, waiting=False):
        super().__init__(message)
        self.transient = transient
        self.waiting = waiting  # nothing is wrong: the sync waits for the member (e.g. to link Discord)
        self.retry_after = retry_after
        self.status = status


class Connector:
    """The interface; subclasses override what their system needs."""

    kind = None
    calls_out = True  # False for connectors that push nothing (forward_auth)
    observes_itself = False  # True when the connector reports every answer to the governor itself

    def __init__(self, service):
        self.service = service
        self.settings = service.settings

    @property
    def upstream(self):
        """The governor that paces this connector's calls."""
        return f"{self.kind}:{self.service.slug}"

    def provision(self, event):
        raise NotImplementedError

    def update(self, event):
        raise NotImplementedError

    def deprovision(self, event):
        raise NotImplementedError

    def check(self):
        raise NotImplementedError


def sign(secret, timestamp, body):
    """The signature a webhook receiver checks: hex HMAC-SHA256 of "<timestamp>.<body>"."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret, timestamp, body, signature, tolerance=300, now=None):
    """What a receiver does (and the tests): the signature matches and the timestamp is fresh."""
    now = time.time() if now is None else now
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except (TypeError, ValueError):
        return False
    expected = f"sha256={sign(secret, timestamp, body)}"
    return fresh and hmac.compare_digest(expected, signature or "")


class WebhookConnector(Connector):
    """POSTs a signed JSON event for each grant, update and revoke to a configured URL."""

    kind = "webhook"

    def send(self, event):
        body = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Bastion webhook",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: f"sha256={sign(self.settings.get('secret', ''), timestamp, body)}",
        }
        try:
            answer = requests.post(self.settings["url"], data=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
        except requests.Timeout:
            raise ConnectorError("the receiver did not answer in time", transient=True) from None
        except requests.RequestException as exc:
            raise ConnectorError(
                f"could not reach the receiver: {type(exc).__name__}", transient=True
            ) from None
        if answer.status_code == 429:
            raise ConnectorError(
                "the receiver asked to slow down (429)",
                transient=True,
                retry_after=_seconds(answer.headers.get("Retry-After")),
                status=429,
            )
        if answer.status_code >= 500:
            raise ConnectorError(
                f"the receiver failed ({answer.status_code})", transient=True, status=answer.status_code
            )
        if answer.status_code >= 400:
            raise ConnectorError(
                f"the receiver refused the event ({answer.status_code})", status=answer.status_code
            )
        return answer.status_code

    def provision(self, event):
        return self.send({**event, "event": "grant"})

    def update(self, event):
        return self.send({**event, "event": "update"})

    def deprovision(self, event):
        return self.send({**event, "event": "revoke"})

    def check(self):
        return self.send({"event": "test", "service": self.service.slug, "sent_at": int(time.time())})


class ForwardAuthConnector(Connector):
    """Nothing to push: the reverse proxy asks /auth/forward/<service> on every request."""

    kind = "forward_auth"
    calls_out = False

    def provision(self, event):
        return None

    update = deprovision = provision

    def check(self):
        return None


class DiscordConnector(Connector):
    """The bot adds the member to the server with the service's roles and sets "[TICKER] Name"."""

    kind = "discord"
    observes_itself = True

    @property
    def upstream(self):
        from app.services import discord

        return discord.UPSTREAM

    def _link(self, event):
        from app.extensions import db
        from app.services.models import DiscordLink

        link = db.session.scalars(db.select(DiscordLink).filter_by(user_id=event["user"]["id"])).first()
        if link is None:
            raise ConnectorError("waiting for the member to link their Discord account", waiting=True)
        return link

    def _nick(self, event):
        from app.services import discord

        corp = event.get("corporation") or {}
        name = (event.get("character") or {}).get("name") or event["user"]["name"]
        return discord.nickname(corp.get("ticker"), name)

    def _guild(self):
        return self.settings["guild_id"], list(self.settings.get("role_ids") or [])

    def provision(self, event):
        from app import crypto
        from app.extensions import db
        from app.services import discord

        link = self._link(event)
        guild, roles = self._guild()
        token = crypto.decrypt(link.access_token_encrypted)
        if link.expires_at is not None and link.expires_at <= _now() and link.refresh_token_encrypted:
            tokens = discord.refresh(crypto.decrypt(link.refresh_token_encrypted))
            link.access_token_encrypted = crypto.encrypt(tokens["access_token"])
            link.refresh_token_encrypted = crypto.encrypt(tokens["refresh_token"])
            link.expires_at = tokens["expires_at"]
            db.session.commit()
            token = tokens["access_token"]
        body = {"access_token": token, "roles": roles, "nick": self._nick(event)}
        answer = discord.call("PUT", f"/guilds/{guild}/members/{link.discord_user_id}", bot=True, json=body)
        if answer.status_code == 204:  # a member already: the join ignored roles and nick
            self.update(event)
        return answer.status_code

    def update(self, event):
        from app.services import discord

        link = self._link(event)
        guild, roles = self._guild()
        member = f"/guilds/{guild}/members/{link.discord_user_id}"
        for role in roles:
            discord.call("PUT", f"{member}/roles/{role}", bot=True)
        discord.call("PATCH", member, bot=True, json={"nick": self._nick(event)})

    def deprovision(self, event):
        from app.services import discord

        link = self._link(event)
        guild, roles = self._guild()
        for role in roles:
            try:
                discord.call(
                    "DELETE", f"/guilds/{guild}/members/{link.discord_user_id}/roles/{role}", bot=True
                )
            except ConnectorError as exc:
                if exc.status != 404:  # no longer in the server: nothing to take away
                    raise

    def check(self):
        from flask import current_app

        from app.services import discord

        if not current_app.config["DISCORD_BOT_TOKEN"]:
            raise ConnectorError("DISCORD_BOT_TOKEN is not set")
        discord.call("GET", "/users/@me", bot=True)
        return None


def _now():
    from app.models import utcnow

    return utcnow()


def _seconds(value):
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


CONNECTORS = {cls.kind: cls for cls in (WebhookConnector, ForwardAuthConnector, DiscordConnector)}


def connector_for(service):
    """The connector of a service's kind."""
    try:
        return CONNECTORS[service.kind](service)
    except KeyError:
        raise ConnectorError(f"no connector for services of kind {service.kind!r}") from None
