"""Discord's API as Bastion uses it: OAuth2 to link an account, and a bot managing guild members.

Routes under /discord: ``/discord/oauth2/authorize`` (the page a member sees), and under
``/discord/api/v10``: ``POST /oauth2/token``, ``GET /users/@me``, ``PUT /guilds/{g}/members/{u}``,
``PUT`` / ``DELETE /guilds/{g}/members/{u}/roles/{r}``, ``PATCH /guilds/{g}/members/{u}``,
``POST /users/@me/channels`` (open a DM channel) and ``POST /channels/{c}/messages`` (send a message;
403 with code 50007 to a user who shares no guild with the bot or accepts no direct messages).
Rate limits as Discord sends them: ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``,
``-Reset-After``, ``-Bucket``, ``-Scope``; a 429 carries ``{"message", "retry_after", "global"}``
and ``Retry-After``. The control API registers applications, bots, users and guilds.
"""

import secrets
import time
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, make_response, redirect, render_template, request

from sandbox.discord_state import GLOBAL_LIMIT, ROUTE_LIMIT, ROUTE_WINDOW, world

bp = Blueprint("discord", __name__)


def _error(status, message, code=0):
    if status in (401, 403, 429):
        with world().lock:
            world().counters["invalid_requests"] += 1
    return make_response(jsonify({"message": message, "code": code}), status)


def _bot():
    """The bot token of the request, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme == "Bot" and token in world().bots else None


def _limited(bot, bucket):
    """Count this request in its bucket; a 429 response when over the limit, else the headers to send."""
    now = time.time()
    w = world()
    with w.lock:
        glob = w.global_window[bot]
        while glob and glob[0] <= now - 1.0:
            glob.popleft()
        if len(glob) >= GLOBAL_LIMIT:
            w.counters["rate_limited"] += 1
            w.counters["invalid_requests"] += 1
            retry = round(1.0 - (now - glob[0]), 3)
            answer = make_response(
                jsonify({"message": "You are being rate limited.", "retry_after": retry, "global": True}), 429
            )
            answer.headers["Retry-After"] = str(max(1, round(retry)))
            answer.headers["X-RateLimit-Global"] = "true"
            answer.headers["X-RateLimit-Scope"] = "global"
            return answer, None
        window = w.windows[(bot, bucket)]
        while window and window[0] <= now - ROUTE_WINDOW:
            window.popleft()
        reset_after = round(ROUTE_WINDOW - (now - window[0]), 3) if window else ROUTE_WINDOW
        headers = {
            "X-RateLimit-Limit": str(ROUTE_LIMIT),
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Reset": f"{now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        if len(window) >= ROUTE_LIMIT:
            w.counters["rate_limited"] += 1
            answer = make_response(
                jsonify(
                    {"message": "You are being rate limited.", "retry_after": reset_after, "global": False}
                ),
                429,
            )
            w.counters["invalid_requests"] += 1
            answer.headers.update(headers)
            answer.headers["X-RateLimit-Remaining"] = "0"
            answer.headers["X-RateLimit-Scope"] = "user"
            answer.headers["Retry-After"] = str(max(1, round(reset_after)))
            return answer, None
        window.append(now)
        glob.append(now)
        headers["X-RateLimit-Remaining"] = str(ROUTE_LIMIT - len(window))
        return None, headers


def _bot_call(bucket):
    """Check the bot's token and the bucket; (error response or None, headers).

    The bucket's headers go on whatever the route answers, errors included, as Discord does.
    """
    bot = _bot()
    if bot is None:
        return _error(401, "401: Unauthorized"), {}
    refused, headers = _limited(bot, bucket)
    g.ratelimit_headers = headers or {}
    return refused, headers


@bp.after_request
def _rate_limit_headers(response):
    for name, value in g.pop("ratelimit_headers", {}).items():
        response.headers.setdefault(name, value)
    return response


def _member_target(guild_id, user_id):
    guild = world().guilds.get(guild_id)
    if guild is None:
        return None, _error(404, "Unknown Guild", 10004)
    if user_id not in world().users:
        return None, _error(404, "Unknown User", 10013)
    return guild, None


# OAuth2


@bp.get("/oauth2/authorize")
def authorize():
    """The page where a member picks (or creates) their Discord account and authorizes the app."""
    params = {
        k: request.args.get(k, "") for k in ("client_id", "redirect_uri", "response_type", "scope", "state")
    }
    app = world().apps.get(params["client_id"])
    if app is None or params["redirect_uri"] not in app["redirect_uris"]:
        return render_template("authorize_error.html", message="Unknown application or redirect URI."), 400
    return render_template("discord_authorize.html", params=params, users=list(world().users.values()))


@bp.post("/oauth2/authorize")
def authorize_submit():
    """Issue a code and send the member back."""
    form = request.form
    app = world().apps.get(form.get("client_id", ""))
    redirect_uri = form.get("redirect_uri", "")
    if app is None or redirect_uri not in app["redirect_uris"]:
        return render_template("authorize_error.html", message="Unknown application or redirect URI."), 400
    w = world()
    with w.lock:
        if form.get("action") == "create":
            name = (form.get("username") or "").strip()
            if not name:
                return render_template("authorize_error.html", message="Pick a username."), 400
            user_id = w.new_id()
            w.users[user_id] = {"id": user_id, "username": name, "global_name": name}
        else:
            user_id = form.get("user_id", "")
            if user_id not in w.users:
                return render_template("authorize_error.html", message="Unknown user."), 400
        code = secrets.token_urlsafe(16)
        w.codes[code] = (user_id, form["client_id"], redirect_uri, form.get("scope", ""))
    return redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': form.get('state', '')})}")


@bp.post("/api/v10/oauth2/token")
def token():
    """Exchange a code, or a refresh token, for tokens (client credentials in the form or Basic)."""
    form = request.form
    client_id = form.get("client_id") or (request.authorization.username if request.authorization else "")
    secret = form.get("client_secret") or (request.authorization.password if request.authorization else "")
    w = world()
    app = w.apps.get(client_id)
    if app is None or app["secret"] != secret:
        return make_response(jsonify({"error": "invalid_client"}), 401)
    with w.lock:
        if form.get("grant_type") == "authorization_code":
            found = w.codes.pop(form.get("code", ""), None)
            if found is None or found[1] != client_id or found[2] != form.get("redirect_uri"):
                return make_response(jsonify({"error": "invalid_grant"}), 400)
            user_id, scopes = found[0], found[3]
        elif form.get("grant_type") == "refresh_token":
            found = w.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if found is None:
                return make_response(jsonify({"error": "invalid_grant"}), 400)
            user_id, scopes = found
        else:
            return make_response(jsonify({"error": "unsupported_grant_type"}), 400)
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        w.tokens[access] = (user_id, scopes, time.time() + 604800)
        w.refresh_tokens[refresh] = (user_id, scopes)
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 604800,
        "refresh_token": refresh,
        "scope": scopes,
    }


@bp.get("/api/v10/users/@me")
def me():
    """The user behind a bearer token (or the bot behind a Bot token)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    w = world()
    if scheme == "Bot" and value in w.bots:
        return {"id": "1", "username": "Bastion bot", "bot": True}
    found = w.tokens.get(value) if scheme == "Bearer" else None
    if found is None or found[2] < time.time():
        return _error(401, "401: Unauthorized")
    return w.users[found[0]]


# The bot


@bp.put("/api/v10/guilds/<guild_id>/members/<user_id>")
def add_member(guild_id, user_id):
    """Join a user to the guild with their guilds.join token (201, or 204 when already there)."""
    refused, headers = _bot_call(f"members-{guild_id}")
    if refused is not None:
        return refused
    guild, missing = _member_target(guild_id, user_id)
    if missing is not None:
        return missing
    body = request.get_json(silent=True) or {}
    found = world().tokens.get(body.get("access_token", ""))
    w = world()
    with w.lock:
        if user_id in guild["members"]:
            return "", 204, headers
        if found is None or found[0] != user_id or "guilds.join" not in found[1].split():
            return _error(403, "Missing Access", 50001)
        guild["members"][user_id] = {"roles": set(body.get("roles") or []), "nick": body.get("nick")}
    return jsonify(_member_json(guild, user_id)), 201, headers


@bp.route("/api/v10/guilds/<guild_id>/members/<user_id>/roles/<role_id>", methods=["PUT", "DELETE"])
def member_role(guild_id, user_id, role_id):
    """Add or remove one role of a member (204)."""
    refused, headers = _bot_call(f"roles-{guild_id}")
    if refused is not None:
        return refused
    guild, missing = _member_target(guild_id, user_id)
    if missing is not None:
        return missing
    w = world()
    with w.lock:
        if role_id not in guild["roles"]:
            return _error(404, "Unknown Role", 10011)
        member = guild["members"].get(user_id)
        if member is None:
            return _error(404, "Unknown Member", 10007)
        if request.method == "PUT":
            member["roles"].add(role_id)
        else:
            member["roles"].discard(role_id)
    return "", 204, headers


@bp.patch("/api/v10/guilds/<guild_id>/members/<user_id>")
def modify_member(guild_id, user_id):
    """Change a member's nick (at most 32 characters) and/or roles."""
    refused, headers = _bot_call(f"members-{guild_id}")
    if refused is not None:
        return refused
    guild, missing = _member_target(guild_id, user_id)
    if missing is not None:
        return missing
    body = request.get_json(silent=True) or {}
    w = world()
    with w.lock:
        member = guild["members"].get(user_id)
        if member is None:
            return _error(404, "Unknown Member", 10007)
        if "nick" in body:
            nick = body["nick"]
            if nick is not None and len(nick) > 32:
                return make_response(jsonify({"message": "Invalid Form Body", "code": 50035}), 400)
            member["nick"] = nick
        if "roles" in body:
            member["roles"] = set(body["roles"] or [])
    return jsonify(_member_json(guild, user_id)), 200, headers


def _member_json(guild, user_id):
    member = guild["members"][user_id]
    return {"user": world().users[user_id], "nick": member["nick"], "roles": sorted(member["roles"])}


# Direct messages


@bp.post("/api/v10/users/@me/channels")
def create_dm():
    """Open (or reuse) the DM channel with a user: 200 with the channel."""
    refused, headers = _bot_call("dm-create")
    if refused is not None:
        return refused
    body = request.get_json(silent=True) or {}
    user_id = str(body.get("recipient_id") or "")
    w = world()
    if user_id not in w.users:
        return _error(400, "Invalid Recipient(s)", 50033)
    with w.lock:
        channel_id = next((c for c, u in w.channels.items() if u == user_id), None)
        if channel_id is None:
            channel_id = w.new_id()
            w.channels[channel_id] = user_id
            w.counters["dm_channels"] += 1
    return jsonify({"id": channel_id, "type": 1, "recipients": [w.users[user_id]]}), 200, headers


@bp.post("/api/v10/channels/<channel_id>/messages")
def create_message(channel_id):
    """Send a message to a DM channel: 200 with the message; 403 (50007) when the user cannot get it."""
    refused, headers = _bot_call(f"messages-{channel_id}")
    if refused is not None:
        return refused
    w = world()
    user_id = w.channels.get(channel_id)
    if user_id is None:
        return _error(404, "Unknown Channel", 10003)
    body = request.get_json(silent=True) or {}
    content = body.get("content")
    if not isinstance(content, str) or not content or len(content) > 2000:
        return make_response(jsonify({"message": "Invalid Form Body", "code": 50035}), 400)
    shares_guild = any(user_id in guild["members"] for guild in w.guilds.values())
    if user_id in w.closed_dms or not shares_guild:
        return _error(403, "Cannot send messages to this user", 50007)
    with w.lock:
        message = {"id": w.new_id(), "channel_id": channel_id, "content": content, "at": time.time()}
        w.messages[user_id].append(message)
        w.counters["messages"] += 1
    author = {"id": "1", "username": "Bastion bot", "bot": True}
    return jsonify({**message, "author": author}), 200, headers
