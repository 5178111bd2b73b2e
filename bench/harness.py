"""A whole Bastion for a benchmark: Redis, a database, the sandbox, consumers, seeded keys."""

import os
import tempfile
import time
from pathlib import Path

from bench.servers import ConsumerProcess, RedisServer, SandboxProcess

CLIENT_ID = "bastion-bench"
CLIENT_SECRET = "bastion-bench-secret"  # noqa: S105  (the sandbox's throwaway application)
SCOPES = ["esi-characters.read_corporation_roles.v1"]


def migrated_app():
    """The app on this process's settings, its database migrated."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app()
    with app.app_context():
        upgrade()
    return app


class Harness:
    """Starts the parts, seeds keys, and reads the results from the database and the sandbox."""

    def __init__(self, keys, workers=16, known_limit=None, database_url=None, extra_env=None):
        self.keys = keys
        self.workers = workers
        self.tmp = tempfile.TemporaryDirectory(prefix="bastion-bench-")
        self.redis = RedisServer()
        self.sandbox = SandboxProcess()
        self.database_url = (
            database_url
            or os.environ.get("BENCH_DATABASE_URL")
            or f"sqlite:///{Path(self.tmp.name) / 'bench.db'}"
        )
        self.known_limit = known_limit
        self.extra_env = extra_env or {}
        self.consumers = []
        self.app = None

    def env(self):
        """The environment every Bastion process of this run gets."""
        env = {
            "REDIS_URL": self.redis.url,
            "DATABASE_URL": self.database_url,
            "HUEY_NAME": "bastion-bench",
            "BASTION_INSTANCE_DIR": self.tmp.name,
            "BASTION_ENV": "development",
            "SECRET_KEY": "bench-secret-key",
            "EVE_SSO_URL": self.sandbox.url,
            "EVE_ESI_URL": f"{self.sandbox.url}/esi",
            "EVE_CLIENT_ID": CLIENT_ID,
            "EVE_CLIENT_SECRET": CLIENT_SECRET,
            "EVE_DOWNTIME": "",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "EVE_TIMEOUT": "5",
        }
        if self.known_limit:
            env["GOVERNOR_LIMITS"] = f"sso={self.known_limit}"
        env.update(self.extra_env)
        return env

    def start(self):
        """Start Redis and the sandbox, migrate the database and build an app for reading results."""
        self.redis.start()
        self.sandbox.start(Path(self.tmp.name) / "sandbox.log")
        os.environ.update(self.env())
        self.app = migrated_app()
        return self

    def seed(self, tracked=True):
        """Make N characters with grants in the sandbox and N users with due keys in Bastion."""
        from sqlalchemy import insert

        from app import crypto
        from app.accounts.models import User
        from app.clock import utcnow
        from app.corps.models import Character, Corporation
        from app.extensions import db
        from app.keys.models import Key

        sandbox = self.sandbox
        sandbox.control(
            "POST",
            "/clients",
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": []},
        )
        corp = sandbox.control("POST", "/corporations", json={"name": "Bench Corp", "ticker": "BNCH"})
        made = []
        remaining = self.keys
        while remaining:
            count = min(remaining, 5000)
            made += sandbox.control(
                "POST",
                "/characters/bulk",
                json={
                    "count": count,
                    "client_id": CLIENT_ID,
                    "scopes": SCOPES,
                    "corporation_id": corp["corporation_id"],
                },
            )["characters"]
            remaining -= count
        with self.app.app_context():
            db.session.add(
                Corporation(
                    id=corp["corporation_id"],
                    name="Bench Corp",
                    ticker="BNCH",
                    tracked_as="member" if tracked else None,
                )
            )
            db.session.commit()
            due = utcnow()
            for start in range(0, len(made), 1000):
                chunk = made[start : start + 1000]
                users = [
                    {"role": "member", "state": "guest", "is_active_account": True, "created_at": due}
                    for _ in chunk
                ]
                first_id = _insert_users(db, User, users)
                characters, keys = [], []
                for offset, row in enumerate(chunk):
                    user_id = first_id + offset
                    characters.append(
                        {
                            "id": row["character_id"],
                            "name": row["name"],
                            "user_id": user_id,
                            "owner_hash": row["owner_hash"],
                            "corporation_id": corp["corporation_id"],
                            "is_director": False,
                            "created_at": due,
                        }
                    )
                    keys.append(
                        {
                            "user_id": user_id,
                            "character_id": row["character_id"],
                            "owner_hash": row["owner_hash"],
                            "scopes": " ".join(SCOPES),
                            "refresh_token_encrypted": crypto.encrypt(row["refresh_token"]),
                            "status": "pending",
                            "needs_reauth": False,
                            "next_check_at": due,
                            "consecutive_failures": 0,
                            "created_at": due,
                        }
                    )
                db.session.execute(insert(Character), characters)
                db.session.execute(insert(Key), keys)
                db.session.commit()
            db.session.execute(
                db.text(
                    "UPDATE users SET main_character_id = "
                    "(SELECT id FROM characters WHERE characters.user_id = users.id)"
                )
            )
            db.session.commit()
        self.made = made
        return made

    def move_characters(self, count):
        """Move count of the seeded characters to another corporation at the sandbox; (ids, corp id)."""
        target = self.sandbox.control("POST", "/corporations", json={"name": "Moved Corp", "ticker": "MOVD"})
        ids = [row["character_id"] for row in self.made[:count]]
        for character_id in ids:
            self.sandbox.control(
                "POST", f"/characters/{character_id}/move", json={"corporation_id": target["corporation_id"]}
            )
        return ids, target["corporation_id"]

    def characters_in(self, corporation_id):
        """Ids of characters Bastion has in a corporation."""
        from app.extensions import db

        with self.app.app_context():
            ids = db.session.execute(
                db.text("SELECT id FROM characters WHERE corporation_id = :corp"), {"corp": corporation_id}
            ).scalars()
            found = set(ids)
            db.session.commit()
        return found

    def start_consumer(self, periodic=True):
        """Start one more consumer process (exactly one should run the periodic tasks)."""
        consumer = ConsumerProcess(self.env(), workers=self.workers, periodic=periodic, quiet=True).start(
            self.tmp.name
        )
        self.consumers.append(consumer)
        return consumer

    def begin(self, consumers, before_consumers=None, **sandbox_settings):
        """Start, seed, set the sandbox up, zero its counters, start the consumers and kick a sweep."""
        self.start()
        self.seed()
        if before_consumers is not None:
            before_consumers(self)
        self.sandbox.control("POST", "/config", json={"hang_s": 3.0, **sandbox_settings})
        self.sandbox.control("POST", "/stats/reset")
        started = [self.start_consumer(periodic=index == 0) for index in range(consumers)]
        self.kick_sweep()
        return started

    def wait_ready(self, consumers, timeout=60):
        """Wait until every consumer process has started (each beats in Redis once its workers
        run), so what is measured afterwards is the work, not the start-up's imports."""
        from app.jobs.connection import get_redis
        from app.jobs.inflight import processes

        def started():
            with self.app.app_context():
                return sum(p["alive"] for p in processes(get_redis())) >= len(consumers)

        return wait_until(started, timeout, 0.05)

    def kick_sweep(self):
        """Enqueue a sweep now rather than waiting for the minute."""
        from tasks import keys as key_tasks

        with self.app.app_context():
            key_tasks.sweep()

    def progress(self):
        """(keys with a verdict, users reconciled, keys invalid)."""
        from app.extensions import db

        with self.app.app_context():
            checked = db.session.execute(
                db.text("SELECT COUNT(*) FROM keys WHERE status != 'pending'")
            ).scalar()
            reconciled = db.session.execute(
                db.text("SELECT COUNT(*) FROM users WHERE reconciled_at IS NOT NULL")
            ).scalar()
            db.session.commit()
        return checked, reconciled

    def key_counts(self):
        """Keys by status, and how many wait for re-authorisation."""
        from app.extensions import db

        with self.app.app_context():
            rows = db.session.execute(db.text("SELECT status, COUNT(*) FROM keys GROUP BY status")).all()
            reauth = db.session.execute(db.text("SELECT COUNT(*) FROM keys WHERE needs_reauth")).scalar()
            db.session.commit()
        return dict(rows), reauth

    def governor_state(self, upstream):
        """What the governor learnt about an upstream during the run."""
        from app.jobs.setup import get_governor

        with self.app.app_context():
            return get_governor().state(upstream)

    def add_webhook_service(self, url, slug="outage-forum"):
        """A webhook service every member gets automatically."""
        from app.extensions import db
        from app.services.models import Service

        with self.app.app_context():
            service = Service(slug=slug, name="Forum", kind="webhook", auto_states="member")
            service.settings = {"url": url, "secret": "bench-webhook-secret"}
            db.session.add(service)
            db.session.commit()

    def grant_syncs(self):
        """Grants by sync status."""
        from app.extensions import db

        with self.app.app_context():
            rows = db.session.execute(
                db.text(
                    "SELECT sync_status, COUNT(*) FROM grants WHERE status = 'active' GROUP BY sync_status"
                )
            ).all()
            db.session.commit()
        return dict(rows)

    def dead_count(self):
        """Tasks in the dead store."""
        from app.jobs import deadstore
        from app.jobs.connection import get_redis

        with self.app.app_context():
            return deadstore.count(get_redis())

    def dead_reasons(self, limit=500):
        """The dead tasks by task name and the first line of their error: {"name: error": count}."""
        from collections import Counter

        from app.jobs import deadstore
        from app.jobs.connection import get_redis

        with self.app.app_context():
            rows = deadstore.page(get_redis(), 0, limit)
        return dict(
            Counter(f"{row['name']}: {(row.get('error') or '').splitlines()[0][:120]}" for row in rows)
        )

    def locks(self):
        """Every lock left in Redis, with its owner and TTL."""
        from app.jobs.connection import get_redis
        from app.jobs.locks import list_locks

        with self.app.app_context():
            return list_locks(get_redis())[0]

    def wrongly_invalid(self):
        """Keys Bastion marked invalid whose grant the sandbox still holds valid."""
        from app.extensions import db

        grants = self.sandbox.control("GET", "/grants")["grants"]
        valid_characters = {g["character_id"] for g in grants if not g["revoked"]}
        with self.app.app_context():
            invalid = db.session.execute(
                db.text("SELECT character_id FROM keys WHERE status = 'invalid'")
            ).scalars()
            count = sum(1 for character_id in invalid if character_id in valid_characters)
            db.session.commit()
        return count

    def stop(self):
        """Stop everything and remove the temporary folder."""
        for consumer in self.consumers:
            consumer.stop()
        self.sandbox.stop()
        self.redis.stop()
        if self.app is not None:
            from app.extensions import db

            with self.app.app_context():
                db.engine.dispose()
        self.tmp.cleanup()


def _insert_users(db, model, rows):
    """Insert users and return the id of the first (ids are consecutive in one insert here)."""
    from sqlalchemy import func, insert, select

    before = db.session.execute(select(func.coalesce(func.max(model.id), 0))).scalar()
    db.session.execute(insert(model), rows)
    return before + 1


def wait_until(condition, timeout, interval=0.5):
    """Poll a condition; True when it held before the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
