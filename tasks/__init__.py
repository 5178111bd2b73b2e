"""The Huey instance shared by the web app and the consumers, and the app_task decorator.

This module imports config, never app: the web app imports tasks to enqueue them, and the
consumer (tasks/consumer.py) hands in the app factory, so there is no import cycle.
"""

import functools
import logging
import threading

from huey import PriorityRedisHuey
from redis import ConnectionPool

from config import Config

log = logging.getLogger(__name__)

# Priorities: on-demand work (a member's click, an admin's retry) runs before the sweep.
PRIORITY_SWEEP = 10
PRIORITY_DEFAULT = 50
PRIORITY_ON_DEMAND = 100


def make_huey(config=Config):
    """A priority-capable Huey on Redis, named and addressed from the configuration."""
    pool = ConnectionPool.from_url(config.REDIS_URL, socket_timeout=10, socket_connect_timeout=5)
    return PriorityRedisHuey(
        config.HUEY_NAME,
        connection_pool=pool,
        immediate=config.HUEY_IMMEDIATE,
        utc=True,
    )


huey = make_huey()

# Queued messages name tasks as "bastion.<name>", e.g. "bastion.keys.validate".
TASK_NAMESPACE = "bastion"

_app_factory = None
_app = None
_app_lock = threading.Lock()


def set_app_factory(factory):
    """Tell the tasks how to build the Flask app they run in (the consumer does this)."""
    global _app_factory, _app
    _app_factory, _app = factory, None


def _task_app():
    """The app a task runs in: the current one (web process, tests), else one from the factory."""
    global _app
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app._get_current_object()
    with _app_lock:
        if _app is None:
            if _app_factory is None:
                raise RuntimeError("no app factory: load tasks through tasks.consumer")
            _app = _app_factory()
        return _app


def _pin_identity(fn):
    """Huey identifies a task as module + name; pin the module so moving code never orphans work."""
    fn.__module__ = TASK_NAMESPACE


def app_task(name, **task_options):
    """Declare a Huey task with an explicit name that runs inside a fresh app context."""

    def decorator(fn):
        @functools.wraps(fn)
        def run_in_app(*args, **kwargs):
            app = _task_app()
            with app.app_context():
                return fn(*args, **kwargs)

        _pin_identity(run_in_app)
        return huey.task(name=name, **task_options)(run_in_app)

    return decorator


def app_periodic_task(name, schedule, **task_options):
    """Declare a periodic Huey task (the schedule is a huey.crontab) run inside a fresh app context."""

    def decorator(fn):
        @functools.wraps(fn)
        def run_in_app(*args, **kwargs):
            app = _task_app()
            with app.app_context():
                return fn(*args, **kwargs)

        _pin_identity(run_in_app)
        return huey.periodic_task(schedule, name=name, **task_options)(run_in_app)

    return decorator
