"""Fixtures: app, client, db, redis, factories, login helpers, a live server and a real browser.

A throwaway Redis server is started before anything imports the app, and the database is a
fresh SQLite file (or the PostgreSQL database named by TEST_DATABASE_URL), never a developer's.
"""

import os
import tempfile
import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.support import IN_CI, RedisServer, csrf_token_from, free_port, wait_for

_redis_server = None
_tmpdir = None


def pytest_configure(config):
    """Start the test Redis and point every setting at throwaway places before the app loads."""
    global _redis_server, _tmpdir
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _tmpdir = tempfile.TemporaryDirectory(prefix="bastion-test-")
    _redis_server = RedisServer().start()
    os.environ["REDIS_URL"] = _redis_server.url
    os.environ["HUEY_NAME"] = "bastion-test"
    os.environ["BASTION_INSTANCE_DIR"] = _tmpdir.name
    os.environ["BASTION_ENV"] = "testing"
    os.environ.pop("DATABASE_URL", None)
    if not os.environ.get("TEST_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = f"sqlite:///{Path(_tmpdir.name) / 'test.db'}"


def pytest_unconfigure(config):
    """Stop the test Redis and remove the temporary folder."""
    if _redis_server is not None:
        _redis_server.stop()
    if _tmpdir is not None:
        _tmpdir.cleanup()


@pytest.fixture(scope="session")
def database_url():
    """The throwaway database the suite uses."""
    return os.environ["TEST_DATABASE_URL"]


@pytest.fixture(scope="session")
def redis_url():
    """The throwaway Redis the suite uses."""
    return os.environ["REDIS_URL"]


TEST_CLIENT_ID = "bastion-test"
TEST_CLIENT_SECRET = "bastion-test-secret"
TEST_DISCORD_CLIENT_ID = "bastion-discord-test"
TEST_DISCORD_CLIENT_SECRET = "bastion-discord-test-secret"
TEST_DISCORD_BOT_TOKEN = "bastion-bot-test-token"


class SandboxHandle:
    """The EVE sandbox served over real HTTP from a thread, with its universe and signing key at hand."""

    def __init__(self):
        from werkzeug.serving import make_server

        from sandbox.app import create_sandbox_app
        from sandbox.demo import build_demo
        from sandbox.state import Universe
        from sandbox.tokens import SigningKey

        self.universe = build_demo(Universe(), [])
        self.key = SigningKey()
        self.app = create_sandbox_app(self.universe, self.key)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        """Serve, and register the suite's application."""
        self.thread.start()
        self.universe.add_client(TEST_CLIENT_ID, TEST_CLIENT_SECRET, ["http://localhost/sso/callback"])
        discord = self.app.extensions["sandbox"]["discord"]
        discord.apps[TEST_DISCORD_CLIENT_ID] = {
            "secret": TEST_DISCORD_CLIENT_SECRET,
            "redirect_uris": ["http://localhost/services/discord/callback"],
        }
        discord.bots.add(TEST_DISCORD_BOT_TOKEN)
        return self

    def allow_redirect(self, uri):
        """Accept another redirect URI for the suite's EVE application (and its Discord one)."""
        client = self.universe.clients[TEST_CLIENT_ID]
        if uri not in client.redirect_uris:
            client.redirect_uris.append(uri)
        discord_uri = uri.replace("/sso/callback", "/services/discord/callback")
        uris = self.app.extensions["sandbox"]["discord"].apps[TEST_DISCORD_CLIENT_ID]["redirect_uris"]
        if discord_uri not in uris:
            uris.append(discord_uri)

    def control(self, method, path, **kwargs):
        """Call the control API; fail the test on an error answer."""
        import requests

        response = requests.request(method, f"{self.url}/_sandbox{path}", timeout=10, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def configure(self, **settings):
        """Change the sandbox's settings."""
        return self.control("POST", "/config", json=settings)

    def reset(self):
        """Default settings, fresh limits and counters."""
        from sandbox.state import DEFAULT_CONFIG

        self.configure(**DEFAULT_CONFIG)
        self.control("POST", "/reset-limits")
        self.control("POST", "/stats/reset")

    def stats(self):
        """The sandbox's counters."""
        return self.control("GET", "/stats")

    def stop(self):
        """Stop serving."""
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def sandbox_server():
    """One sandbox for the whole suite."""
    handle = SandboxHandle().start()
    yield handle
    handle.stop()


@pytest.fixture()
def sandbox(sandbox_server):
    """The sandbox with default settings, fresh limits and counters."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture(scope="session")
def suite_config(database_url, sandbox_server):
    """The configuration class every app in the suite is built from."""
    from config import TestConfig

    class SuiteConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        EVE_SSO_URL = sandbox_server.url
        EVE_ESI_URL = f"{sandbox_server.url}/esi"
        EVE_CLIENT_ID = TEST_CLIENT_ID
        EVE_CLIENT_SECRET = TEST_CLIENT_SECRET
        DISCORD_API_URL = f"{sandbox_server.url}/discord/api/v10"
        DISCORD_AUTHORIZE_URL = f"{sandbox_server.url}/discord/oauth2/authorize"
        DISCORD_CLIENT_ID = TEST_DISCORD_CLIENT_ID
        DISCORD_CLIENT_SECRET = TEST_DISCORD_CLIENT_SECRET
        DISCORD_BOT_TOKEN = TEST_DISCORD_BOT_TOKEN

    return SuiteConfig


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a fresh app context, as it would in a server.

    Without this, a request reuses the test's app context, and with it ``g`` (where Flask-Login
    caches the user) and the test's database session.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(suite_config):
    """The app on the test configuration, its database migrated from empty."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db as _db

    application = create_app(suite_config)
    application.test_client_class = IsolatedClient
    with application.app_context():
        _drop_everything(_db)
        upgrade()
        _db.session.remove()
    return application


def _drop_everything(_db):
    """Start from an empty database, even one left behind by an earlier run."""
    from sqlalchemy import MetaData

    meta = MetaData()
    meta.reflect(bind=_db.engine)
    if _db.engine.dialect.name == "postgresql":
        with _db.engine.begin() as conn:
            for name in meta.tables:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    else:
        meta.drop_all(bind=_db.engine)


@pytest.fixture()
def db(app):
    """The database inside an app context; every table is emptied after the test."""
    from app.extensions import db as _db

    ctx = app.app_context()
    ctx.push()
    yield _db
    _db.session.remove()
    with _db.engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())
    ctx.pop()


@pytest.fixture()
def redis_client(app):
    """A client of the test Redis, emptied before and after the test."""
    from app.jobs.connection import make_redis

    client = make_redis(app.config["REDIS_URL"])
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture()
def client(app, db):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture()
def runner(app, db):
    """A runner for the app's flask commands."""
    return app.test_cli_runner()


@pytest.fixture()
def make_user(db):
    """Factory: a user with a role and, for local accounts, a password."""
    from app.accounts.models import User

    counter = iter(range(1, 10_000))

    def make(role="member", username=None, password="correct horse battery", state="guest"):
        user = User(username=username or f"user{next(counter)}", role=role, state=state)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user

    return make


class AuthActions:
    """Log in and out through the real forms, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path="/login"):
        """A CSRF token valid for this client's session."""
        return csrf_token_from(self.client.get(path).get_data(as_text=True))

    def login(self, username, password="correct horse battery", next_path=None):
        """Post the login form."""
        data = {"username": username, "password": password, "csrf_token": self.csrf()}
        if next_path is not None:
            data["next"] = next_path
        return self.client.post("/login", data=data)

    def logout(self):
        """Post the logout form."""
        token = csrf_token_from(self.client.get("/", follow_redirects=True).get_data(as_text=True))
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture()
def auth(client):
    """Login helpers bound to the test client."""
    return AuthActions(client)


@pytest.fixture()
def login_as(auth, make_user):
    """Make a user of a role and log the test client in as them."""

    def login(role="member", **kwargs):
        user = make_user(role=role, **kwargs)
        response = auth.login(user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return login


@pytest.fixture(scope="session")
def live_server(app, sandbox_server):
    """The app served over real HTTP on a free port, in a background thread."""
    from werkzeug.serving import make_server

    port = free_port()
    sandbox_server.allow_redirect(f"http://127.0.0.1:{port}/sso/callback")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; in CI its absence fails the run."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, live_server):
    """A fresh browser page in a context of its own."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


__all__ = ["wait_for"]


@pytest.fixture()
def consumer(database_url, redis_client, sandbox_server, tmp_path):
    """Start real consumer processes on demand; all of them are stopped after the test."""
    from tests.support import ConsumerProcess

    started = []
    env = {
        "DATABASE_URL": database_url,
        "EVE_SSO_URL": sandbox_server.url,
        "EVE_ESI_URL": f"{sandbox_server.url}/esi",
        "EVE_CLIENT_ID": TEST_CLIENT_ID,
        "EVE_CLIENT_SECRET": TEST_CLIENT_SECRET,
        "DISCORD_API_URL": f"{sandbox_server.url}/discord/api/v10",
        "DISCORD_CLIENT_ID": TEST_DISCORD_CLIENT_ID,
        "DISCORD_CLIENT_SECRET": TEST_DISCORD_CLIENT_SECRET,
        "DISCORD_BOT_TOKEN": TEST_DISCORD_BOT_TOKEN,
        "SECRET_KEY": "test-secret-key",
        "EVE_DOWNTIME": "",
    }

    def start(workers=2, periodic=True, extra_env=None):
        process = ConsumerProcess({**env, **(extra_env or {})}, workers=workers, periodic=periodic)
        process.start(tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


SCOPE = "esi-characters.read_corporation_roles.v1"


@pytest.fixture()
def key_factory(db, sandbox, redis_client):
    """A user whose main character has a key backed by a live grant in the sandbox."""

    def make(scopes=(SCOPE,), granted=(SCOPE,), status="pending", tracked="member"):
        from app import crypto
        from app.accounts.models import User
        from app.corps.models import Character, Corporation
        from app.keys.models import Key

        corp = sandbox.control("POST", "/corporations", json={"name": "Validation Corp", "ticker": "VAL"})
        made = sandbox.control(
            "POST", "/characters", json={"name": "Val Pilot", "corporation_id": corp["corporation_id"]}
        )
        grant = sandbox.control(
            "POST",
            "/grants",
            json={"character_id": made["character_id"], "client_id": TEST_CLIENT_ID, "scopes": list(granted)},
        )
        db.session.add(
            Corporation(id=corp["corporation_id"], name="Validation Corp", ticker="VAL", tracked_as=tracked)
        )
        user = User(role="member", state="guest")
        db.session.add(user)
        db.session.flush()
        character = Character(
            id=made["character_id"],
            name="Val Pilot",
            user_id=user.id,
            owner_hash=made["owner_hash"],
            corporation_id=corp["corporation_id"],
        )
        db.session.add(character)
        db.session.flush()
        key = Key(
            user=user,
            character_id=character.id,
            owner_hash=made["owner_hash"],
            scopes=" ".join(scopes),
            refresh_token_encrypted=crypto.encrypt(grant["refresh_token"]),
            status=status,
        )
        db.session.add(key)
        db.session.flush()
        user.main_character_id = character.id
        db.session.commit()
        return key.id, made, grant["refresh_token"]

    return make
