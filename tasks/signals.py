"""Huey signal handlers and the consumer's upkeep thread: the in-flight registry, the dead store,
throughput counters, process liveness and the reaper."""

import logging
import threading
import time
import traceback

from huey import signals as S

from tasks import huey, registry_name, requeue, worker_name

log = logging.getLogger(__name__)

UPKEEP_INTERVAL = 5.0
THROUGHPUT_TTL = 2 * 3600
_upkeep_started = threading.Lock()
_upkeep_running = False


def _app():
    from tasks import _task_app

    return _task_app()


def _redis():
    return _app().extensions["redis"]


def _target(task):
    args = task.args or ()
    return f"{type(task).__name__}:{args[0]}" if args else type(task).__name__


def _count(pipe, outcome):
    """Add to this minute's throughput counter (in the caller's pipeline)."""
    from app.jobs import keys

    key = keys.throughput(int(time.time() // 60))
    pipe.hincrby(key, outcome, 1)
    pipe.expire(key, THROUGHPUT_TTL)


@huey.signal(S.SIGNAL_EXECUTING)
def task_started(signal, task):
    """Record the task in the in-flight registry."""
    from app.jobs import inflight

    inflight.register(
        _redis(),
        task.id,
        registry_name(task),
        task.args or (),
        task.kwargs or {},
        task.priority,
        _target(task),
        worker_name(),
    )


@huey.signal(S.SIGNAL_COMPLETE)
def task_done(signal, task):
    """Done: out of the registry, counted."""
    from app.jobs import inflight

    pipe = _redis().pipeline(transaction=False)
    inflight.finish(
        pipe, task.id, inflight.identity_of(registry_name(task), task.args or (), task.kwargs or {})
    )
    _count(pipe, "done")
    pipe.execute()


@huey.signal(S.SIGNAL_ERROR)
def task_failed(signal, task, exc=None):
    """Failed: out of the registry; with no retry left, into the dead store."""
    from app.jobs import deadstore, inflight

    redis = _redis()
    pipe = redis.pipeline(transaction=False)
    inflight.finish(pipe, task.id)
    _count(pipe, "failed")
    pipe.execute()
    if task.retries:
        return
    kwargs = task.kwargs or {}
    attempts = kwargs.get("attempt", 1) if isinstance(kwargs.get("attempt"), int) else 1
    text = "".join(traceback.format_exception(exc)) if exc is not None else ""
    deadstore.add(
        redis,
        name=registry_name(task),
        args=task.args or (),
        kwargs=kwargs,
        priority=task.priority,
        target=_target(task),
        error=f"{type(exc).__name__}: {exc}",
        traceback=text,
        attempts=attempts,
        task_id=task.id,
    )
    log.error("task %s %s failed for good: %s", task.id, type(task).__name__, exc)


@huey.signal(S.SIGNAL_CANCELED, S.SIGNAL_EXPIRED, S.SIGNAL_REVOKED, S.SIGNAL_LOCKED)
def task_dropped(signal, task, *args):
    """Not run: out of the registry."""
    from app.jobs import inflight

    inflight.finish(_redis(), task.id)


def _upkeep():
    """Keep this process's liveness key fresh and reap tasks of dead workers, every few seconds."""
    from app.jobs import heartbeat, inflight

    while True:
        try:
            with _app().app_context():
                redis = _redis()
                inflight.beat_process(redis)
                heartbeat.beat(redis)
                requeued, dead = inflight.reap(redis, requeue)
                if requeued or dead:
                    log.warning("reaper: requeued %s tasks of dead workers, %s dead", requeued, dead)
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
