"""The sandbox's universe: entities, applications, grants, settings and counters, all in memory."""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field

CHARACTER_ID_START = 2117000001
CORPORATION_ID_START = 98700001
ALLIANCE_ID_START = 99100001
CODE_LIFETIME_S = 300

DEFAULT_CONFIG = {
    "latency_ms": 0,  # added to every SSO and ESI answer
    "fault_rate": 0.0,  # share of SSO token and ESI calls that fail (5xx or a hang)
    "sso_fault_rate": None,  # overrides fault_rate for the token endpoint
    "esi_fault_rate": None,  # overrides fault_rate for ESI
    "timeout_share": 0.25,  # share of faults that hang instead of answering 5xx
    "garbage_share": 0.0,  # share of the other faults answered 200 with garbage (a maintenance page)
    "garbage_status": 200,  # the status garbage comes with (400: a proxy's HTML error page)
    "hang_s": 5.0,  # how long a hang lasts before a 504
    "sso_rate_limit": None,  # hidden limit: token requests accepted in any one-second window
    "error_limit": 100,  # ESI errors allowed per fixed 60 s window before 420
    "error_window_s": 60,
    "bucket_limits": {"char-detail": 600, "corp-member": 300, "status": 600},  # tokens per window
    "bucket_window_s": 900,
    "downtime": False,  # ESI answers 503 as during the daily downtime
    # A misbehaving SSO: this share of refreshes is answered invalid_grant although the grant is
    # live (nothing is revoked or rotated; setting it back to 0 restores every grant).
    "spurious_invalid_grant_rate": 0.0,
    # Wrong affiliation data: every character is reported in this corporation (and no alliance).
    "affiliation_corporation_override": None,
}


def new_owner_hash():
    """A fresh owner hash, as EVE makes when a character moves to another account: the base64 of
    a SHA-1, 28 characters (what Alliance Auth's owner_hash column, varchar(28), holds)."""
    digest = hashlib.sha1(secrets.token_bytes(16)).digest()  # noqa: S324  (an id, not a digest)
    return base64.b64encode(digest).decode()


def new_token(prefix):
    """A random opaque token."""
    return f"{prefix}{secrets.token_urlsafe(24)}"


@dataclass
class Alliance:
    id: int
    name: str
    ticker: str
    executor_corporation_id: int | None = None
    creator_corporation_id: int | None = None
    creator_id: int = 0
    date_founded: str = "2015-06-01T12:00:00Z"


@dataclass
class Corporation:
    id: int
    name: str
    ticker: str
    alliance_id: int | None = None
    ceo_id: int = 1
    creator_id: int = 1
    tax_rate: float = 0.1
    date_founded: str = "2012-03-14T18:00:00Z"


@dataclass
class Character:
    id: int
    name: str
    corporation_id: int
    owner_hash: str
    roles: list = field(default_factory=list)
    birthday: str = "2014-08-01T10:00:00Z"
    gender: str = "female"
    race_id: int = 1
    bloodline_id: int = 1
    # Member tracking (what a Director's token reads): last logon and logoff, and when it joined.
    logon_date: str | None = None
    logoff_date: str | None = None
    start_date: str | None = None


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list


@dataclass
class Grant:
    id: int
    character_id: int
    client_id: str
    scopes: list
    refresh_token: str
    revoked: bool = False
    created_at: float = field(default_factory=time.time)


@dataclass
class AuthCode:
    code: str
    character_id: int
    client_id: str
    scopes: list
    redirect_uri: str
    code_challenge: str | None
    expires_at: float
    used: bool = False


class Counters:
    """What the sandbox served, for tests and benchmarks to prove how a client behaved."""

    def __init__(self):
        self.reset()

    def reset(self):
        """Start counting from zero."""
        self.calls = defaultdict(int)
        self.refresh_calls = 0
        self.refreshes_ok = 0
        self.refreshes_per_grant = defaultdict(int)
        self.rotated_token_reuse = 0
        self.overlapping_refreshes = 0
        self.served_420 = 0
        self.sso_429 = 0
        self.busiest_token_second = 0  # most token calls the hidden limit counted in one second
        self.esi_429 = 0
        self.esi_errors = 0
        self.faults = 0
        self.garbage_served = 0
        self.in_flight = 0
        self.peak_concurrency = 0
        self.missing_compatibility_date = 0
        self.missing_user_agent = 0
        self.first_refresh_at = None
        self.last_refresh_at = None
        self.affiliation_calls = 0
        self.affiliation_ids = 0
        self.affiliation_batches = []  # sizes of the first few hundred batches
        self.spurious_invalid_grants = 0
        self.names_calls = 0
        self.names_batches = []  # sizes of POST /universe/names batches

    def snapshot(self, per_grant=False):
        """The counters as plain JSON-ready data."""
        duplicates = sum(count - 1 for count in self.refreshes_per_grant.values() if count > 1)
        data = {
            "calls": dict(self.calls),
            "refresh_calls": self.refresh_calls,
            "refreshes_ok": self.refreshes_ok,
            "grants_refreshed": len(self.refreshes_per_grant),
            "duplicate_refreshes": duplicates,
            "rotated_token_reuse": self.rotated_token_reuse,
            "overlapping_refreshes": self.overlapping_refreshes,
            "served_420": self.served_420,
            "spurious_invalid_grants": self.spurious_invalid_grants,
            "served_429": self.sso_429 + self.esi_429,
            "sso_429": self.sso_429,
            "busiest_token_second": self.busiest_token_second,
            "esi_429": self.esi_429,
            "esi_errors": self.esi_errors,
            "faults": self.faults,
            "garbage_served": self.garbage_served,
            "in_flight": self.in_flight,
            "peak_concurrency": self.peak_concurrency,
            "missing_compatibility_date": self.missing_compatibility_date,
            "missing_user_agent": self.missing_user_agent,
            "first_refresh_at": self.first_refresh_at,
            "last_refresh_at": self.last_refresh_at,
            "affiliation_calls": self.affiliation_calls,
            "affiliation_ids": self.affiliation_ids,
            "affiliation_batches": list(self.affiliation_batches),
            "names_calls": self.names_calls,
            "names_batches": list(self.names_batches[-300:]),
        }
        if per_grant:
            data["refreshes_per_grant"] = {str(k): v for k, v in self.refreshes_per_grant.items()}
        return data


class Universe:
    """Everything the sandbox knows, guarded by one lock."""

    def __init__(self):
        self.lock = threading.RLock()
        self.alliances = {}
        self.corporations = {}
        self.characters = {}
        self.clients = {}
        self.grants = {}
        self.tokens = {}  # current refresh token -> grant id
        self.rotated = {}  # refresh tokens rotated out -> grant id
        self.codes = {}
        self.refreshing = defaultdict(int)  # grant id -> refreshes in flight
        self.config = json.loads(json.dumps(DEFAULT_CONFIG))
        self.counters = Counters()
        self.token_window = deque()  # times of accepted token requests, for sso_rate_limit
        self.error_window = [0, 0]  # [window number, errors in it]
        self.buckets = defaultdict(deque)  # (group, who) -> deque of (time, cost)
        self.next_ids = {
            "character": CHARACTER_ID_START,
            "corporation": CORPORATION_ID_START,
            "alliance": ALLIANCE_ID_START,
            "grant": 1,
        }
        self.dirty = False

    # ---- ids and entities -------------------------------------------------
    def _next_id(self, kind):
        value = self.next_ids[kind]
        self.next_ids[kind] = value + 1
        return value

    def add_alliance(self, name, ticker, alliance_id=None):
        """Create an alliance."""
        with self.lock:
            alliance_id = alliance_id or self._next_id("alliance")
            self.alliances[alliance_id] = Alliance(alliance_id, name, ticker)
            self.dirty = True
            return self.alliances[alliance_id]

    def add_corporation(self, name, ticker, alliance_id=None, corporation_id=None):
        """Create a corporation, in an alliance or not."""
        with self.lock:
            if alliance_id is not None and alliance_id not in self.alliances:
                raise LookupError(f"no alliance {alliance_id}")
            corporation_id = corporation_id or self._next_id("corporation")
            self.corporations[corporation_id] = Corporation(corporation_id, name, ticker, alliance_id)
            alliance = self.alliances.get(alliance_id)
            if alliance is not None and alliance.executor_corporation_id is None:
                alliance.executor_corporation_id = corporation_id
                alliance.creator_corporation_id = corporation_id
            self.dirty = True
            return self.corporations[corporation_id]

    def add_character(self, name, corporation_id=None, character_id=None, owner_hash=None):
        """Create a character; without a corporation it joins the first one (a starter corporation)."""
        with self.lock:
            if corporation_id is None:
                corporation_id = min(self.corporations)
            if corporation_id not in self.corporations:
                raise LookupError(f"no corporation {corporation_id}")
            character_id = character_id or self._next_id("character")
            character = Character(character_id, name, corporation_id, owner_hash or new_owner_hash())
            self.characters[character_id] = character
            corporation = self.corporations[corporation_id]
            if corporation.ceo_id == 1:
                corporation.ceo_id = corporation.creator_id = character_id
            self.dirty = True
            return character

    def add_client(self, client_id, client_secret, redirect_uris):
        """Register an application."""
        with self.lock:
            self.clients[client_id] = Client(client_id, client_secret, list(redirect_uris))
            self.dirty = True
            return self.clients[client_id]

    def add_grant(self, character_id, client_id, scopes, refresh_token=None):
        """Create a grant, as if the character had completed the SSO flow."""
        with self.lock:
            if character_id not in self.characters:
                raise LookupError(f"no character {character_id}")
            if client_id not in self.clients:
                raise LookupError(f"no client {client_id}")
            token = refresh_token or new_token("rt-")
            grant = Grant(self._next_id("grant"), character_id, client_id, list(scopes), token)
            self.grants[grant.id] = grant
            self.tokens[grant.refresh_token] = grant.id
            self.dirty = True
            return grant

    def member_count(self, corporation_id):
        """How many characters are in a corporation."""
        return sum(1 for c in self.characters.values() if c.corporation_id == corporation_id)

    def alliance_of(self, character):
        """The alliance id of a character's corporation, or None."""
        return self.corporations[character.corporation_id].alliance_id

    # ---- persistence ---------------------------------------------------------
    def to_dict(self):
        """Everything worth keeping across a restart."""
        with self.lock:
            return {
                "alliances": [asdict(a) for a in self.alliances.values()],
                "corporations": [asdict(c) for c in self.corporations.values()],
                "characters": [asdict(c) for c in self.characters.values()],
                "clients": [asdict(c) for c in self.clients.values()],
                "grants": [asdict(g) for g in self.grants.values()],
                "rotated": self.rotated,
                "next_ids": self.next_ids,
            }

    def load_dict(self, data):
        """Replace the universe with a saved one."""
        with self.lock:
            self.alliances = {a["id"]: Alliance(**a) for a in data["alliances"]}
            self.corporations = {c["id"]: Corporation(**c) for c in data["corporations"]}
            self.characters = {c["id"]: Character(**c) for c in data["characters"]}
            self.clients = {c["client_id"]: Client(**c) for c in data["clients"]}
            self.grants = {g["id"]: Grant(**g) for g in data["grants"]}
            self.tokens = {g.refresh_token: g.id for g in self.grants.values()}
            self.rotated = {k: int(v) for k, v in data.get("rotated", {}).items()}
            self.next_ids = dict(data["next_ids"])
            self.dirty = False
