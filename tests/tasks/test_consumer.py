"""A real consumer process takes work from the queue and proves it is alive through the heartbeat."""

from app.jobs import heartbeat
from tests.support import wait_for


def test_consumer_heartbeat_makes_healthz_green(client, redis_client, consumer):
    assert client.get("/healthz").status_code == 503
    process = consumer()
    wait_for(
        lambda: client.get("/healthz").status_code == 200,
        timeout=30,
        message=f"a healthy /healthz; consumer log:\n{process.log()}",
    )


def test_consumer_runs_an_enqueued_heartbeat_task(client, redis_client, consumer):
    from tasks import ops

    process = consumer(periodic=False)
    wait_for(
        lambda: heartbeat.age_seconds(redis_client) is not None,
        timeout=30,
        message=f"the start-up heartbeat; consumer log:\n{process.log()}",
    )
    redis_client.delete(heartbeat.HEARTBEAT_KEY)
    ops.beat()  # enqueues the task; only the consumer can run it
    wait_for(
        lambda: heartbeat.age_seconds(redis_client) is not None,
        timeout=30,
        message=f"the enqueued heartbeat to run; consumer log:\n{process.log()}",
    )
    assert "bastion.ops.heartbeat" in process.log()
