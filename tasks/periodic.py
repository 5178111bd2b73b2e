"""Periodic work, declared as data: each entry enqueues a named task on a schedule."""

from huey import crontab

from tasks import compliance, corps, huey, keys, ops, services

PERIODIC = [
    # name, schedule, task to enqueue
    ("keys.sweep", crontab(minute="*"), keys.sweep),
    ("chars.affiliation_sweep", crontab(minute="*/5"), corps.affiliation_sweep),
    ("corps.refresh", crontab(minute="7"), corps.refresh),
    ("ops.reap", crontab(minute="*"), ops.reap),
    ("services.expire", crontab(minute="*"), services.expire),
    ("services.resync", crontab(minute="*/5"), services.resync),
    ("ops.prune", crontab(minute="17", hour="3"), ops.prune),
    ("compliance.sweep", crontab(minute="*"), compliance.sweep),
    ("ops.alerts", crontab(minute="*"), ops.check_alerts),
]


def _declare(name, schedule, target):
    def enqueue_it():
        target()

    enqueue_it.__module__ = "bastion"
    enqueue_it.__doc__ = f"Enqueue {name} on schedule."
    return huey.periodic_task(schedule, name=f"periodic.{name}")(enqueue_it)


SCHEDULED = [_declare(*entry) for entry in PERIODIC]
