"""The control API under /_sandbox/: entities and grants, moving and selling characters, faults, counters."""

from flask import Blueprint, request

from sandbox.common import error, universe
from sandbox.state import DEFAULT_CONFIG, new_owner_hash

bp = Blueprint("control", __name__)


def _body():
    """The JSON object sent, or an empty one."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _require(body, *names):
    missing = [name for name in names if body.get(name) in (None, "")]
    if missing:
        raise ValueError("missing: " + ", ".join(missing))


def _character_json(world, character):
    return {
        "character_id": character.id,
        "name": character.name,
        "owner_hash": character.owner_hash,
        "corporation_id": character.corporation_id,
        "alliance_id": world.alliance_of(character),
        "roles": list(character.roles),
    }


@bp.errorhandler(ValueError)
@bp.errorhandler(LookupError)
def bad_request(exc):
    """Bad control calls say what is wrong."""
    return error(400, str(exc))


@bp.post("/clients")
def add_client():
    """Register an application: client_id, client_secret, redirect_uris."""
    body = _body()
    _require(body, "client_id", "client_secret")
    uris = body.get("redirect_uris") or []
    if not isinstance(uris, list):
        raise ValueError("redirect_uris must be a list")
    client = universe().add_client(body["client_id"], body["client_secret"], uris)
    return {"client_id": client.client_id, "redirect_uris": client.redirect_uris}, 201


@bp.post("/alliances")
def add_alliance():
    """Create an alliance: name, ticker."""
    body = _body()
    _require(body, "name", "ticker")
    alliance = universe().add_alliance(body["name"], body["ticker"])
    return {"alliance_id": alliance.id, "name": alliance.name, "ticker": alliance.ticker}, 201


@bp.post("/corporations")
def add_corporation():
    """Create a corporation: name, ticker, alliance_id (optional)."""
    body = _body()
    _require(body, "name", "ticker")
    corporation = universe().add_corporation(body["name"], body["ticker"], body.get("alliance_id"))
    return {
        "corporation_id": corporation.id,
        "name": corporation.name,
        "ticker": corporation.ticker,
        "alliance_id": corporation.alliance_id,
    }, 201


@bp.post("/corporations/<int:corporation_id>/alliance")
def set_corporation_alliance(corporation_id):
    """Move a corporation into an alliance (alliance_id) or out of any (null)."""
    world = universe()
    alliance_id = _body().get("alliance_id")
    with world.lock:
        corporation = world.corporations.get(corporation_id)
        if corporation is None:
            raise LookupError(f"no corporation {corporation_id}")
        if alliance_id is not None and alliance_id not in world.alliances:
            raise LookupError(f"no alliance {alliance_id}")
        corporation.alliance_id = alliance_id
        world.dirty = True
    return {"corporation_id": corporation_id, "alliance_id": alliance_id}


@bp.post("/characters")
def add_character():
    """Create a character: name, corporation_id (optional)."""
    body = _body()
    _require(body, "name")
    world = universe()
    character = world.add_character(body["name"], body.get("corporation_id"))
    return _character_json(world, character), 201


@bp.post("/characters/bulk")
def add_characters_in_bulk():
    """Create many characters with a grant each: count, client_id, scopes, corporation_id (optional)."""
    body = _body()
    _require(body, "count", "client_id")
    count = int(body["count"])
    if not 1 <= count <= 100_000:
        raise ValueError("count must be 1 to 100000")
    world = universe()
    prefix = body.get("name_prefix", "Pilot")
    made = []
    with world.lock:
        for _ in range(count):
            character = world.add_character(
                f"{prefix} {world.next_ids['character']}", body.get("corporation_id")
            )
            grant = world.add_grant(character.id, body["client_id"], body.get("scopes") or [])
            made.append(
                {
                    "character_id": character.id,
                    "name": character.name,
                    "owner_hash": character.owner_hash,
                    "corporation_id": character.corporation_id,
                    "refresh_token": grant.refresh_token,
                    "grant_id": grant.id,
                }
            )
    return {"characters": made}, 201


@bp.post("/corporations/<int:corporation_id>/members")
def add_members(corporation_id):
    """Put new characters in a corporation in game: members, a list of {name, logon_date?,
    logoff_date?, start_date?}, or count (with name_prefix); they have no grants. The answer
    lists them and the corporation's members now."""
    body = _body()
    members = body.get("members")
    if members is None:
        count = int(body.get("count") or 0)
        if not 1 <= count <= 100_000:
            raise ValueError("give members (a list) or count (1 to 100000)")
        prefix = str(body.get("name_prefix") or "Member")
        members = [{"name": f"{prefix} {n}"} for n in range(1, count + 1)]
    if not isinstance(members, list) or not all(isinstance(m, dict) and m.get("name") for m in members):
        raise ValueError("members must be a list of objects with a name")
    world = universe()
    made = []
    with world.lock:
        if corporation_id not in world.corporations:
            raise LookupError(f"no corporation {corporation_id}")
        for member in members:
            character = world.add_character(str(member["name"]), corporation_id)
            for name in ("logon_date", "logoff_date", "start_date"):
                setattr(character, name, member.get(name))
            made.append(_character_json(world, character))
        total = world.member_count(corporation_id)
    return {"characters": made, "member_count": total}, 201


@bp.get("/characters/<int:character_id>")
def get_character(character_id):
    """A character as the sandbox holds it."""
    world = universe()
    character = world.characters.get(character_id)
    if character is None:
        return error(404, f"no character {character_id}")
    return _character_json(world, character)


@bp.post("/characters/<int:character_id>/move")
def move_character(character_id):
    """Move a character to another corporation: corporation_id."""
    body = _body()
    _require(body, "corporation_id")
    world = universe()
    with world.lock:
        character = world.characters.get(character_id)
        if character is None:
            raise LookupError(f"no character {character_id}")
        if body["corporation_id"] not in world.corporations:
            raise LookupError(f"no corporation {body['corporation_id']}")
        character.corporation_id = body["corporation_id"]
        character.roles = []
        world.dirty = True
        return _character_json(world, character)


@bp.post("/characters/<int:character_id>/sell")
def sell_character(character_id):
    """Sell a character to another account: a new owner hash; revoke_grants to also end its grants."""
    world = universe()
    with world.lock:
        character = world.characters.get(character_id)
        if character is None:
            raise LookupError(f"no character {character_id}")
        character.owner_hash = new_owner_hash()
        if _body().get("revoke_grants"):
            for grant in world.grants.values():
                if grant.character_id == character_id:
                    grant.revoked = True
        world.dirty = True
        return _character_json(world, character)


@bp.post("/characters/<int:character_id>/roles")
def set_roles(character_id):
    """Set a character's corporation roles: roles (a list, e.g. ["Director"])."""
    roles = _body().get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ValueError("roles must be a list of role names")
    world = universe()
    with world.lock:
        character = world.characters.get(character_id)
        if character is None:
            raise LookupError(f"no character {character_id}")
        character.roles = roles
        world.dirty = True
        return _character_json(world, character)


@bp.post("/grants")
def add_grant():
    """A grant as if the character had completed the SSO flow: character_id, client_id, scopes."""
    body = _body()
    _require(body, "character_id", "client_id")
    grant = universe().add_grant(body["character_id"], body["client_id"], body.get("scopes") or [])
    return {"refresh_token": grant.refresh_token, "grant_id": grant.id}, 201


@bp.get("/grants")
def list_grants():
    """Every grant: id, character, client, whether it is revoked (never the tokens)."""
    world = universe()
    with world.lock:
        rows = [
            {"grant_id": g.id, "character_id": g.character_id, "client_id": g.client_id, "revoked": g.revoked}
            for g in world.grants.values()
        ]
    return {"grants": rows}


@bp.post("/grants/revoke")
def revoke_grants():
    """Revoke grants by refresh_token, grant_id or character_id."""
    body = _body()
    world = universe()
    with world.lock:
        token = body.get("refresh_token")
        ids = set()
        if token:
            found = world.tokens.get(token) or world.rotated.get(token)
            if found:
                ids.add(found)
        if body.get("grant_id") in world.grants:
            ids.add(body["grant_id"])
        if body.get("character_id"):
            ids |= {g.id for g in world.grants.values() if g.character_id == body["character_id"]}
        if not ids:
            raise LookupError("no matching grant")
        for grant_id in ids:
            world.grants[grant_id].revoked = True
        world.dirty = True
    return {"revoked": sorted(ids)}


@bp.post("/grants/unrevoke")
def unrevoke_grants():
    """Make revoked grants live again (by grant_id, character_id, or all: true); their current refresh
    tokens work again."""
    body = _body()
    world = universe()
    with world.lock:
        found = [
            g
            for g in world.grants.values()
            if body.get("all") or g.id == body.get("grant_id") or g.character_id == body.get("character_id")
        ]
        if not found:
            raise LookupError("no matching grant")
        for grant in found:
            grant.revoked = False
        world.dirty = True
    return {"unrevoked": sorted(g.id for g in found)}


@bp.route("/config", methods=["GET", "POST"])
def config():
    """Read or change settings: latency_ms, fault_rate, sso_rate_limit, downtime, ..."""
    world = universe()
    if request.method == "POST":
        body = _body()
        unknown = set(body) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError("unknown settings: " + ", ".join(sorted(unknown)))
        with world.lock:
            world.config.update(body)
            world.token_window.clear()
    return dict(world.config)


@bp.post("/reset-limits")
def reset_limits():
    """Forget the error window, the buckets and the hidden rate limit's window."""
    world = universe()
    with world.lock:
        world.error_window[:] = [0, 0]
        world.buckets.clear()
        world.token_window.clear()
    return {"ok": True}


@bp.get("/stats")
def stats():
    """The counters; per_grant=1 adds refreshes per grant."""
    world = universe()
    with world.lock:
        return world.counters.snapshot(per_grant=request.args.get("per_grant") == "1")


@bp.post("/stats/reset")
def reset_stats():
    """Start the counters from zero."""
    world = universe()
    with world.lock:
        world.counters.reset()
    return {"ok": True}
