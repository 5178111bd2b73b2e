"""``python -m bench dashboard``: the admin pages' latency over real HTTP, with a big state seeded.

Seeds N keys (with their users and characters) in the database, D dead tasks and P pending
tasks in Redis (through the real queue, so its counts are kept as in production), plus an hour
of throughput, running work, locks and failures; serves the app with gunicorn; logs in as an
admin through the login form; then times sequential requests to /admin/queue/status, /admin/
and /admin/queue.
"""

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

from bench.harness import _insert_users, migrated_app
from bench.servers import RedisServer, free_port, stop_process, venv_bin, wait_for

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ("bench-admin", "bench admin password")
STATUSES = (("valid", 0.90), ("invalid", 0.05), ("error", 0.03), ("pending", 0.02))
CHUNK = 5000


def _env(tmp, redis_url, database_url):
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "HUEY_NAME": "bastion-bench",
        "BASTION_INSTANCE_DIR": tmp,
        "BASTION_ENV": "development",
        "SECRET_KEY": "bench-secret-key",
        "LOG_LEVEL": "WARNING",
        "EVE_DOWNTIME": "",
    }


def _seed_database(app, count):
    from sqlalchemy import insert

    from app import crypto
    from app.accounts.models import User
    from app.clock import utcnow
    from app.corps.models import Character, Corporation
    from app.extensions import db
    from app.jobs.models import TaskRecord
    from app.keys.models import Key

    rng = random.Random(7)
    now = utcnow()
    with app.app_context():
        token = crypto.encrypt("bench-refresh-token")
        admin = User(username=ADMIN[0], role="admin", state="guest")
        admin.set_password(ADMIN[1])
        db.session.add(admin)
        db.session.add(Corporation(id=98000001, name="Bench Corp", ticker="BNCH", tracked_as="member"))
        db.session.commit()
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            states = rng.choices(("member", "blue", "guest"), weights=(80, 10, 10), k=size)
            first = _insert_users(
                db,
                User,
                [
                    {"role": "member", "state": s, "is_active_account": True, "created_at": now}
                    for s in states
                ],
            )
            characters, keys = [], []
            for offset in range(size):
                character_id = 2_100_000_000 + start + offset
                status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
                characters.append(
                    {
                        "id": character_id,
                        "name": f"Pilot {start + offset}",
                        "user_id": first + offset,
                        "owner_hash": f"hash-{character_id}",
                        "corporation_id": 98000001,
                        "is_director": False,
                        "created_at": now,
                    }
                )
                keys.append(
                    {
                        "user_id": first + offset,
                        "character_id": character_id,
                        "owner_hash": f"hash-{character_id}",
                        "scopes": "esi-characters.read_corporation_roles.v1",
                        "refresh_token_encrypted": token,
                        "status": status,
                        "reason": "The grant was revoked." if status == "invalid" else None,
                        "needs_reauth": False,
                        "next_check_at": now + timedelta(seconds=rng.uniform(0, 3600)),
                        "consecutive_failures": 0,
                        "created_at": now,
                    }
                )
            db.session.execute(insert(Character), characters)
            db.session.execute(insert(Key), keys)
            db.session.commit()
        failures = [
            {
                "task_id": f"bench-{n}",
                "name": "bastion.keys.validate",
                "target": f"key:{n}",
                "outcome": "failed",
                "attempt": 1,
                "error": "SsoUnavailable: 502",
                "finished_at": now - timedelta(seconds=rng.uniform(0, 86400)),
            }
            for n in range(1, 2001)
        ]
        db.session.execute(insert(TaskRecord), failures)
        db.session.commit()


def _seed_redis(app, dead, pending):
    from app.jobs import counters, deadstore, heartbeat, inflight
    from app.jobs.connection import get_redis
    from app.jobs.locks import TargetLock
    from tasks import PRIORITY_ON_DEMAND, PRIORITY_SWEEP
    from tasks.keys import validate

    with app.app_context():
        redis_client = get_redis()
        now = time.time()
        for n in range(dead):
            deadstore.add(
                redis_client,
                "bastion.keys.validate",
                [n + 1],
                {"attempt": 6},
                PRIORITY_SWEEP,
                f"key:{n + 1}",
                "GaveUp: SSO answered 502 six times",
                "Traceback (most recent call last):\n  ...\nGaveUp: SSO answered 502 six times\n",
                6,
                now=now - n,
            )
        for n in range(pending):
            validate(n + 1, priority=PRIORITY_ON_DEMAND if n % 50 == 0 else PRIORITY_SWEEP)
        pipe = redis_client.pipeline(transaction=False)
        for minute in range(60):
            for _ in range(20):
                counters.count_task(pipe, "bastion.keys.validate", "done", 0.1, now=now - minute * 60)
        pipe.execute()
        inflight.beat_process(redis_client)
        heartbeat.beat(redis_client)
        for n in range(16):
            worker = f"{inflight.process_id()}:Worker-{n}"
            inflight.register(
                redis_client, f"bench-{n}", "bastion.keys.validate", [n], {}, 10, f"key:{n}", worker
            )
            TargetLock(redis_client, f"key:{n}", worker, ttl=300).acquire()


def _login(base):
    from tests.support import csrf_token_from

    session = requests.Session()
    token = csrf_token_from(session.get(f"{base}/login", timeout=10).text)
    answer = session.post(
        f"{base}/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"could not log in as the bench admin: {answer.status_code}")
    return session


def _time(session, url, count, headers=None):
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        answer = session.get(url, headers=headers, timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url} answered {answer.status_code}")
    return timings


def _p(timings, share):
    ordered = sorted(timings)
    return round(ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))], 1)


def serve(env, log_path):
    """The app under gunicorn (2 workers of 4 threads) on a free port, once it answers:
    (process, base URL); its errors go to log_path."""
    port = free_port()
    server = subprocess.Popen(
        [
            venv_bin("gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "w"),  # noqa: SIM115  (closed with the process)
    )
    base = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503)
        except requests.ConnectionError:
            return False

    wait_for(answers, timeout=30, message="gunicorn to answer")
    return server, base


def prepare(prefix, make_env=None):
    """A temporary folder, a Redis server, the database (BENCH_DATABASE_URL, else SQLite in that
    folder) and the settings make_env(folder, Redis URL, database URL) gives, which this process
    takes on too: (folder, Redis server, database URL, settings)."""
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    redis_server = RedisServer().start()
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    env = (make_env or _env)(tmp.name, redis_server.url, database_url)
    os.environ.update(env)
    return tmp, redis_server, database_url, env


def run(args):
    """Seed, serve, measure; one dict of figures."""
    tmp, redis_server, database_url, env = prepare("bastion-bench-dash-")
    server = None
    try:
        app = migrated_app()
        seeded = time.monotonic()
        _seed_database(app, args.keys)
        _seed_redis(app, args.dead, args.pending)
        seed_s = time.monotonic() - seeded
        server, base = serve({**os.environ, **env}, Path(tmp.name) / "gunicorn.log")
        session = _login(base)
        pages = {
            "status": (f"{base}/admin/queue/status", {"Accept": "application/json"}),
            "admin": (f"{base}/admin/", None),
            "queue_page": (f"{base}/admin/queue", None),
            "queue_panel": (f"{base}/admin/queue/panel", None),
        }
        for url, headers in pages.values():  # warm both workers' caches and connections
            _time(session, url, 10, headers)
        result = {
            "keys": args.keys,
            "dead": args.dead,
            "pending": args.pending,
            "requests": args.requests,
            "database": database_url.split(":", 1)[0],
            "seed_s": round(seed_s, 1),
        }
        for name, (url, headers) in pages.items():
            timings = _time(session, url, args.requests, headers)
            result[f"{name}_p50_ms"] = _p(timings, 0.50)
            result[f"{name}_p95_ms"] = _p(timings, 0.95)
            result[f"{name}_max_ms"] = round(max(timings), 1)
            result[f"{name}_mean_ms"] = round(statistics.fmean(timings), 1)
        status = session.get(pages["status"][0], timeout=10).json()
        result["seen"] = {"queue": status["queue"], "locks_held": status["locks_held"]}
        result["targets_met"] = (
            result["status_p95_ms"] <= 50
            and result["admin_p95_ms"] <= 200
            and result["queue_page_p95_ms"] <= 200
        )
        return result
    finally:
        if server is not None:
            stop_process(server)
        redis_server.stop()
        tmp.cleanup()
        sys.stdout.flush()
