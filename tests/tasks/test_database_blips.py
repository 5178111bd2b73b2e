"""A database that cannot be reached is waited out: the task runs again later with a growing delay,
and reaches the dead store only after its database retries are spent."""

from datetime import UTC, datetime, timedelta

import pytest

from app.jobs import deadstore
from tests.support import free_port


@pytest.fixture()
def unreachable_app(suite_config, redis_client):
    """The app, but its database is a PostgreSQL server that is not there (connection refused)."""
    from app import create_app

    class NoDatabase(suite_config):
        SQLALCHEMY_DATABASE_URI = f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/gone"
        SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"connect_timeout": 2}}
        DB_RETRY_ATTEMPTS = 2

    return create_app(NoDatabase)


def _delay_of(task):
    return (task.eta - datetime.now(UTC).replace(tzinfo=None)).total_seconds()


def test_a_database_that_cannot_be_reached_is_waited_out_then_the_task_dies(unreachable_app, redis_client):
    from tasks import huey
    from tasks import signals as _signals  # noqa: F401  (the dead store listens to task signals)
    from tasks.keys import validate

    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    task = validate.s(7)
    with unreachable_app.app_context():
        huey.execute(task)  # what a consumer does with the message
        assert deadstore.count(redis_client) == 0
        [again] = huey.read_schedule(later)  # queued again, with a delay
        assert again.id == task.id and again.args == (7,)
        first_delay = _delay_of(again)
        assert 0 < first_delay <= 0.5
        huey.execute(again, timestamp=again.eta)
        [third] = huey.read_schedule(later)
        assert _delay_of(third) > first_delay + 1  # the delay grows (0.5 s, then 2 s)
        assert deadstore.count(redis_client) == 0
        huey.execute(third, timestamp=third.eta)  # the third blip: its two retries are spent
    assert huey.read_schedule(later) == []
    assert deadstore.count(redis_client) == 1
    entry = deadstore.page(redis_client)[0]
    assert entry["name"] == "bastion.keys.validate" and entry["args"] == [7]
    assert "OperationalError" in entry["error"]


@pytest.fixture()
def redis_gone_app(suite_config, redis_client):
    """The app, but the Redis its work reads and writes is not there (connection refused), as while
    Redis restarts; the queue's own Redis is up, as it is again once the restart is over."""
    from app import create_app

    class NoRedis(suite_config):
        REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
        DB_RETRY_ATTEMPTS = 2

    return create_app(NoRedis)


def test_a_redis_that_cannot_be_reached_is_waited_out_like_the_database(redis_gone_app, redis_client, db):
    """A key check that finds Redis away (a restart) runs again with a growing delay instead of going
    to the dead store at once; only when its retries are spent does it fail for good."""
    from tasks import huey
    from tasks import signals as _signals  # noqa: F401  (the dead store listens to task signals)
    from tasks.keys import validate

    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    task = validate.s(7)
    with redis_gone_app.app_context():
        huey.execute(task)
        assert deadstore.count(redis_client) == 0
        [again] = huey.read_schedule(later)
        assert again.id == task.id and 0 < _delay_of(again) <= 0.5
        huey.execute(again, timestamp=again.eta)
        [third] = huey.read_schedule(later)
        assert deadstore.count(redis_client) == 0
        huey.execute(third, timestamp=third.eta)  # its retries are spent: it fails for good
    assert huey.read_schedule(later) == []


def test_a_connection_the_database_closed_under_the_tasks_last_rollback_is_waited_out(app, db, redis_client):
    """The run's work is done, and the app context's end rolls back on a connection the database
    just terminated (a restart): that is a blip too, and the task runs again instead of dying."""
    from sqlalchemy.exc import OperationalError

    from tasks import huey
    from tasks import signals as _signals  # noqa: F401  (the dead store listens to task signals)
    from tasks.keys import validate

    closed = []

    def rollback_on_a_closed_connection(exc):
        if not closed:
            closed.append(True)
            terminated = Exception("terminating connection due to administrator command")
            raise OperationalError("ROLLBACK", {}, terminated)

    # the app has served requests, so Flask refuses the decorator; the list is what it appends to
    app.teardown_appcontext_funcs.append(rollback_on_a_closed_connection)
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    task = validate.s(7)
    try:
        with app.app_context():
            huey.execute(task)
    finally:
        app.teardown_appcontext_funcs.remove(rollback_on_a_closed_connection)
    assert closed
    assert deadstore.count(redis_client) == 0
    [again] = huey.read_schedule(later)
    assert again.id == task.id
