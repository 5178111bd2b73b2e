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


def test_what_a_consumer_builds_at_start_up_is_kept_out_of_the_collectors_full_passes(app):
    """A full pass of the garbage collector over everything a process imported and built stops
    every worker thread of the consumer for 100 to 200 ms; calls that had just passed the rate
    gate would then go out late, bunched. The consumer freezes what start-up built."""
    import gc

    import tasks

    gc.unfreeze()
    tasks.set_app_factory(lambda: app)
    try:
        assert tasks._task_app() is app  # outside any app context: the consumer's own app
        assert gc.get_freeze_count() > len(gc.get_objects())  # most objects are out of its passes
    finally:
        gc.unfreeze()
        tasks.set_app_factory(None)
