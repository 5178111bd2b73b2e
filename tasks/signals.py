"""Consumer start-up hooks."""

import logging

from tasks import huey

log = logging.getLogger(__name__)


@huey.on_startup()
def announce_consumer():
    """Beat as soon as a worker starts, so /healthz need not wait for the first minute."""
    from app.jobs import heartbeat
    from app.jobs.connection import get_redis
    from tasks import _task_app

    with _task_app().app_context():
        try:
            heartbeat.beat(get_redis())
        except Exception:  # Redis may not be up yet; the periodic beat follows
            log.warning("could not write the start-up heartbeat", exc_info=True)
