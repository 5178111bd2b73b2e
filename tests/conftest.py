"""The suite's set-up; the fixtures live in tests/fixtures/ (app, db, redis, sandbox, factories,
login helpers, a live server, a real browser, consumer processes, a Mumble server).

A throwaway Redis server is started before anything imports the app, and the database is a
fresh SQLite file (or the PostgreSQL database named by TEST_DATABASE_URL), never a developer's.
Under pytest-xdist every worker process has its own Redis server, SQLite file and, on
PostgreSQL, its own schema of that database.

Each test is marked by the real parts it uses (see ``pytest --markers``), from the fixtures it
asks for: ``database``, ``browser``, ``consumer``, ``mumble``. The PostgreSQL pass runs
``-m database`` only: the other tests never reach the database.
"""

import os
import tempfile
from pathlib import Path

import pytest

from tests.support import RedisServer

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.app",
    "tests.fixtures.users",
    "tests.fixtures.browser",
    "tests.fixtures.processes",
    "tests.fixtures.mumble",
    "tests.fixtures.allianceauth",
    "tests.fixtures.alerts",
]

_redis_server = None
_tmpdir = None

# A test is marked with each real part it uses, from the fixtures it asks for (directly or not).
MARKED_BY_FIXTURE = {
    "database": "database_url",
    "browser": "browser",
    "consumer": "consumer",
    "mumble": "mumble_server",
}


def _is_xdist_controller(config):
    """True in the process that hands tests to pytest-xdist's workers (it runs none itself)."""
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


def _worker_database_url(url, worker):
    """The test database for one worker: PostgreSQL gets a schema of its own in the same database."""
    from sqlalchemy import create_engine, make_url, text

    parsed = make_url(url)
    if not worker or not parsed.drivername.startswith("postgresql"):
        return url
    schema = f"bastion_test_{worker}"
    engine = create_engine(parsed)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    options = f"-csearch_path={schema}"
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def pytest_configure(config):
    """Start the test Redis and point every setting at throwaway places before the app loads."""
    global _redis_server, _tmpdir
    import logging

    for marker, fixture in MARKED_BY_FIXTURE.items():
        config.addinivalue_line("markers", f"{marker}: uses the {fixture} fixture (set by conftest.py)")
    if _is_xdist_controller(config):
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    _tmpdir = tempfile.TemporaryDirectory(prefix=f"bastion-test-{worker}-" if worker else "bastion-test-")
    _redis_server = RedisServer().start()
    os.environ["REDIS_URL"] = _redis_server.url
    os.environ["HUEY_NAME"] = "bastion-test"
    os.environ["BASTION_INSTANCE_DIR"] = _tmpdir.name
    os.environ["BASTION_ENV"] = "testing"
    os.environ.pop("DATABASE_URL", None)
    if os.environ.get("TEST_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = _worker_database_url(os.environ["TEST_DATABASE_URL"], worker)
    else:
        os.environ["TEST_DATABASE_URL"] = f"sqlite:///{Path(_tmpdir.name) / 'test.db'}"


def pytest_collection_modifyitems(config, items):
    """Mark each test with the real parts its fixtures bring up."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixture in MARKED_BY_FIXTURE.items():
            if fixture in used:
                item.add_marker(marker)


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
