"""ESI's corporation membership routes (a member's token; member tracking needs the Director role)
and the bulk name lookup, as the ESI contract describes them."""

import jwt
from flask import request

from sandbox.common import signing_key, universe
from sandbox.esi import _not_found, bp, esi_route

MEMBERSHIP_SCOPE = "esi-corporations.read_corporation_membership.v1"
TRACKING_SCOPE = "esi-corporations.track_members.v1"
DIRECTOR_ROLE = "Director"


def _authorised(corporation_id, scope, role=None):
    """(the token's character, None) when a bearer token with the scope, for a character in the
    corporation (holding the role, if one is required), was sent; else (None, (error, status))."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None, ({"error": "authorization not provided"}, 401)
    try:
        claims = signing_key().verify(header[7:], audience="EVE Online")
    except jwt.InvalidTokenError as exc:
        return None, ({"error": f"token is not valid: {exc}"}, 401)
    scopes = claims.get("scp", [])
    scopes = [scopes] if isinstance(scopes, str) else scopes
    if scope not in scopes:
        return None, ({"error": "token is not valid for scope(s): " + scope}, 403)
    world = universe()
    with world.lock:
        if corporation_id not in world.corporations:
            return None, _not_found("Corporation")
        character = world.characters.get(int(str(claims.get("sub", "")).rsplit(":", 1)[-1] or 0))
        if character is None or character.corporation_id != corporation_id:
            return None, ({"error": "Character is not in the corporation"}, 403)
        if role is not None and role not in character.roles:
            return None, ({"error": f"Character does not have required role(s): {role}"}, 403)
    return character, None


@bp.get("/corporations/<int:corporation_id>/members")
@esi_route(cache_s=3600, group="corp-member")
def corporation_members(corporation_id):
    """The ids of a corporation's members; the token's character must be one of them."""
    _, refused = _authorised(corporation_id, MEMBERSHIP_SCOPE)
    if refused:
        return refused
    world = universe()
    with world.lock:
        return sorted(c.id for c in world.characters.values() if c.corporation_id == corporation_id), 200


@bp.get("/corporations/<int:corporation_id>/membertracking")
@esi_route(cache_s=3600, group="corp-member")
def member_tracking(corporation_id):
    """Each member's last logon and logoff and when it joined; needs the Director role."""
    _, refused = _authorised(corporation_id, TRACKING_SCOPE, role=DIRECTOR_ROLE)
    if refused:
        return refused
    world = universe()
    rows = []
    with world.lock:
        for character in sorted(world.characters.values(), key=lambda c: c.id):
            if character.corporation_id != corporation_id:
                continue
            row = {"character_id": character.id}
            for name in ("logon_date", "logoff_date", "start_date"):
                if getattr(character, name):
                    row[name] = getattr(character, name)
            rows.append(row)
    return rows, 200


@bp.post("/universe/names")
@esi_route(cache_s=3600)
def universe_names():
    """Names and categories of 1 to 1000 unique ids; one unknown id fails the whole request."""
    ids = request.get_json(silent=True)
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return {"error": "Body must be a JSON array of ids"}, 400
    if not 1 <= len(ids) <= 1000 or len(set(ids)) != len(ids):
        return {"error": "Between 1 and 1000 unique ids are allowed"}, 400
    world = universe()
    rows = []
    with world.lock:
        world.counters.names_calls += 1
        world.counters.names_batches.append(len(ids))
        for i in ids:
            for category, things in (
                ("character", world.characters),
                ("corporation", world.corporations),
                ("alliance", world.alliances),
            ):
                if i in things:
                    rows.append({"id": i, "name": things[i].name, "category": category})
                    break
            else:
                return {"error": "Ensure all IDs are valid before resolving."}, 404
    return rows, 200
