"""The Huey instance shared by the web app and the consumers, and the app_task decorator.

This module imports config and the job primitives' backoff, never the app factory or an area: the
web app imports tasks to enqueue them, and the consumer (tasks/consumer.py) hands in the app
factory, so there is no import cycle.
"""

import functools
import gc
import logging
import os
import signal
import socket
import threading

from flask import current_app, has_app_context
from huey import PriorityRedisHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer, Scheduler
from huey.exceptions import RetryTask
from redis import ConnectionPool
from redis.exceptions import RedisError

from app.jobs.backoff import retry_delay
from config import Config
from tasks.errors import UnknownTask, is_blip, is_database_blip
from tasks.storage import CountingPriorityStorage

log = logging.getLogger(__name__)

# Queued messages name tasks as "bastion.<name>", e.g. "bastion.keys.validate".
TASK_NAMESPACE = "bastion"

# Priorities: on-demand work (a member's click, an admin's retry) runs before the sweep.
PRIORITY_SWEEP = 10
PRIORITY_DEFAULT = 50
PRIORITY_ON_DEMAND = 100


class FineScheduler(Scheduler):
    """Huey's scheduler, releasing due tasks every SCHEDULER_TICK seconds instead of every second.

    A task waiting for its governor slot is scheduled for that moment; releasing it within a few
    milliseconds keeps calls evenly spaced.
    """

    def __init__(self, huey, stop_flag, interval, periodic):
        super().__init__(huey, stop_flag, interval, periodic)
        self.interval = Config.SCHEDULER_TICK


class BastionConsumer(Consumer):
    """The consumer huey_consumer builds for Bastion's Huey.

    Every stop is graceful: SIGTERM (what systemd, Docker, Kubernetes and honcho send) and SIGINT
    both let running tasks finish, so an SSO refresh in flight has its rotated token stored; a
    second signal of the same kind, or the shutdown timeout, interrupts them.
    """

    scheduler_class = FineScheduler

    def __init__(self, huey, shutdown_timeout=None, **options):
        if shutdown_timeout is None:
            shutdown_timeout = Config.CONSUMER_SHUTDOWN_TIMEOUT
        super().__init__(huey, shutdown_timeout=shutdown_timeout, **options)
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._signal_actions[signum] = (False, True)  # (restart, graceful)


def queued_name(task_class):
    """The name Huey queues a task class under, e.g. "bastion.keys.validate": module and name.

    Huey writes it this way in its registry but offers no public accessor for it; Bastion pins the
    module of every task to TASK_NAMESPACE (_pin_identity), so the name never moves with the code.
    """
    return f"{task_class.__module__}.{task_class.__name__}"


class IndexedTaskWrapper(TaskWrapper):
    """Huey's task wrapper, also kept in the queue's own index of its tasks (BastionHuey.tasks)."""

    def __init__(self, huey, func, *args, **kwargs):
        super().__init__(huey, func, *args, **kwargs)
        huey.tasks[queued_name(self.task_class)] = self


class BastionHuey(PriorityRedisHuey):
    """Huey with priorities, on Redis, with a finer scheduler and queued tasks counted by name.

    It also describes its tasks (name, target, priority names) for app/jobs/monitor.py, which is
    handed the queue rather than importing it. Its tasks are indexed by queued name in ``tasks``
    (through Huey's get_task_wrapper_class hook), since Huey's own registry is private.
    """

    storage_class = CountingPriorityStorage
    priority_names = {PRIORITY_ON_DEMAND: "on demand", PRIORITY_DEFAULT: "default", PRIORITY_SWEEP: "sweep"}

    def __init__(self, *args, **kwargs):
        self.tasks = {}  # queued name -> task wrapper
        super().__init__(*args, **kwargs)
        self.storage.describe = lambda data: self.serializer.deserialize(data).name

    def get_task_wrapper_class(self):
        """Huey's hook for the class that wraps each task: one that indexes it in ``tasks``."""
        return IndexedTaskWrapper

    def create_consumer(self, **options):
        """Used by huey_consumer."""
        return BastionConsumer(self, **options)

    # Called with (raw data, message or None, error) when a queued message cannot become a task:
    # undecodable, or naming a task this version does not know (tasks/signals.py keeps it).
    on_poison = None

    def deserialize_task(self, data):
        """A queued message as a task; a poisoned one is handed to on_poison, then refused."""
        try:
            return super().deserialize_task(data)
        except Exception as exc:
            if self.on_poison is not None:
                self.on_poison(data, self._message_or_none(data), exc)
            raise

    def _message_or_none(self, data):
        """The message in raw queued data, or None when it cannot be decoded at all."""
        try:
            return self.serializer.deserialize(data)
        except Exception:
            return None

    def task_name(self, task):
        """The name a task is registered and queued under, e.g. "bastion.keys.validate"."""
        return queued_name(type(task))

    def waiting(self, task_wrapper):
        """How many runs of one task are queued or scheduled (its own share of the queue)."""
        return self.storage.waiting(queued_name(task_wrapper.task_class))

    def short_name(self, name):
        """ "bastion.keys.validate" -> "keys.validate"."""
        return name.removeprefix(f"{TASK_NAMESPACE}.")

    def target_of(self, task):
        """What a task works on, e.g. "key:42"; the task's short name when it names no target."""
        kind = getattr(type(task), "target_kind", None)
        args = task.args or ()
        if kind and args:
            return f"{kind}:{args[0]}"
        return self.short_name(self.task_name(task))


def make_huey(config=Config):
    """A priority-capable Huey on Redis, named and addressed from the configuration."""
    pool = ConnectionPool.from_url(config.REDIS_URL, socket_timeout=10, socket_connect_timeout=5)
    return BastionHuey(
        config.HUEY_NAME,
        connection_pool=pool,
        immediate=config.HUEY_IMMEDIATE,
        utc=True,
        results=False,  # outcomes go to the database and the dead store, not to Huey's result store
    )


huey = make_huey()

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
    if has_app_context():
        return current_app._get_current_object()
    with _app_lock:
        if _app is None:
            if _app_factory is None:
                raise RuntimeError("no app factory: load tasks through tasks.consumer")
            _app = _app_factory()
            # What start-up built lives as long as the process: keep it out of the collector's
            # full passes, which otherwise stop every worker thread of the process for 100 to 200
            # ms now and then (and the calls that had just passed the rate gate go out late,
            # bunched with the next ones).
            gc.collect()
            gc.freeze()
        return _app


def _pin_identity(fn):
    """Huey identifies a task as module + name; pin the module so moving code never orphans work."""
    fn.__module__ = TASK_NAMESPACE


def database_retry_delay(task, config):
    """Seconds before a task the database (or Redis) failed runs again; None once its retries are
    spent.

    The count lives in Redis by task id, so it survives the task being queued again; while Redis
    itself cannot count (it is what failed), the run counts as a first retry.
    """
    key = f"{TASK_NAMESPACE}:dbretry:{task.id}"
    conn = huey.storage.conn
    try:
        tries = conn.incr(key)
        conn.expire(key, 3600)
    except RedisError:
        tries = 1
    if tries > config["DB_RETRY_ATTEMPTS"]:
        return None
    return retry_delay(tries, config["DB_RETRY_BASE"], config["DB_RETRY_CAP"], jitter=0)


def _in_app_context(fn, wants_task=False):
    """Wrap a task body so each run gets a fresh app context, under a pinned identity.

    A database or a Redis that cannot be reached is waited out: the run is queued again with a
    growing delay instead of failing for good on the first blip (see database_retry_delay). That
    includes the app context's end, whose rollback meets a connection the database just closed.
    """

    @functools.wraps(fn)
    def run_in_app(*args, task=None, **kwargs):
        if wants_task:
            kwargs["task"] = task
        app = _task_app()
        try:
            with app.app_context():
                return fn(*args, **kwargs)
        except Exception as exc:
            if task is None or not is_blip(exc):
                raise
            delay = database_retry_delay(task, app.config)
            if delay is None:
                raise
            store = "the database" if is_database_blip(exc) else "Redis"
            log.warning("task %s: %s failed (%s); again in %.1f s", task.id, store, exc, delay)
            raise RetryTask(delay=delay) from exc

    _pin_identity(run_in_app)
    return run_in_app


def app_task(name, target=None, **task_options):
    """Declare a Huey task with an explicit name that runs inside a fresh app context.

    target names what the first argument is ("key", "user", "grant"), for the dashboard.
    """

    def decorator(fn):
        # Every task gets its Huey task object (for the database retries); only those that asked
        # for it (context=True) see it.
        wants_task = task_options.pop("context", False)
        wrapper = huey.task(name=name, context=True, **task_options)(_in_app_context(fn, wants_task))
        wrapper.task_class.target_kind = target
        return wrapper

    return decorator


def target_of(task):
    """What a task works on, e.g. "key:42"; the task's name when it names no target."""
    return huey.target_of(task)


def worker_name(task=None):
    """Who runs this: host, process, thread (and the task id when given)."""
    name = f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
    return f"{name}:{task.id}" if task is not None else name


def registry_name(task):
    """The name a task is registered and queued under, e.g. "bastion.keys.validate"."""
    return huey.task_name(task)


def requeue(entry):
    """Enqueue a task again from a stored entry (name, args, kwargs, priority).

    UnknownTask when the entry was a message this version cannot run (it can only be discarded).
    """
    if entry.get("raw") is not None:
        raise UnknownTask(f"{entry['name']} was a message this version cannot run; discard it")
    wrapper = huey.tasks.get(entry["name"])
    if wrapper is None:
        raise UnknownTask(f"this version knows no task {entry['name']!r}; discard it")
    task = wrapper.task_class(
        args=tuple(entry["args"]), kwargs=dict(entry.get("kwargs") or {}), priority=entry.get("priority")
    )
    huey.enqueue(task)
    return task


def app_periodic_task(name, schedule, **task_options):
    """Declare a periodic Huey task (the schedule is a huey.crontab) run inside a fresh app context."""

    def decorator(fn):
        return huey.periodic_task(schedule, name=name, **task_options)(_in_app_context(fn))

    return decorator
