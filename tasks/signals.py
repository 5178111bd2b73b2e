"""Huey signal handlers and the consumer's upkeep thread: the in-flight registry, the dead store,
throughput counters, process liveness and the reaper."""

import base64
import logging
import threading
import time
import traceback

from huey import signals as S

from app.jobs import counters, deadstore, heartbeat, inflight
from tasks import _task_app, huey, registry_name, requeue, target_of, worker_name
from tasks.history import record_attempt
from tasks.ops import recover_lost_work

log = logging.getLogger(__name__)

UPKEEP_INTERVAL = 5.0
_upkeep_started = threading.Lock()
_upkeep_running = False


def _app():
    return _task_app()


def _redis():
    return _app().extensions["redis"]


_started = {}  # task id -> monotonic start, for durations (a task runs in one thread of one process)


def _attempt(task):
    value = (task.kwargs or {}).get("attempt")
    return value if isinstance(value, int) and value > 0 else 1


@huey.signal(S.SIGNAL_EXECUTING)
def task_started(signal, task):
    """Record the task in the in-flight registry."""
    _started[task.id] = time.monotonic()
    inflight.register(
        _redis(),
        task.id,
        registry_name(task),
        task.args or (),
        task.kwargs or {},
        task.priority,
        target_of(task),
        worker_name(),
    )


@huey.signal(S.SIGNAL_COMPLETE)
def task_done(signal, task):
    """Done: out of the registry, counted with its duration."""
    name = registry_name(task)
    pipe = _redis().pipeline(transaction=False)
    inflight.finish(pipe, task.id, inflight.identity_of(name, task.args or (), task.kwargs or {}))
    counters.count_task(pipe, name, "done", _elapsed(task))
    pipe.execute()


@huey.signal(S.SIGNAL_ERROR)
def task_failed(signal, task, exc=None):
    """Failed: out of the registry; with no retry left, into the dead store."""
    redis = _redis()
    name = registry_name(task)
    seconds = _elapsed(task)
    error = f"{type(exc).__name__}: {exc}"
    final = not task.retries
    pipe = redis.pipeline(transaction=False)
    inflight.finish(pipe, task.id)
    counters.count_task(pipe, name, "failed", seconds)
    if final:
        counters.count_task(pipe, name, "dead")
    pipe.execute()
    record_attempt(task, "dead" if final else "failed", error, _attempt(task), seconds)
    if not final:
        return
    text = "".join(traceback.format_exception(exc)) if exc is not None else ""
    deadstore.add(
        redis,
        name=name,
        args=task.args or (),
        kwargs=task.kwargs or {},
        priority=task.priority,
        target=target_of(task),
        error=error,
        traceback=text,
        attempts=_attempt(task),
        task_id=task.id,
    )
    log.error("task %s %s failed for good: %s", task.id, type(task).__name__, exc)


def keep_poison(data, message, exc):
    """A queued message that cannot become a task goes to the dead store with its raw content.

    It is undecodable, or names a task this version does not know (a deploy half done); the
    dashboard counts it and an admin reads and discards it. It is never retried.
    """
    name = getattr(message, "name", None) or "undecodable message"
    error = f"{type(exc).__name__}: {exc}"
    try:
        redis = _redis()
        deadstore.add(
            redis,
            name=name,
            args=list(getattr(message, "args", None) or ()),
            kwargs=dict(getattr(message, "kwargs", None) or {}),
            priority=getattr(message, "priority", None),
            target=huey.short_name(name),
            error=error,
            traceback="".join(traceback.format_exception(exc)),
            attempts=0,
            task_id=getattr(message, "id", None),
            raw=base64.b64encode(data).decode() if isinstance(data, bytes) else repr(data),
        )
        pipe = redis.pipeline(transaction=False)
        counters.count_task(pipe, name, "dead")
        pipe.execute()
    except Exception:  # Redis away: the message is lost, but the consumer keeps going
        log.exception("could not keep a poisoned message")
    log.error("a queued message could not be run and went to the dead store: %s", error)


huey.on_poison = keep_poison


@huey.signal(S.SIGNAL_RETRYING)
def task_retrying(signal, task):
    """Queued again (the database was away): out of the registry, counted as a failed attempt."""
    pipe = _redis().pipeline(transaction=False)
    inflight.finish(pipe, task.id)
    counters.count_task(pipe, registry_name(task), "failed", _elapsed(task))
    pipe.execute()


@huey.signal(S.SIGNAL_CANCELED, S.SIGNAL_EXPIRED, S.SIGNAL_REVOKED, S.SIGNAL_LOCKED)
def task_dropped(signal, task, *args):
    """Not run: out of the registry."""
    _started.pop(task.id, None)
    inflight.finish(_redis(), task.id)


def _elapsed(task):
    started = _started.pop(task.id, None)
    return None if started is None else time.monotonic() - started


def _upkeep():
    """Keep this process's liveness key fresh and reap tasks of dead workers, every few seconds."""
    while True:
        try:
            with _app().app_context():
                redis = _redis()
                inflight.beat_process(redis)
                heartbeat.beat(redis)
                requeued, dead = inflight.reap(redis, requeue)
                if requeued or dead:
                    log.warning("reaper: requeued %s tasks of dead workers, %s dead", requeued, dead)
                recover_lost_work(redis)
        except Exception:  # Redis down or restarting: try again next round
            log.warning("upkeep failed", exc_info=True)
        time.sleep(UPKEEP_INTERVAL)


@huey.on_startup()
def start_upkeep():
    """Beat at once and start the upkeep thread (once per consumer process)."""
    global _upkeep_running
    with _upkeep_started:
        if _upkeep_running:
            return
        _upkeep_running = True
    threading.Thread(target=_upkeep, name="bastion-upkeep", daemon=True).start()
