"""Discord's API: OAuth2 to link a member's account, and the bot calls that manage server members.

Every answer's rate-limit headers go to the "discord" governor: a bucket with nothing left waits
out its reset, a 429 waits out its retry_after (Discord bans an IP after 10,000 invalid requests
in 10 minutes, so 429s must stay rare).
"""

from datetime import timedelta
from urllib.parse import urlencode

import requests
from flask import current_app

from app.models import utcnow
from app.services.connectors import ConnectorError

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


def _observe(answer):
    """Tell the governor what Discord said about its limits."""
    from app.jobs.setup import get_governor

    governor = get_governor()
    if answer is None or answer.status_code >= 500:
        governor.record(UPSTREAM, "5xx", status="timeout" if answer is None else answer.status_code)
        return
    status = answer.status_code
    if status == 429:
        governor.record(UPSTREAM, "429", _retry_after(answer), status=status)
        return
    if answer.headers.get("X-RateLimit-Remaining") == "0":
        governor.record(
            UPSTREAM, "429", _number(answer.headers.get("X-RateLimit-Reset-After"), 1.0), status=status
        )
        return
    governor.record(UPSTREAM, "ok" if status < 400 else "other", status=status)


def _retry_after(answer):
    try:
        body = answer.json()
    except ValueError:
        body = {}
    return _number(body.get("retry_after"), _number(answer.headers.get("Retry-After"), 1.0))


def _number(value, default):
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


def call(method, path, token=None, bot=False, **kwargs):
    """One call to Discord; the answer, or ConnectorError (transient for 429, 5xx and timeouts)."""
    headers = kwargs.pop("headers", {})
    if bot:
        headers["Authorization"] = f"Bot {_config('DISCORD_BOT_TOKEN')}"
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    headers["User-Agent"] = f"DiscordBot (Bastion, {current_app.config['VERSION']})"
    try:
        answer = requests.request(
            method,
            f"{_config('DISCORD_API_URL')}{path}",
            headers=headers,
            timeout=_config("DISCORD_TIMEOUT"),
            **kwargs,
        )
    except requests.RequestException as exc:
        _observe(None)
        raise ConnectorError(f"Discord could not be reached ({type(exc).__name__})", transient=True) from None
    _observe(answer)
    if answer.status_code == 429:
        raise ConnectorError(
            "Discord asked to slow down (429)", transient=True, retry_after=_retry_after(answer), status=429
        )
    if answer.status_code >= 500:
        raise ConnectorError(
            f"Discord failed ({answer.status_code})", transient=True, status=answer.status_code
        )
    if answer.status_code >= 400:
        try:
            message = answer.json().get("message", "")
        except ValueError:
            message = ""
        raise ConnectorError(
            f"Discord refused: {answer.status_code} {message}".strip(), status=answer.status_code
        )
    return answer


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
    answer = call("POST", "/oauth2/token", data=data)
    tokens = answer.json()
    tokens["expires_at"] = utcnow() + timedelta(seconds=int(tokens.get("expires_in") or 0))
    return tokens


def me(access_token):
    """The Discord user behind a member's token."""
    return call("GET", "/users/@me", token=access_token).json()


def nickname(ticker, name):
    """ "[TICKER] Name", cut to Discord's 32 characters."""
    text = f"[{ticker}] {name}" if ticker else name
    return text[:32]
