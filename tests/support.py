"""Helpers the fixtures share; the real-server helpers live in bench/servers.py and serve both."""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.servers import (  # noqa: F401  (re-exported)
    ConsumerProcess,
    RedisServer,
    free_port,
    free_ports,
    wait_for,
)

IN_CI = os.environ.get("CI", "").lower() == "true"

# The suite's applications, registered with the sandbox's SSO and Discord.
TEST_CLIENT_ID = "bastion-test"
TEST_CLIENT_SECRET = "bastion-test-secret"
TEST_DISCORD_CLIENT_ID = "bastion-discord-test"
TEST_DISCORD_CLIENT_SECRET = "bastion-discord-test-secret"
TEST_DISCORD_BOT_TOKEN = "bastion-bot-test-token"

# The scope key_factory's keys hold (ESI roles, for directors).
SCOPE = "esi-characters.read_corporation_roles.v1"

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token_from(html):
    """The CSRF token in a rendered page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


class WebhookReceiver:
    """A real HTTP server that records the webhook events POSTed to it and answers a set status."""

    def __init__(self, status=200):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.status = status
        self.location = None  # sent with a 3xx status
        self.events = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (the http.server interface)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.events.append({"headers": dict(self.headers), "body": body})
                    status, location = receiver.status, receiver.location
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self):
        """The events so far, as (event dict, headers, raw body)."""
        import json

        with self._lock:
            return [(json.loads(e["body"]), e["headers"], e["body"]) for e in self.events]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def sign_in(page, username, password, next_path):
    """Sign in through the login form as a local account, and wait to land past it."""
    page.goto(f"/login?next={next_path}")
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def end_grace_periods(db):
    """Time passes: every grant's grace period is over (its ends_at moves into the past)."""
    from datetime import timedelta

    from app.access.models import Grant
    from app.clock import utcnow

    db.session.expire_all()
    ending = db.session.scalars(db.select(Grant).where(Grant.ends_at.is_not(None))).all()
    for grant in ending:
        grant.ends_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return len(ending)


def add_alt(db, sandbox, user_id, name="Alt Pilot", corporation_id=None):
    """A second character with a valid key for a user, backed by a live grant in the sandbox; its id."""
    from app import crypto
    from app.corps.models import Character
    from app.keys.models import Key

    made = sandbox.control("POST", "/characters", json={"name": name, "corporation_id": corporation_id})
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": made["character_id"], "client_id": TEST_CLIENT_ID, "scopes": [SCOPE]},
    )
    db.session.add(
        Character(
            id=made["character_id"],
            name=name,
            user_id=user_id,
            owner_hash=made["owner_hash"],
            corporation_id=corporation_id,
        )
    )
    db.session.flush()
    db.session.add(
        Key(
            user_id=user_id,
            character_id=made["character_id"],
            owner_hash=made["owner_hash"],
            scopes=SCOPE,
            refresh_token_encrypted=crypto.encrypt(grant["refresh_token"]),
            status="valid",
        )
    )
    db.session.commit()
    return made["character_id"]


def link_discord(db, sandbox, user_id, username="valpilot"):
    """A Discord account for a user, linked in Bastion and a member of a guild the bot is in (so that
    the bot may send it direct messages); its Discord id."""
    from app import crypto
    from app.services.models import DiscordLink

    who = sandbox.control("POST", "/discord/users", json={"username": username})
    guild = sandbox.control("POST", "/discord/guilds", json={"name": "Alliance", "roles": ["Member"]})
    world = sandbox.app.extensions["sandbox"]["discord"]
    with world.lock:
        world.guilds[guild["guild_id"]]["members"][who["id"]] = {"roles": set(), "nick": None}
    db.session.add(
        DiscordLink(
            user_id=user_id,
            discord_user_id=who["id"],
            username=username,
            access_token_encrypted=crypto.encrypt("unused-access-token"),
        )
    )
    db.session.commit()
    return who["id"]


def direct_messages(sandbox, discord_user_id):
    """The texts of the direct messages the sandbox's bot sent a Discord user."""
    found = sandbox.control("GET", f"/discord/users/{discord_user_id}/messages")["messages"]
    return [m["content"] for m in found]


def grant_of(db, user_id, service_id):
    """A user's grant of a service as the database has it now (what consumers wrote meanwhile)."""
    from app.access.models import Grant

    db.session.expire_all()
    found = db.session.scalars(db.select(Grant).filter_by(user_id=user_id, service_id=service_id)).first()
    db.session.commit()
    return found


def count_rows(db, model, *where):
    """How many rows of a model match, as the database has them now."""
    db.session.expire_all()
    found = db.session.scalar(db.select(db.func.count()).select_from(model).where(*where))
    db.session.commit()
    return found


NODE = shutil.which("node")
NPM = shutil.which("npm")


def npm_packages(folder, package):
    """The packages of a folder's package-lock.json, installed with npm ci once per lock file and
    kept under the system temp folder; its node_modules. package: one of them, to see it is there."""
    import pytest

    if not (NODE and NPM):
        if IN_CI:
            pytest.fail("node and npm are missing")
        pytest.skip("node and npm are not installed")
    folder = Path(folder)
    lock = (folder / "package-lock.json").read_bytes()
    home = Path(tempfile.gettempdir()) / f"bastion-npm-{folder.name}-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (home / "node_modules" / package).exists():
        staging = Path(tempfile.mkdtemp(prefix=f"bastion-npm-{folder.name}-"))
        for name in ("package.json", "package-lock.json"):
            shutil.copy(folder / name, staging / name)
        made = subprocess.run(  # noqa: S603
            [NPM, "ci", "--no-audit", "--no-fund"], cwd=staging, capture_output=True, text=True, timeout=300
        )
        assert made.returncode == 0, made.stdout + made.stderr
        if home.exists():  # another run installed it meanwhile
            shutil.rmtree(staging)
        else:
            staging.replace(home)
    return home / "node_modules"
