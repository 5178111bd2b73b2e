"""The suite's set-up; the fixtures live in tests/fixtures/ (app, db, redis, sandbox, factories,
login helpers, a live server, a real browser, consumer processes, a Mumble server).

A throwaway Redis server is started before anything imports the app, and the database is a
fresh SQLite file (or the PostgreSQL database named by TEST_DATABASE_URL), never a developer's.
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
]

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
