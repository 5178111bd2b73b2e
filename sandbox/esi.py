"""ESI: the routes Bastion uses, with error-limit and bucket headers, caching and injected faults."""

import functools
import hashlib
import json
import math
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import jwt
from flask import Blueprint, Response, request

from sandbox.common import injected_fault, pause, signing_key, universe

bp = Blueprint("esi", __name__)

ROLES_SCOPE = "esi-characters.read_corporation_roles.v1"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BUCKET_COST = {2: 2, 3: 1, 4: 5, 5: 0}
SERVER_START = datetime.now(UTC).replace(microsecond=0)


def _json(body, status):
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def _who():
    """Whom a bucket belongs to: the application and character of a token, else the caller's address."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        try:
            claims = jwt.decode(header[7:], options={"verify_signature": False})
            return f"{claims.get('azp')}:{claims.get('sub')}"
        except jwt.InvalidTokenError:
            pass
    return request.remote_addr or "unknown"


def _bucket_state(world, key, now):
    """(tokens used in the window, the window's entries) for one bucket, pruned to the window."""
    entries = world.buckets[key]
    horizon = now - world.config["bucket_window_s"]
    while entries and entries[0][0] <= horizon:
        entries.popleft()
    return sum(cost for _, cost in entries), entries


def _error_window(world, now):
    """(errors in the current window, seconds until it resets)."""
    size = world.config["error_window_s"]
    number = int(now // size)
    if world.error_window[0] != number:
        world.error_window[:] = [number, 0]
    return world.error_window[1], max(1, int(math.ceil(size - now % size)))


def esi_route(cache_s, group=None):
    """Wrap an ESI handler returning (body, status) with ESI's headers, limits, caching and faults."""

    def decorator(handler):
        @functools.wraps(handler)
        def wrapped(**kwargs):
            world = universe()
            counters = world.counters
            compat = request.headers.get("X-Compatibility-Date")
            with world.lock:
                if compat is None:
                    counters.missing_compatibility_date += 1
                if not request.headers.get("User-Agent"):
                    counters.missing_user_agent += 1
            response = _limited_response(world, group)
            if response is None:
                if compat is not None and not DATE_RE.match(compat):
                    body, status = {"error": "Invalid X-Compatibility-Date; use YYYY-MM-DD"}, 400
                elif world.config["downtime"]:
                    body, status = {"error": "The datasource tranquility is temporarily unavailable"}, 503
                else:
                    fault = injected_fault("esi")
                    if isinstance(fault, Response):  # a 200 with garbage: no ESI headers either
                        pause()
                        return fault
                    if fault is not None:
                        body, status = fault[0].get_json(), fault[1]
                    else:
                        body, status = handler(**kwargs)
                response = _finish(world, body, status, cache_s, group)
            pause()
            return response

        return wrapped

    return decorator


def _limited_response(world, group):
    """A 420 or 429 when the caller is over a limit, else None."""
    now = time.time()
    with world.lock:
        # Past the error budget every route answers 420 until the window resets.
        errors, reset = _error_window(world, now)
        if errors >= world.config["error_limit"]:
            world.counters.served_420 += 1
            response = _json({"error": "This software has exceeded the error limit for ESI."}, 420)
            response.headers["X-ESI-Error-Limit-Remain"] = "0"
            response.headers["X-ESI-Error-Limit-Reset"] = str(reset)
            return response
        if group is None:
            return None
        limit = world.config["bucket_limits"].get(group, 600)
        used, entries = _bucket_state(world, (group, _who()), now)
        if used < limit:
            return None
        world.counters.esi_429 += 1
        # Wait until enough of the oldest spending falls out of the window.
        freed, retry_at = 0, now + 1
        for stamp, cost in entries:
            freed += cost
            if used - freed < limit:
                retry_at = stamp + world.config["bucket_window_s"]
                break
        response = _json({"error": "Too many requests"}, 429)
        response.headers["Retry-After"] = str(max(1, int(math.ceil(retry_at - now))))
        _bucket_headers(response, world, group, limit, used)
        return response


def _bucket_headers(response, world, group, limit, used):
    window_minutes = world.config["bucket_window_s"] // 60
    response.headers["X-Ratelimit-Group"] = group
    response.headers["X-Ratelimit-Limit"] = f"{limit}/{window_minutes}m"
    response.headers["X-Ratelimit-Remaining"] = str(max(0, limit - used))
    response.headers["X-Ratelimit-Used"] = str(used)


def _finish(world, body, status, cache_s, group):
    """Turn a handler's answer into a response: caching, 304, and the limit bookkeeping."""
    now = time.time()
    response = _json(body, status)
    if status == 200:
        etag = '"' + hashlib.sha1(response.get_data()).hexdigest() + '"'  # noqa: S324  (an ETag)
        expires = datetime.now(UTC) + timedelta(seconds=cache_s)
        if request.headers.get("If-None-Match") == etag:
            response = Response(status=304)
            status = 304
        response.headers["ETag"] = etag
        response.headers["Expires"] = format_datetime(expires, usegmt=True)
        response.headers["Last-Modified"] = format_datetime(SERVER_START, usegmt=True)
        response.headers["Cache-Control"] = f"public, max-age={cache_s}"
    with world.lock:
        if group is None:
            if status >= 400:
                world.counters.esi_errors += 1
                _error_window(world, now)
                world.error_window[1] += 1
            errors, reset = _error_window(world, now)
            response.headers["X-ESI-Error-Limit-Remain"] = str(max(0, world.config["error_limit"] - errors))
            response.headers["X-ESI-Error-Limit-Reset"] = str(reset)
        else:
            limit = world.config["bucket_limits"].get(group, 600)
            key = (group, _who())
            used, entries = _bucket_state(world, key, now)
            cost = BUCKET_COST.get(status // 100, 0)
            if cost:
                entries.append((now, cost))
                used += cost
            _bucket_headers(response, world, group, limit, used)
    return response


def _not_found(kind):
    return {"error": f"{kind} not found"}, 404


@bp.get("/status")
@esi_route(cache_s=30, group="status")
def status():
    """Server status."""
    return {
        "players": len(universe().characters),
        "server_version": "2983647",
        "start_time": SERVER_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }, 200


@bp.get("/characters/<int:character_id>")
@esi_route(cache_s=86400)
def character(character_id):
    """Public information about a character."""
    world = universe()
    with world.lock:
        found = world.characters.get(character_id)
        if found is None:
            return _not_found("Character")
        body = {
            "name": found.name,
            "corporation_id": found.corporation_id,
            "birthday": found.birthday,
            "gender": found.gender,
            "race_id": found.race_id,
            "bloodline_id": found.bloodline_id,
            "security_status": 0.0,
            "description": "",
        }
        alliance_id = world.alliance_of(found)
    if alliance_id:
        body["alliance_id"] = alliance_id
    return body, 200


@bp.post("/characters/affiliation")
@esi_route(cache_s=3600)
def affiliation():
    """Corporation and alliance of up to 1000 characters; one unknown id fails the whole request."""
    ids = request.get_json(silent=True)
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return {"error": "Body must be a JSON array of character ids"}, 400
    if not 1 <= len(ids) <= 1000:
        return {"error": "Between 1 and 1000 character ids are allowed"}, 400
    if len(set(ids)) != len(ids):
        return {"error": "Character ids must be unique"}, 400
    world = universe()
    with world.lock:
        world.counters.affiliation_calls += 1
        world.counters.affiliation_ids += len(ids)
        if len(world.counters.affiliation_batches) < 300:
            world.counters.affiliation_batches.append(len(ids))
        unknown = [i for i in ids if i not in world.characters]
        if unknown:
            return {
                "error": "Invalid character ID(s)",
                "details": [{"character_id": i} for i in unknown[:10]],
            }, 404
        rows = []
        wrong = world.config.get("affiliation_corporation_override")
        for i in ids:
            found = world.characters[i]
            if wrong:  # wrong data, as ESI has served on bad days
                rows.append({"character_id": i, "corporation_id": int(wrong)})
                continue
            row = {"character_id": i, "corporation_id": found.corporation_id}
            alliance_id = world.alliance_of(found)
            if alliance_id:
                row["alliance_id"] = alliance_id
            rows.append(row)
    return rows, 200


@bp.post("/universe/ids")
@esi_route(cache_s=43200)
def universe_ids():
    """Exact (case-insensitive) names of characters, corporations and alliances to their ids;
    categories without a match are left out, as ESI does."""
    names = request.get_json(silent=True)
    if not isinstance(names, list) or not all(isinstance(n, str) and 1 <= len(n) <= 100 for n in names):
        return {"error": "Body must be a JSON array of names of 1 to 100 characters"}, 400
    if not 1 <= len(names) <= 500 or len(set(names)) != len(names):
        return {"error": "Between 1 and 500 unique names are allowed"}, 400
    wanted = {n.casefold() for n in names}
    world = universe()
    found = {}
    with world.lock:
        for category, things in (
            ("characters", world.characters),
            ("corporations", world.corporations),
            ("alliances", world.alliances),
        ):
            rows = [{"id": i, "name": t.name} for i, t in things.items() if t.name.casefold() in wanted]
            if rows:
                found[category] = rows
    return found, 200


@bp.get("/corporations/<int:corporation_id>")
@esi_route(cache_s=3600)
def corporation(corporation_id):
    """Public information about a corporation."""
    world = universe()
    with world.lock:
        found = world.corporations.get(corporation_id)
        if found is None:
            return _not_found("Corporation")
        body = {
            "name": found.name,
            "ticker": found.ticker,
            "member_count": world.member_count(found.id),
            "ceo_id": found.ceo_id,
            "creator_id": found.creator_id,
            "tax_rate": found.tax_rate,
            "date_founded": found.date_founded,
        }
    if found.alliance_id:
        body["alliance_id"] = found.alliance_id
    return body, 200


@bp.get("/alliances/<int:alliance_id>")
@esi_route(cache_s=3600)
def alliance(alliance_id):
    """Public information about an alliance."""
    world = universe()
    with world.lock:
        found = world.alliances.get(alliance_id)
        if found is None:
            return _not_found("Alliance")
        body = {
            "name": found.name,
            "ticker": found.ticker,
            "creator_id": found.creator_id,
            "creator_corporation_id": found.creator_corporation_id or 0,
            "date_founded": found.date_founded,
        }
        if found.executor_corporation_id:
            body["executor_corporation_id"] = found.executor_corporation_id
    return body, 200


@bp.get("/characters/<int:character_id>/roles")
@esi_route(cache_s=3600, group="char-detail")
def roles(character_id):
    """A character's corporation roles; needs a bearer token with the roles scope for that character."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return {"error": "authorization not provided"}, 401
    world = universe()
    try:
        claims = signing_key().verify(header[7:], audience="EVE Online")
    except jwt.InvalidTokenError as exc:
        return {"error": f"token is not valid: {exc}"}, 401
    if claims.get("sub") != f"CHARACTER:EVE:{character_id}":
        return {"error": "token is not for this character"}, 403
    scopes = claims.get("scp", [])
    scopes = [scopes] if isinstance(scopes, str) else scopes
    if ROLES_SCOPE not in scopes:
        return {"error": "token is not valid for scope(s): " + ROLES_SCOPE}, 403
    with world.lock:
        found = world.characters.get(character_id)
        if found is None:
            return _not_found("Character")
        held = list(found.roles)
    return {"roles": held, "roles_at_base": [], "roles_at_hq": [], "roles_at_other": []}, 200
