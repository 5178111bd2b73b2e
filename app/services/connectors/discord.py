"""Discord: OAuth2 to link a member's account, the bot calls that manage server members, and the
connector that gives a member the service's roles and the nickname its name template makes
("[TICKER] Name" by default).

Every answer's rate-limit headers go to the "discord" governor through a response hook: a bucket
with nothing left waits out its reset, a 429 waits out its retry_after (Discord bans an IP after
10,000 invalid requests in 10 minutes, so 429s must stay rare).
"""

from datetime import timedelta
from urllib.parse import urlencode

from flask import current_app

from app import crypto
from app.clock import utcnow
from app.extensions import db
from app.http import header_number
from app.jobs.setup import get_governor
from app.services.connectors.base import Connector, ConnectorError, call, error_for
from app.services.models import DiscordLink
from app.services.names import name_for

UPSTREAM = "discord"
SCOPES = "identify guilds.join"


def _config(name):
    return current_app.config[name]


def authorize_url(redirect_uri, state):
    """Where a member goes to link their Discord account."""
    query = {
        "client_id": _config("DISCORD_CLIENT_ID"),
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "prompt": "consent",
    }
    return f"{_config('DISCORD_AUTHORIZE_URL')}?{urlencode(query)}"


def _retry_after(answer):
    """Discord's wait after a 429: retry_after in the body, else the Retry-After header, else a second."""
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return header_number(body.get("retry_after"), header_number(answer.headers.get("Retry-After"), 1.0))


def observe(answer):
    """The response hook: tell the governor what Discord said about its limits."""
    governor = get_governor()
    if answer is None or answer.status_code >= 500:
        governor.record(UPSTREAM, "5xx", status="timeout" if answer is None else answer.status_code)
        return
    status = answer.status_code
    if status == 429:
        governor.record(UPSTREAM, "429", _retry_after(answer), status=status)
        return
    if answer.headers.get("X-RateLimit-Remaining") == "0":
        reset = header_number(answer.headers.get("X-RateLimit-Reset-After"), 1.0)
        governor.record(UPSTREAM, "429", reset, status=status)
        return
    governor.record(UPSTREAM, "ok" if status < 400 else "other", status=status)


def request(method, path, token=None, bot=False, **kwargs):
    """One call to Discord; the answer, or ConnectorError (transient for 429, 5xx and timeouts)."""
    headers = kwargs.pop("headers", {})
    if bot:
        headers["Authorization"] = f"Bot {_config('DISCORD_BOT_TOKEN')}"
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    headers["User-Agent"] = f"DiscordBot (Bastion, {current_app.config['VERSION']})"
    url = f"{_config('DISCORD_API_URL')}{path}"
    answer = call(method, url, "Discord", observe, _config("DISCORD_TIMEOUT"), headers=headers, **kwargs)
    if answer.status_code < 400:
        return answer
    try:
        body = answer.json()
        message = body.get("message", "") if isinstance(body, dict) else ""
    except ValueError:
        message = ""
    retry_after = _retry_after(answer) if answer.status_code == 429 else None
    raise error_for(answer, "Discord", "Discord refused", retry_after=retry_after, message=message)


def exchange_code(code, redirect_uri):
    """Tokens for a member's authorization code."""
    return _token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})


def refresh(refresh_token):
    """New tokens for a member's refresh token."""
    return _token({"grant_type": "refresh_token", "refresh_token": refresh_token})


def _token(data):
    data = {
        **data,
        "client_id": _config("DISCORD_CLIENT_ID"),
        "client_secret": _config("DISCORD_CLIENT_SECRET"),
    }
    tokens = request("POST", "/oauth2/token", data=data).json()
    tokens["expires_at"] = utcnow() + timedelta(seconds=int(tokens.get("expires_in") or 0))
    return tokens


def me(access_token):
    """The Discord user behind a member's token."""
    return request("GET", "/users/@me", token=access_token).json()


def direct_message(discord_user_id, content):
    """Send a member a direct message from the bot: open (or reuse) the DM channel, then post.

    Discord answers 403 (code 50007) when the member accepts no messages from the bot; that comes
    back as a ConnectorError that is not transient.
    """
    channel = request("POST", "/users/@me/channels", bot=True, json={"recipient_id": str(discord_user_id)})
    try:
        channel_id = channel.json().get("id")
    except (ValueError, AttributeError):
        channel_id = None
    if not channel_id:
        raise ConnectorError("Discord answered without a DM channel", transient=True)
    request("POST", f"/channels/{channel_id}/messages", bot=True, json={"content": content[:2000]})


class DiscordConnector(Connector):
    """The bot adds the member to the server with the service's roles and their templated nickname."""

    kind = "discord"

    @property
    def upstream(self):
        return UPSTREAM

    def _link(self, event):
        link = db.session.scalars(db.select(DiscordLink).filter_by(user_id=event["user"]["id"])).first()
        if link is None:
            raise ConnectorError("the member has not linked their Discord account yet", waiting=True)
        return link

    def _nick(self, event):
        return name_for(self.service, event)

    def _guild(self):
        return self.settings["guild_id"], list(self.settings.get("role_ids") or [])

    def _member_token(self, link):
        """The member's access token, refreshed (and stored) when it has expired."""
        token = crypto.decrypt(link.access_token_encrypted)
        if link.expires_at is None or link.expires_at > utcnow() or not link.refresh_token_encrypted:
            return token
        tokens = refresh(crypto.decrypt(link.refresh_token_encrypted))
        link.access_token_encrypted = crypto.encrypt(tokens["access_token"])
        link.refresh_token_encrypted = crypto.encrypt(tokens["refresh_token"])
        link.expires_at = tokens["expires_at"]
        db.session.commit()
        return tokens["access_token"]

    def provision(self, event):
        link = self._link(event)
        guild, roles = self._guild()
        if link.access_token_encrypted is None:  # imported: already in the server, nothing to join with
            try:
                self.update(event)
            except ConnectorError as exc:
                if exc.status != 404:
                    raise
                raise ConnectorError(
                    "the member's Discord account (carried over from Alliance Auth) is not in the "
                    "server; they need to link Discord again",
                    waiting=True,
                ) from exc
            return 204
        body = {"access_token": self._member_token(link), "roles": roles, "nick": self._nick(event)}
        answer = request("PUT", f"/guilds/{guild}/members/{link.discord_user_id}", bot=True, json=body)
        if answer.status_code == 204:  # a member already: the join ignored roles and nick
            self.update(event)
        return answer.status_code

    def update(self, event):
        link = self._link(event)
        guild, roles = self._guild()
        member = f"/guilds/{guild}/members/{link.discord_user_id}"
        for role in roles:
            request("PUT", f"{member}/roles/{role}", bot=True)
        request("PATCH", member, bot=True, json={"nick": self._nick(event)})

    def deprovision(self, event):
        link = self._link(event)
        guild, roles = self._guild()
        for role in roles:
            try:
                request("DELETE", f"/guilds/{guild}/members/{link.discord_user_id}/roles/{role}", bot=True)
            except ConnectorError as exc:
                if exc.status != 404:  # no longer in the server: nothing to take away
                    raise

    def check(self):
        if not current_app.config["DISCORD_BOT_TOKEN"]:
            raise ConnectorError("DISCORD_BOT_TOKEN is not set")
        request("GET", "/users/@me", bot=True)
        return None
