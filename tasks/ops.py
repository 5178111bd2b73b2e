"""Operational tasks: the consumer heartbeat."""

from huey import crontab

from app.jobs import heartbeat
from app.jobs.connection import get_redis
from tasks import app_periodic_task


@app_periodic_task(name="ops.heartbeat", schedule=crontab(minute="*"))
def beat():
    """Record every minute that a consumer is alive and taking work."""
    heartbeat.beat(get_redis())
