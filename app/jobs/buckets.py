"""ESI's bucket rate limits, kept per bucket: its group and whose it is (the token's character, or
the caller's address for a call without a token), as CCP publishes them.

Every answer that names a group (``X-Ratelimit-Group``, ``-Limit`` like ``600/15m``,
``-Remaining``, ``-Used``) updates that bucket's state in Redis; a 429 from a bucket blocks that
bucket alone until its Retry-After, never all of ESI. Which group a route belongs to is learnt from
the answers (never hard-coded). Before a bucketed call, ``gate(route, who)`` says whether that
bucket can take it: not while it is blocked, and not while it is down to its last few tokens
(a 4xx costs 5) until a minute has passed since it was last seen.
"""

import base64
import json
import re
import time
from urllib.parse import urlsplit

from app.http import header_number
from app.jobs import redis_keys
from app.jobs.rounds import Batch

MARGIN = 5  # tokens kept back: a 4xx costs 5
PROBE_S = 60.0  # a bucket at its end is tried again after this long without news of it
KEEP_S = 16 * 60  # a bucket's state outlives its 15-minute floating window a little
ID_RE = re.compile(r"/\d+(?=/|$)")
LIMIT_RE = re.compile(r"^(\d+)/(\d+)([smh])$")


def route_of(url, base_path=""):
    """A URL's route below ESI's base path, ids replaced: .../characters/9/roles -> /characters/{id}/roles."""
    path = urlsplit(url).path.rstrip("/")
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    return ID_RE.sub("/{id}", path)


def who_of(authorization):
    """Whose bucket a call spends: "character:<id>" for a bearer token, else "anonymous"."""
    if not authorization or not authorization.startswith("Bearer "):
        return "anonymous"
    try:
        payload = authorization[7:].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return "character:" + str(claims["sub"]).rsplit(":", 1)[-1]
    except (IndexError, KeyError, ValueError):
        return "anonymous"


def window_s(limit_text):
    """The window of a "600/15m" limit in seconds (900 when unreadable)."""
    match = LIMIT_RE.match(limit_text or "")
    if not match:
        return 900
    return int(match.group(2)) * {"s": 1, "m": 60, "h": 3600}[match.group(3)]


class Buckets:
    """The state of every ESI bucket, shared through Redis."""

    def __init__(self, redis_client, base_path=""):
        self.redis = redis_client
        self.base_path = base_path  # ESI's base URL's path ("" for esi.evetech.net)
        self._groups = {}  # route -> group, learnt (cached in this process)

    def observe(self, response, now=None, batch=None):
        """Read a bucketed answer's headers: the route's group, and the bucket's state (into batch,
        when given, for the caller to send)."""
        now = time.time() if now is None else now
        headers = response.headers
        group = headers["X-Ratelimit-Group"]
        request = getattr(response, "request", None)
        route = route_of(request.url, self.base_path) if request is not None else ""
        who = who_of(request.headers.get("Authorization") if request is not None else None)
        limit_text = headers.get("X-Ratelimit-Limit", "")
        limit = int(limit_text.split("/")[0]) if limit_text.split("/")[0].isdigit() else 0
        remaining = int(header_number(headers.get("X-Ratelimit-Remaining"), limit))
        state = {"group": group, "who": who, "limit": limit, "remaining": remaining, "seen_at": f"{now:.3f}"}
        if response.status_code == 429:
            state["blocked_until"] = f"{now + header_number(headers.get('Retry-After'), PROBE_S):.3f}"
            state["remaining"] = 0
        key = redis_keys.bucket(group, who)
        own = batch is None
        batch = Batch(self.redis) if own else batch
        if route and self._groups.get(route) != group:
            batch.command("hset", redis_keys.BUCKET_ROUTES, route, group)
            self._groups[route] = group
        batch.command("hset", key, mapping=state)
        batch.command("expire", key, max(KEEP_S, window_s(limit_text) + 60))
        at_end = state["remaining"] <= MARGIN or not limit
        batch.command(
            "zadd", redis_keys.BUCKET_INDEX, {f"{group}|{who}": 0.0 if at_end else state["remaining"] / limit}
        )
        if own:
            batch.send()

    def group_of(self, route):
        """The group ESI named for a route, or None while no answer has said."""
        group = self._groups.get(route)
        if group is None:
            group = self.redis.hget(redis_keys.BUCKET_ROUTES, route)
            if group is not None:
                self._groups[route] = group
        return group

    def gate(self, route, who, now=None):
        """(True, 0) when the bucket of this route and caller can take a call, else (False, seconds)."""
        batch = self.gate_into(Batch(self.redis), route, who)
        return self.gate_answer(batch.send()[0] if len(batch) else None, now)

    def gate_into(self, batch, route, who):
        """Queue the read gate() makes into a round trip (nothing while the route's group is
        unknown); read its answer (None when nothing was queued) with gate_answer()."""
        group = self.group_of(route)
        if group is not None:
            batch.command("hgetall", redis_keys.bucket(group, who))
        return batch

    @staticmethod
    def gate_answer(state, now=None):
        """gate()'s answer from the bucket's state as read."""
        now = time.time() if now is None else now
        if not state:
            return True, 0.0
        blocked_until = float(state.get("blocked_until") or 0)
        if blocked_until > now:
            return False, blocked_until - now
        seen_at = float(state.get("seen_at") or 0)
        if int(state.get("remaining") or 0) <= MARGIN and now - seen_at < PROBE_S:
            return False, PROBE_S - (now - seen_at)
        return True, 0.0

    def near_end(self, count=5, share=0.2, now=None):
        """The buckets closest to their end (at most share of the limit left), for the dashboard."""
        now = time.time() if now is None else now
        members = self.redis.zrangebyscore(redis_keys.BUCKET_INDEX, 0, share, start=0, num=count * 4)
        found, gone = [], []
        for member in members:
            group, _, who = member.partition("|")
            state = self.redis.hgetall(redis_keys.bucket(group, who))
            if not state:
                gone.append(member)
                continue
            blocked_until = float(state.get("blocked_until") or 0)
            found.append(
                {
                    "group": group,
                    "who": who,
                    "limit": int(state.get("limit") or 0),
                    "remaining": int(state.get("remaining") or 0),
                    "blocked_for_s": round(blocked_until - now, 1) if blocked_until > now else None,
                }
            )
        if gone:
            self.redis.zrem(redis_keys.BUCKET_INDEX, *gone)
        return found[:count]
