"""The control API of the sandbox's Discord: register applications, bots, guilds and users; read
members and counters."""

from flask import Blueprint, request

from sandbox.discord_state import world

control = Blueprint("discord_control", __name__)


def _body():
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@control.post("/discord/apps")
def add_app():
    """Register an OAuth2 application: client_id, client_secret, redirect_uris."""
    body = _body()
    if not body.get("client_id") or not body.get("client_secret"):
        return {"error": "missing: client_id, client_secret"}, 400
    with world().lock:
        world().apps[body["client_id"]] = {
            "secret": body["client_secret"],
            "redirect_uris": list(body.get("redirect_uris") or []),
        }
    return {"client_id": body["client_id"]}, 201


@control.post("/discord/apps/<client_id>/redirect-uris")
def add_redirect(client_id):
    """Allow one more redirect URI for an application."""
    app = world().apps.get(client_id)
    if app is None:
        return {"error": "no such application"}, 404
    with world().lock:
        app["redirect_uris"].append(_body().get("uri", ""))
    return {"redirect_uris": app["redirect_uris"]}


@control.post("/discord/bots")
def add_bot():
    """Accept a bot token."""
    token = _body().get("token")
    if not token:
        return {"error": "missing: token"}, 400
    with world().lock:
        world().bots.add(token)
    return {"ok": True}, 201


@control.post("/discord/guilds")
def add_guild():
    """Create a guild with roles: name, roles (names) -> guild_id and role ids by name."""
    body = _body()
    w = world()
    with w.lock:
        guild_id = str(body.get("guild_id") or w.new_id())
        roles = {w.new_id(): name for name in body.get("roles") or []}
        w.guilds[guild_id] = {
            "id": guild_id,
            "name": body.get("name") or "Guild",
            "roles": roles,
            "members": {},
        }
    return {"guild_id": guild_id, "roles": {name: role_id for role_id, name in roles.items()}}, 201


@control.post("/discord/users")
def add_user():
    """Create a Discord user: username."""
    name = _body().get("username") or "someone"
    w = world()
    with w.lock:
        user_id = w.new_id()
        w.users[user_id] = {"id": user_id, "username": name, "global_name": name}
    return w.users[user_id], 201


@control.get("/discord/guilds/<guild_id>/members")
def members(guild_id):
    """A guild's members with their roles and nicks."""
    guild = world().guilds.get(guild_id)
    if guild is None:
        return {"error": "no such guild"}, 404
    with world().lock:
        return {uid: {"nick": m["nick"], "roles": sorted(m["roles"])} for uid, m in guild["members"].items()}


@control.get("/discord/users/<user_id>/messages")
def messages(user_id):
    """The direct messages the bot sent a user, oldest first."""
    with world().lock:
        return {"messages": list(world().messages.get(user_id, []))}


@control.post("/discord/users/<user_id>/dms")
def set_dms(user_id):
    """Whether a user accepts direct messages: {"open": false} closes them."""
    w = world()
    if user_id not in w.users:
        return {"error": "no such user"}, 404
    with w.lock:
        (w.closed_dms.discard if _body().get("open", True) else w.closed_dms.add)(user_id)
    return {"open": user_id not in w.closed_dms}


@control.get("/discord/stats")
def stats():
    """Discord's counters: 429s served, invalid requests, DM channels opened, messages sent."""
    with world().lock:
        return dict(world().counters)
