"""What an import from Alliance Auth would change here, worked out before anything is written
(app/imports/write.py writes it).

The plan compares the snapshot with Bastion's database: new users, characters, keys, Discord links,
grants and tracked corporations, and everything that cannot be carried over with the reason
(conflicts, tokens without a refresh token, users without a main). A second run finds nothing left to do.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app import crypto
from app.access.models import Grant
from app.corps.models import Alliance, Character, Corporation
from app.extensions import db
from app.imports.allianceauth import ImportProblem
from app.imports.progress import SOURCE
from app.keys.models import Key
from app.services.models import DiscordLink, Service

CHUNK = 5000  # ids per IN (...) list, well under SQLite's limit on parameters
# Alliance Auth's stock states and what they mean here; others are named with --state.
DEFAULT_STATES = {"member": "member", "blue": "blue", "guest": None}
TRACKINGS = ("member", "blue", "none")
# What a plan counts (Plan.count), in the order the dry run and --json show them.
COUNTS = (
    "new_users",
    "joined_users",
    "characters",
    "keys",
    "keys_replaced",
    "discord_links",
    "grants",
    "tracking",
)


@dataclass
class UserPlan:
    """One Alliance Auth user as it lands here."""

    aa_id: int
    username: str
    main: int
    main_name: str
    state: str | None
    user_id: int | None = None  # the Bastion user it joins, or None for a new one
    joined: int | None = None  # set when the user was here already (their main registered itself)
    characters: list = field(default_factory=list)  # new characters (dicts)
    keys: list = field(default_factory=list)  # dicts: character_id, owner_hash, token, scopes, replaces
    discord: tuple | None = None
    services: list = field(default_factory=list)  # service ids to grant

    @property
    def changes(self):
        return self.user_id is None or bool(self.characters or self.keys or self.discord or self.services)


@dataclass
class Plan:
    """The whole import, as counts, lists and the reasons for what is left out."""

    snapshot: object
    users: list = field(default_factory=list)
    skipped_users: Counter = field(default_factory=Counter)
    conflicts: list = field(default_factory=list)
    skipped_keys: Counter = field(default_factory=Counter)
    unmapped_states: list = field(default_factory=list)
    tracking: dict = field(default_factory=dict)  # ("corporation"|"alliance", id) -> member|blue
    tracking_kept: list = field(default_factory=list)
    new_alliances: dict = field(default_factory=dict)
    new_corporations: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)  # AA group -> members (count)
    mapping: dict = field(default_factory=dict)  # AA group -> service slug
    keys_refused: str | None = None

    def count(self, what):
        users = [u for u in self.users if u.changes]
        return {
            "new_users": sum(1 for u in users if u.joined is None),
            "joined_users": sum(1 for u in users if u.joined is not None),
            "characters": sum(len(u.characters) for u in users),
            "keys": sum(1 for u in users for k in u.keys if not k["replaces"]),
            "keys_replaced": sum(1 for u in users for k in u.keys if k["replaces"]),
            "discord_links": sum(1 for u in users if u.discord),
            "grants": sum(len(u.services) for u in users),
            "tracking": len(self.tracking),
            "entities": len(self.new_alliances) + len(self.new_corporations),
        }[what]

    @property
    def is_empty(self):
        return not any(self.count(what) for what in (*COUNTS, "entities"))


def parse_states(pairs):
    """--state NAME=member|blue|none, as {folded name: tracking or None}."""
    states = dict(DEFAULT_STATES)
    for pair in pairs or ():
        name, sep, tracking = pair.partition("=")
        tracking = tracking.strip().lower()
        if not sep or not name.strip() or tracking not in TRACKINGS:
            raise ImportProblem(f"--state {pair!r}: write it as NAME=member, NAME=blue or NAME=none")
        states[name.strip().casefold()] = None if tracking == "none" else tracking
    return states


def read_mapping(path):
    """The group mapping file: a JSON object of Alliance Auth group name -> Bastion service slug."""
    if path is None:
        return {}
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportProblem(f"cannot read the group mapping {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ImportProblem(f"the group mapping {path} is not JSON: {exc}") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in mapping.items()
    ):
        raise ImportProblem(
            f"the group mapping {path} must be a JSON object of group name to service slug, "
            f'e.g. {{"Fleet Commanders": "fc-forum"}}'
        )
    return {k: v.strip() for k, v in mapping.items()}


def make_plan(snap, states=None, mapping=None, keys_refused=None):
    """Compare the snapshot with this database: what an apply would write, and what it leaves out."""
    plan = Plan(snapshot=snap, mapping=dict(mapping or {}), keys_refused=keys_refused)
    plan.groups = {name: len(members) for name, members in sorted(snap.groups.items())}
    services = _services_of(plan)
    _plan_tracking(plan, snap, parse_states(states) if not isinstance(states, dict) else states)

    wanted = {c["id"] for c in snap.characters.values()}
    known_characters = _by_chunks(
        select(Character.id, Character.user_id, Character.owner_hash), Character.id, wanted
    )
    known = {row.id: row for row in known_characters}
    keys = {
        row.character_id: row
        for row in _by_chunks(
            select(
                Key.id,
                Key.character_id,
                Key.user_id,
                Key.source,
                Key.last_checked_at,
                Key.refresh_token_encrypted,
            ),
            Key.character_id,
            set(known),
        )
    }
    linked = {
        row.discord_user_id: row.user_id
        for row in db.session.execute(select(DiscordLink.discord_user_id, DiscordLink.user_id))
    }
    users_linked = set(linked.values())
    granted = {(uid, sid) for uid, sid in db.session.execute(select(Grant.user_id, Grant.service_id))}
    claimed = {}  # character id -> AA user that carries it in this run

    for aa_id, aa_user in sorted(snap.users.items()):
        main = snap.characters.get(aa_user["main"]) if aa_user["main"] else None
        if main is None:
            plan.skipped_users["no main character (local admin or never logged in)"] += 1
            continue
        if not aa_user["active"]:
            plan.skipped_users["inactive in Alliance Auth"] += 1
            continue
        owned = snap.ownerships.get(aa_id, [])
        main_hash = next((h for pk, h in owned if pk == aa_user["main"]), None)
        existing = known.get(main["id"])
        if main_hash is None:
            plan.skipped_users["the main is not among the user's characters"] += 1
            continue
        if existing is not None and existing.owner_hash and existing.owner_hash != main_hash:
            plan.conflicts.append(
                f"{main['name']}: the owner hash here differs from Alliance Auth's (sold since?); "
                f"user {aa_user['username']} not carried over"
            )
            continue
        joined = existing.user_id if existing is not None else None
        user = UserPlan(
            aa_id,
            aa_user["username"],
            main["id"],
            main["name"],
            aa_user["state"],
            user_id=joined,
            joined=joined,
        )
        for character_pk, owner_hash in owned:
            _plan_character(plan, user, snap.characters.get(character_pk), owner_hash, known, keys, claimed)
        if claimed.get(main["id"]) != aa_id:
            continue  # the main went to another Alliance Auth user (conflict named above)
        discord = snap.discord.get(aa_id)
        if discord is not None:
            holder = linked.get(discord[0])
            if holder is None and (user.user_id is None or user.user_id not in users_linked):
                user.discord = discord
                linked[discord[0]] = user.user_id or -aa_id
            elif holder is not None and holder != user.user_id:
                plan.conflicts.append(
                    f"{main['name']}: Discord account {discord[1] or discord[0]} "
                    "is linked to another user here"
                )
        for group, slug in plan.mapping.items():
            service = services.get(slug)
            wanted = service is not None and aa_id in snap.groups.get(group, ())
            if wanted and (user.user_id, service) not in granted and service not in user.services:
                user.services.append(service)
        plan.users.append(user)
    return plan


def _services_of(plan):
    """The mapped services by slug -> id; a slug with no service is refused."""
    if not plan.mapping:
        return {}
    slugs = set(plan.mapping.values())
    found = {
        slug: sid
        for slug, sid in db.session.execute(select(Service.slug, Service.id).where(Service.slug.in_(slugs)))
    }
    missing = sorted(slugs - set(found))
    if missing:
        have = ", ".join(db.session.scalars(select(Service.slug).order_by(Service.slug))) or "none yet"
        raise ImportProblem(
            f"the group mapping names no service here: {', '.join(missing)} (services: {have})"
        )
    return found


def _plan_character(plan, user, character, owner_hash, known, keys, claimed):
    """A character of the user: new here, already theirs, or a conflict; and its key."""
    if character is None:
        return
    cid = character["id"]
    here = known.get(cid)
    if cid in claimed:
        plan.conflicts.append(
            f"{character['name']}: owned by two Alliance Auth users; carried with the first"
        )
        return
    if here is not None and here.user_id is not None and here.user_id != user.user_id:
        plan.conflicts.append(f"{character['name']}: already on another user here; left there")
        return
    if here is not None and here.owner_hash and here.owner_hash != owner_hash:
        plan.conflicts.append(
            f"{character['name']}: the owner hash here differs from Alliance Auth's (sold since?); "
            "left as it is"
        )
        return
    claimed[cid] = user.aa_id
    if here is None or here.user_id is None:
        user.characters.append({**character, "owner_hash": owner_hash, "known": here is not None})
    token = plan.snapshot.tokens.get((cid, owner_hash))
    if plan.keys_refused:
        plan.skipped_keys[plan.keys_refused] += 1
        return
    if token is None:
        plan.skipped_keys["no token with a refresh token for this character and owner"] += 1
        return
    key = keys.get(cid)
    replaces = None
    if key is not None:
        if key.source != SOURCE or key.last_checked_at is not None:
            plan.skipped_keys["Bastion's key is newer"] += 1
            return
        if crypto.decrypt(key.refresh_token_encrypted) == token["token"]:
            return  # imported before, unchanged
        replaces = key.id
    user.keys.append(
        {
            "character_id": cid,
            "owner_hash": owner_hash,
            "token": token["token"],
            "scopes": " ".join(token["scopes"]),
            "replaces": replaces,
        }
    )


def _plan_tracking(plan, snap, states):
    """AA's states become tracked corporations and alliances, the state of higher priority first."""
    wanted = {}
    for state in snap.states:  # by priority, highest first
        folded = state["name"].casefold()
        if folded not in states:
            if state["corporations"] or state["alliances"]:
                plan.unmapped_states.append(
                    f"{state['name']} (priority {state['priority']}, "
                    f"{len(state['corporations'])} corporations, "
                    f"{len(state['alliances'])} alliances)"
                )
            continue
        tracking = states[folded]
        if tracking is None:
            continue
        for cid in state["corporations"]:
            wanted.setdefault(("corporation", cid), tracking)
        for aid in state["alliances"]:
            wanted.setdefault(("alliance", aid), tracking)
    corporations = {
        row.id: row.tracked_as for row in db.session.execute(select(Corporation.id, Corporation.tracked_as))
    }
    alliances = {
        row.id: row.tracked_as for row in db.session.execute(select(Alliance.id, Alliance.tracked_as))
    }
    for (kind, eid), tracking in sorted(wanted.items()):
        current = (corporations if kind == "corporation" else alliances).get(eid)
        if current == tracking:
            continue
        if current is not None:
            plan.tracking_kept.append(
                f"{kind} {_name(snap, kind, eid)}: tracked as {current} here; left as it is"
            )
            continue
        plan.tracking[(kind, eid)] = tracking
    # Every corporation and alliance a character or a tracking needs, when not here yet.
    for character in snap.characters.values():
        if character["alliance_id"] and character["alliance_id"] not in alliances:
            plan.new_alliances[character["alliance_id"]] = {
                "name": character["alliance_name"],
                "ticker": character["alliance_ticker"],
            }
        if character["corporation_id"] and character["corporation_id"] not in corporations:
            plan.new_corporations[character["corporation_id"]] = {
                "name": character["corporation_name"],
                "ticker": character["corporation_ticker"],
                "alliance_id": character["alliance_id"],
            }
    for kind, eid in plan.tracking:
        if kind == "alliance" and eid not in alliances:
            plan.new_alliances.setdefault(eid, snap.alliances.get(eid, {"name": "", "ticker": ""}))
        if kind == "corporation" and eid not in corporations:
            info = snap.corporations.get(eid, {"name": "", "ticker": "", "alliance_id": None})
            plan.new_corporations.setdefault(eid, info)
            if info.get("alliance_id") and info["alliance_id"] not in alliances:
                plan.new_alliances.setdefault(
                    info["alliance_id"], snap.alliances.get(info["alliance_id"], {"name": "", "ticker": ""})
                )


def _name(snap, kind, eid):
    info = (snap.corporations if kind == "corporation" else snap.alliances).get(eid) or {}
    return f"{info.get('name') or eid} [{info.get('ticker', '')}]"


def _by_chunks(query, column, ids):
    ids = sorted(ids)
    rows = []
    for start in range(0, len(ids), CHUNK):
        rows.extend(db.session.execute(query.where(column.in_(ids[start : start + CHUNK]))).all())
    return rows
