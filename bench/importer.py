"""``python -m bench import --users N --characters M``: the time and peak memory of ``flask import
allianceauth`` (the dry run, the apply, and a second run that finds nothing to do) on a real
Alliance Auth database of that size.

Alliance Auth's own migrations make the schema (bench/allianceauth); the rows are written in bulk
as Alliance Auth stores them (users, profiles, characters, ownerships, tokens with scopes, states,
Discord links, groups). Bastion's database is a fresh SQLite file, or, with BENCH_DATABASE_URL, a
fresh schema of that PostgreSQL database (Alliance Auth's then lives in another schema of it).
"""

import base64
import hashlib
import os
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, create_engine, insert, make_url, text

from bench.allianceauth import AllianceAuth, build, environment
from bench.servers import ROOT, RedisServer, venv_bin

CLIENT_ID = "bench-import"


def _owner_hash(character_id):
    return base64.b64encode(hashlib.sha1(str(character_id).encode()).digest()).decode()  # noqa: S324


def _fresh_schema(url, schema):
    """A URL of the PostgreSQL database at url whose search_path is a new, empty schema."""
    base = make_url(url).difference_update_query(["options"])
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return base.update_query_dict({"options": f"-csearch_path={schema}"})


def _fill(url, users, characters, seed=7):
    """Alliance Auth's rows for users and characters, written in bulk."""
    rng = random.Random(seed)
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        states = dict(conn.execute(text("SELECT name, id FROM authentication_state")).all())
        conn.execute(
            insert(t["eveonline_eveallianceinfo"]),
            [
                {
                    "id": 1,
                    "alliance_id": 99000001,
                    "alliance_name": "Bench Alliance",
                    "alliance_ticker": "BNCH",
                }
            ],
        )
        corps = [
            {
                "id": n,
                "corporation_id": 98000000 + n,
                "corporation_name": f"Corp {n}",
                "corporation_ticker": f"C{n}",
                "member_count": 0,
                "alliance_id": 1 if n <= 8 else None,
                "description": "",
                "url": "",
            }
            for n in range(1, 11)
        ]
        conn.execute(insert(t["eveonline_evecorporationinfo"]), corps)
        conn.execute(
            insert(t["authentication_state_member_alliances"]),
            [{"state_id": states["Member"], "eveallianceinfo_id": 1}],
        )
        conn.execute(
            insert(t["authentication_state_member_corporations"]),
            [{"state_id": states["Blue"], "evecorporationinfo_id": 9}],
        )
        conn.execute(
            insert(t["esi_scope"]),
            [
                {"id": 1, "name": "publicData", "help_text": ""},
                {"id": 2, "name": "esi-characters.read_corporation_roles.v1", "help_text": ""},
            ],
        )
        conn.execute(insert(t["auth_group"]), [{"id": n, "name": f"Group {n}"} for n in range(1, 6)])
        # Each user gets one character, then the rest are spread as alts.
        owner_of = list(range(1, users + 1)) + [rng.randint(1, users) for _ in range(characters - users)]
        chars, owns, tokens, scopes = [], [], [], []
        for pk, user_id in enumerate(owner_of, start=1):
            corp = corps[rng.randrange(10)]
            cid = 90000000 + pk
            chars.append(
                {
                    "id": pk,
                    "character_id": cid,
                    "character_name": f"Bench Pilot {pk}",
                    "corporation_id": corp["corporation_id"],
                    "corporation_name": corp["corporation_name"],
                    "corporation_ticker": corp["corporation_ticker"],
                    "alliance_id": 99000001 if corp["alliance_id"] else None,
                    "alliance_name": "Bench Alliance" if corp["alliance_id"] else "",
                    "alliance_ticker": "BNCH" if corp["alliance_id"] else "",
                    "faction_name": "",
                    "description": "",
                    "gender": "",
                    "title": "",
                }
            )
            owns.append({"id": pk, "owner_hash": _owner_hash(cid), "character_id": pk, "user_id": user_id})
            if rng.random() < 0.97:  # some characters' tokens were deleted by Alliance Auth
                tokens.append(
                    {
                        "id": pk,
                        "created": now,
                        "access_token": "x",
                        "refresh_token": f"rt-{cid}",
                        "character_id": cid,
                        "character_name": f"Bench Pilot {pk}",
                        "token_type": "character",
                        "character_owner_hash": _owner_hash(cid),
                        "user_id": user_id,
                        "sso_version": 2,
                    }
                )
                scopes.append({"token_id": pk, "scope_id": 1 if rng.random() < 0.6 else 2})
        conn.execute(
            insert(t["auth_user"]),
            [
                {
                    "id": n,
                    "password": "",
                    "is_superuser": False,
                    "username": f"pilot{n}",
                    "first_name": "",
                    "last_name": "",
                    "email": "",
                    "is_staff": False,
                    "is_active": True,
                    "date_joined": now,
                }
                for n in range(1, users + 1)
            ],
        )
        conn.execute(insert(t["eveonline_evecharacter"]), chars)
        conn.execute(insert(t["authentication_characterownership"]), owns)
        conn.execute(
            insert(t["authentication_userprofile"]),
            [
                {
                    "id": n,
                    "user_id": n,
                    "main_character_id": n,
                    "state_id": states["Member"],
                    "language": "",
                    "minimize_sidebar": False,
                    "night_mode": None,
                    "theme": None,
                }
                for n in range(1, users + 1)
            ],
        )
        conn.execute(insert(t["esi_token"]), tokens)
        conn.execute(insert(t["esi_token_scopes"]), scopes)
        conn.execute(
            insert(t["discord_discorduser"]),
            [
                {
                    "user_id": n,
                    "uid": 10**17 + n,
                    "discriminator": "0",
                    "username": f"pilot{n}",
                    "activated": None,
                }
                for n in range(1, users + 1)
                if n % 2
            ],
        )
        conn.execute(
            insert(t["auth_user_groups"]),
            [{"user_id": n, "group_id": 1 + n % 5} for n in range(1, users + 1) if n % 3 == 0],
        )
    engine.dispose()


def _measure(env, *args):
    """Run ``flask import allianceauth`` and return its exit code, wall seconds and peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [venv_bin("flask"), "import", "allianceauth", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": process.returncode,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "last_line": out.strip().splitlines()[-1] if out.strip() else "",
    }


def run(args):
    python, project = build()
    redis = RedisServer().start()
    tmp = tempfile.TemporaryDirectory(prefix="bastion-bench-import-")
    try:
        pg = os.environ.get("BENCH_DATABASE_URL")
        env_aa = environment(project, redis.url, CLIENT_ID, "unused", "http://127.0.0.1:9")
        if pg:
            aa_url = _fresh_schema(pg, "bench_allianceauth")
            bastion_url = _fresh_schema(pg, "bench_bastion").render_as_string(hide_password=False)
            plain = aa_url.difference_update_query(["options"]).set(drivername="postgresql")
            env_aa.update(
                AA_DATABASE=plain.render_as_string(hide_password=False), AA_SCHEMA="bench_allianceauth"
            )
            aa_url = aa_url.set(drivername="postgresql").render_as_string(hide_password=False)
        else:
            path = Path(tmp.name) / "alliance_auth.sqlite3"
            env_aa["AA_DATABASE"] = str(path)
            aa_url = f"sqlite:///{path}"
            bastion_url = f"sqlite:///{Path(tmp.name) / 'bastion.db'}"
        started = time.perf_counter()
        AllianceAuth(python, project, env_aa, aa_url).migrate()
        _fill(aa_url.replace("postgresql://", "postgresql+psycopg://", 1), args.users, args.characters)
        prepared = time.perf_counter() - started
        env = {
            **os.environ,
            "FLASK_APP": "wsgi.py",
            "DATABASE_URL": bastion_url,
            "REDIS_URL": redis.url,
            "BASTION_ENV": "development",
            "BASTION_INSTANCE_DIR": tmp.name,
            "SECRET_KEY": "bench-secret-key",
            "EVE_CLIENT_ID": CLIENT_ID,
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [venv_bin("flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        common = [aa_url, "--client-id", CLIENT_ID]
        dry = _measure(env, *common)
        applied = _measure(env, *common, "--apply")
        again = _measure(env, *common, "--apply")
        return {
            "benchmark": "import",
            "database": "postgresql" if pg else "sqlite",
            "users": args.users,
            "characters": args.characters,
            "prepare_s": round(prepared, 1),
            "dry_run": dry,
            "apply": applied,
            "second_run": again,
        }
    finally:
        redis.stop()
        tmp.cleanup()
