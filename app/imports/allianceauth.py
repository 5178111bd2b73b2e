"""Reading an Alliance Auth database (MySQL/MariaDB, PostgreSQL or SQLite) into a snapshot.

Everything is read in one transaction before anything is written here, so a connection that breaks
while reading leaves Bastion untouched. The tables are checked first: a missing table or column gets
a message naming it, and the Alliance Auth version the migrations point to.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError


class ImportProblem(Exception):
    """Something stops the import; the message says what, for a person."""


# The tables and columns read, as Alliance Auth 4 and 5 have them.
REQUIRED = {
    "auth_user": ("id", "username", "is_superuser", "is_staff", "is_active"),
    "auth_group": ("id", "name"),
    "auth_user_groups": ("user_id", "group_id"),
    "authentication_userprofile": ("user_id", "main_character_id", "state_id"),
    "authentication_characterownership": ("user_id", "character_id", "owner_hash"),
    "authentication_state": ("id", "name", "priority"),
    "authentication_state_member_corporations": ("state_id", "evecorporationinfo_id"),
    "authentication_state_member_alliances": ("state_id", "eveallianceinfo_id"),
    "eveonline_evecharacter": (
        "id",
        "character_id",
        "character_name",
        "corporation_id",
        "corporation_name",
        "corporation_ticker",
        "alliance_id",
        "alliance_name",
        "alliance_ticker",
    ),
    "eveonline_evecorporationinfo": (
        "id",
        "corporation_id",
        "corporation_name",
        "corporation_ticker",
        "alliance_id",
    ),
    "eveonline_eveallianceinfo": ("id", "alliance_id", "alliance_name", "alliance_ticker"),
    "esi_token": ("id", "created", "refresh_token", "character_id", "character_owner_hash", "token_type"),
    "esi_token_scopes": ("token_id", "scope_id"),
    "esi_scope": ("id", "name"),
}
# Read when present: Alliance Auth's Discord service is optional.
OPTIONAL = {"discord_discorduser": ("user_id", "uid", "username")}
# The newest authentication migration Bastion has read (Alliance Auth 5.5).
KNOWN_AUTHENTICATION_MIGRATION = 26


def engine_for(url):
    """An engine for the Alliance Auth database at url (a database URL, or the path of a SQLite file)."""
    url = (url or "").strip()
    if not url:
        raise ImproperUrl(
            "give the Alliance Auth database as a URL, e.g. mysql://user:pass@host/alliance_auth"
        )
    if "://" not in url and Path(url).is_file():
        url = f"sqlite:///{Path(url).resolve()}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ImproperUrl(f"{safe_url(url)} is neither a database URL nor a SQLite file") from None
    driver = parsed.drivername
    if driver in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif driver in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif driver == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        raise ImproperUrl(f"there is no SQLite file at {parsed.database}")
    elif not driver.startswith(("mysql", "mariadb", "postgresql", "sqlite")):
        raise ImproperUrl(f"{driver} databases are not supported: use MySQL/MariaDB, PostgreSQL or SQLite")
    try:
        return create_engine(parsed, pool_pre_ping=False)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ImproperUrl(f"cannot use {safe_url(url)}: {exc}") from None


class ImproperUrl(ImportProblem):
    """The database URL cannot be used."""


def safe_url(url):
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r":[^:@/]*@", ":***@", url)


@dataclass
class Snapshot:
    """What an Alliance Auth database holds that Bastion carries over."""

    version: str = ""
    users: dict = field(default_factory=dict)  # AA user id -> dict(username, superuser, active, main, state)
    characters: dict = field(default_factory=dict)  # EveCharacter pk -> dict(id, name, corp/alliance)
    ownerships: dict = field(
        default_factory=lambda: defaultdict(list)
    )  # AA user id -> [(character pk, hash)]
    tokens: dict = field(default_factory=dict)  # (character id, owner hash) -> dict(token, scopes, id)
    tokens_without_refresh: int = 0
    states: list = field(default_factory=list)  # dict(name, priority, corporations, alliances)
    corporations: dict = field(default_factory=dict)  # corporation id -> dict(name, ticker, alliance_id)
    alliances: dict = field(default_factory=dict)  # alliance id -> dict(name, ticker)
    discord: dict = field(default_factory=dict)  # AA user id -> (uid, username)
    has_discord: bool = False
    groups: dict = field(default_factory=lambda: defaultdict(set))  # group name -> {AA user ids}


def read(engine):
    """The snapshot of an Alliance Auth database, read in one transaction."""
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                tables = _tables(conn)
                return _read(conn, tables)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise ImportProblem(
            f"cannot read the Alliance Auth database: {str(reason).strip().splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()


def _tables(conn):
    """The tables read, reflected; a missing table or column is named."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    version = _version(conn, present)
    for table, columns in REQUIRED.items():
        if table not in present:
            raise ImportProblem(
                f"the database has no table {table}: is it an Alliance Auth database, "
                f"and has `python manage.py migrate` been run? ({version})"
            )
        have = {column["name"] for column in inspector.get_columns(table)}
        missing = [column for column in columns if column not in have]
        if missing:
            raise ImportProblem(
                f"table {table} has no column {', '.join(missing)}: this Alliance Auth version is "
                f"not one Bastion knows ({version}); Alliance Auth 4 and 5 are"
            )
    wanted = list(REQUIRED) + [table for table in OPTIONAL if table in present]
    metadata = MetaData()
    metadata.reflect(conn, only=wanted)
    return metadata.tables


def _version(conn, present):
    """Which Alliance Auth the migrations point to, for messages."""
    if "django_migrations" not in present:
        return "no Django migrations table"
    rows = conn.exec_driver_sql("SELECT name FROM django_migrations WHERE app = 'authentication'").all()
    numbers = [int(m.group(1)) for (name,) in rows if (m := re.match(r"(\d+)_", name))]
    if not numbers:
        return "no Alliance Auth migrations applied"
    newest = max(numbers)
    if newest > KNOWN_AUTHENTICATION_MIGRATION:
        known = KNOWN_AUTHENTICATION_MIGRATION
        return f"authentication migration {newest:04d}, newer than the {known:04d} Bastion knows"
    return f"authentication migration {newest:04d}"


def _read(conn, t):
    snap = Snapshot(version=_version(conn, set(t) | {"django_migrations"}))
    c = {name: table.c for name, table in t.items()}

    alliance_of_pk = {}
    for row in conn.execute(select(t["eveonline_eveallianceinfo"])).mappings():
        alliance_of_pk[row["id"]] = row["alliance_id"]
        snap.alliances[row["alliance_id"]] = {"name": row["alliance_name"], "ticker": row["alliance_ticker"]}
    corporation_of_pk = {}
    for row in conn.execute(select(t["eveonline_evecorporationinfo"])).mappings():
        corporation_of_pk[row["id"]] = row["corporation_id"]
        snap.corporations[row["corporation_id"]] = {
            "name": row["corporation_name"],
            "ticker": row["corporation_ticker"],
            "alliance_id": alliance_of_pk.get(row["alliance_id"]),
        }

    states = {
        row.id: {"name": row.name, "priority": row.priority, "corporations": set(), "alliances": set()}
        for row in conn.execute(
            select(
                c["authentication_state"].id,
                c["authentication_state"].name,
                c["authentication_state"].priority,
            )
        )
    }
    link = c["authentication_state_member_corporations"]
    for state_id, pk in conn.execute(select(link.state_id, link.evecorporationinfo_id)):
        if pk in corporation_of_pk:
            states[state_id]["corporations"].add(corporation_of_pk[pk])
    link = c["authentication_state_member_alliances"]
    for state_id, pk in conn.execute(select(link.state_id, link.eveallianceinfo_id)):
        if pk in alliance_of_pk:
            states[state_id]["alliances"].add(alliance_of_pk[pk])
    snap.states = sorted(states.values(), key=lambda s: -s["priority"])

    for row in conn.execute(select(t["eveonline_evecharacter"])).mappings():
        snap.characters[row["id"]] = {
            "id": row["character_id"],
            "name": row["character_name"],
            "corporation_id": row["corporation_id"],
            "corporation_name": row["corporation_name"],
            "corporation_ticker": row["corporation_ticker"],
            "alliance_id": row["alliance_id"],
            "alliance_name": row["alliance_name"],
            "alliance_ticker": row["alliance_ticker"],
        }

    user, profile = c["auth_user"], c["authentication_userprofile"]
    query = select(
        user.id,
        user.username,
        user.is_superuser,
        user.is_staff,
        user.is_active,
        profile.main_character_id,
        profile.state_id,
    ).outerjoin_from(t["auth_user"], t["authentication_userprofile"], profile.user_id == user.id)
    for row in conn.execute(query):
        snap.users[row.id] = {
            "username": row.username,
            "admin": bool(row.is_superuser or row.is_staff),
            "active": bool(row.is_active),
            "main": row.main_character_id,
            "state": states.get(row.state_id, {}).get("name"),
        }
    own = c["authentication_characterownership"]
    for user_id, character_pk, owner_hash in conn.execute(
        select(own.user_id, own.character_id, own.owner_hash).order_by(own.id)
    ):
        snap.ownerships[user_id].append((character_pk, owner_hash))

    _read_tokens(conn, t, snap)

    if "discord_discorduser" in t:
        snap.has_discord = True
        discord = c["discord_discorduser"]
        for user_id, uid, username in conn.execute(select(discord.user_id, discord.uid, discord.username)):
            if uid:
                snap.discord[user_id] = (str(uid), username or "")

    groups, members = c["auth_group"], c["auth_user_groups"]
    for name, user_id in conn.execute(
        select(groups.name, members.user_id).join_from(
            t["auth_user_groups"], t["auth_group"], groups.id == members.group_id
        )
    ):
        snap.groups[name].add(user_id)
    for (name,) in conn.execute(select(groups.name)):
        snap.groups.setdefault(name, set())
    return snap


def _read_tokens(conn, t, snap):
    """The newest character token with a refresh token, per character and owner hash, with its scopes."""
    token = t["esi_token"].c
    chosen = {}
    query = (
        select(token.id, token.character_id, token.character_owner_hash, token.refresh_token)
        .where(token.token_type == CHARACTER_TOKEN)
        .order_by(token.created.desc(), token.id.desc())
    )
    for row in conn.execute(query):
        if not row.refresh_token:
            snap.tokens_without_refresh += 1
            continue
        chosen.setdefault((row.character_id, row.character_owner_hash), (row.id, row.refresh_token))
    wanted = {token_id for token_id, _ in chosen.values()}
    scopes = defaultdict(set)
    link, scope = t["esi_token_scopes"].c, t["esi_scope"].c
    for token_id, name in conn.execute(
        select(link.token_id, scope.name).join_from(
            t["esi_token_scopes"], t["esi_scope"], scope.id == link.scope_id
        )
    ):
        if token_id in wanted:
            scopes[token_id].add(name)
    for key, (token_id, refresh_token) in chosen.items():
        snap.tokens[key] = {"id": token_id, "token": refresh_token, "scopes": sorted(scopes[token_id])}


CHARACTER_TOKEN = "character"  # noqa: S105  (django-esi's token_type of a character's own token)
SETTING = re.compile(r"""^\s*ESI_SSO_CLIENT_ID\s*=\s*(['"])([^'"]*)\1""", re.MULTILINE)


def client_id_from_settings(path):
    """ESI_SSO_CLIENT_ID as Alliance Auth's settings file (local.py) sets it, read, never run."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportProblem(f"cannot read Alliance Auth's settings at {path}: {exc.strerror}") from None
    found = SETTING.findall(text)
    if not found:
        raise ImportProblem(
            f"{path} sets no ESI_SSO_CLIENT_ID as a plain string; give the client id with --client-id"
        )
    return found[-1][1].strip()
