"""The queue page, its JSON status, `flask queue status` and the actions, against a real Redis."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from app.audit import AuditEntry
from app.jobs import deadstore, inflight, pause
from app.jobs.locks import TargetLock
from app.jobs.models import TaskRecord
from tests.support import csrf_token_from


@pytest.fixture()
def admin(login_as):
    return login_as("admin")


def _dead(redis_client, key_id, error="GaveUp: SSO kept failing"):
    return deadstore.add(
        redis_client,
        name="bastion.keys.validate",
        args=[key_id],
        kwargs={"attempt": 5, "slot": None},
        priority=100,
        target=f"key:{key_id}",
        error=error,
        traceback='Traceback (most recent call last):\n  File "x.py"\nGaveUp: SSO kept failing\n',
        attempts=5,
    )


def _token(client, path="/admin/queue"):
    return csrf_token_from(client.get(path).get_data(as_text=True))


def test_status_reports_queue_tasks_running_work_locks_governors_pause_and_throughput(
    client, runner, admin, redis_client
):
    from app.jobs.setup import get_governor
    from tasks import PRIORITY_ON_DEMAND, PRIORITY_SWEEP, huey
    from tasks.keys import validate

    for key_id in (1, 2, 3):
        validate(key_id, priority=PRIORITY_SWEEP)
    validate(4, priority=PRIORITY_ON_DEMAND)
    later = validate.s(5, priority=PRIORITY_SWEEP)
    later.eta = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=60)
    huey.add_schedule(later)  # what a consumer does with a task whose time has not come
    _dead(redis_client, 6)
    inflight.register(redis_client, "t1", "bastion.keys.validate", [7], {}, 10, "key:7", "host:1:w1")
    inflight.beat_process(redis_client)
    TargetLock(redis_client, "key:7", "host:1:w1", ttl=30).acquire()
    get_governor().permit("sso")
    pause.pause(redis_client, who="alice")

    body = client.get("/admin/queue/status", headers={"Accept": "application/json"}).get_json()

    assert body["queue"] == {"pending": 4, "scheduled": 1, "running": 1, "dead": 1}
    assert body["by_task"] == {
        "keys.validate": {"pending": 4, "by_priority": {"10": 3, "100": 1}, "scheduled": 1}
    }
    assert body["consumer"]["alive"] is True
    assert body["running"][0]["target"] == "key:7"
    assert body["locks"][0]["name"] == "key:7" and body["locks"][0]["owner"] == "host:1:w1"
    assert 0 < body["locks"][0]["ttl_s"] <= 30
    assert body["paused"] is True and body["paused_by"] == "alice"
    sso = body["upstreams"]["sso"]
    assert sso["state"] == "paused"
    for field in ("rate_per_s", "limit_per_s", "error_budget_remaining", "backoff_level", "backoff_until"):
        assert field in sso
    assert len(body["throughput"]) == 60
    assert set(body["throughput"][-1]) == {"minute", "done", "failed"}

    # The command line reads the same monitor.
    text = runner.invoke(args=["queue", "status"])
    assert text.exit_code == 0, text.output
    assert "queue: 4 pending, 1 scheduled, 1 running, 1 dead" in text.output
    assert "PAUSED by alice" in text.output
    assert "keys.validate: 4 pending" in text.output
    as_json = runner.invoke(args=["queue", "status", "--json"])
    assert json.loads(as_json.output)["queue"] == body["queue"]


def test_an_empty_queue_page_says_so(client, admin, redis_client):
    page = client.get("/admin/queue").get_data(as_text=True)
    assert "Nothing waiting." in page
    assert "No dead tasks." in page
    assert "No lock is held." in page
    assert "No consumer is alive" in page
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="sparkline"' in dashboard
    assert "No consumer has been seen in the last hour." in dashboard


def test_dead_tasks_are_paged_and_a_dead_task_page_shows_arguments_traceback_and_history(
    client, admin, redis_client, db
):
    ids = [_dead(redis_client, key_id) for key_id in range(1, 31)]
    db.session.add(
        TaskRecord(task_id="x", name="bastion.keys.validate", target="key:30", outcome="failed", error="boom")
    )
    db.session.commit()
    first = client.get("/admin/queue").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Retry all (30)" in first
    second = client.get("/admin/queue?page=2").get_data(as_text=True)
    assert second.count("data-dead=") == 5
    assert client.get("/admin/queue?page=x").status_code == 200  # a bad page number shows the first page
    page = client.get(f"/admin/queue/dead/{ids[-1]}").get_data(as_text=True)
    main = page[page.find("<main") : page.find("</main")]
    assert "[30]" in main and '"attempt": 5' in main, main
    assert "Traceback (most recent call last)" in page
    assert "boom" in page
    gone = client.get("/admin/queue/dead/nothing-here")
    assert gone.status_code == 302


def test_actions_change_the_queue_and_are_audited(client, admin, redis_client, db):
    from tasks import huey

    first, second, third = (_dead(redis_client, key_id) for key_id in (1, 2, 3))
    token = _token(client)

    assert client.post(f"/admin/queue/dead/{first}/retry", data={"csrf_token": token}).status_code == 302
    assert huey.pending_count() == 1 and deadstore.count(redis_client) == 2
    assert client.post(f"/admin/queue/dead/{second}/discard", data={"csrf_token": token}).status_code == 302
    assert huey.pending_count() == 1 and deadstore.count(redis_client) == 1
    again = client.post(
        f"/admin/queue/dead/{second}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert "no longer in the dead list" in again.get_data(as_text=True)
    client.post("/admin/queue/dead/retry-all", data={"csrf_token": token})
    assert huey.pending_count() == 2 and deadstore.count(redis_client) == 0
    client.post("/admin/queue/pause", data={"csrf_token": token})
    assert pause.is_paused(redis_client)
    client.post("/admin/queue/resume", data={"csrf_token": token})
    assert not pause.is_paused(redis_client)
    client.post("/admin/queue/sweep", data={"csrf_token": token})
    assert huey.pending_count() == 3

    db.session.expire_all()
    entries = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))
    assert [(e.action, e.actor_id) for e in entries] == [
        (name, admin.id)
        for name in ("task.retry", "task.discard", "task.retry_all", "queue.pause", "queue.resume")
        + ("queue.sweep",)
    ]
    retried = db.session.scalars(db.select(TaskRecord).where(TaskRecord.outcome == "retried")).all()
    assert [r.target for r in retried] == ["key:1"]


def test_actions_without_a_csrf_token_change_nothing(client, admin, redis_client, db):
    dead_id = _dead(redis_client, 1)
    for path in (f"/admin/queue/dead/{dead_id}/retry", "/admin/queue/dead/retry-all", "/admin/queue/pause"):
        response = client.post(path, data={})
        assert response.status_code == 400
    assert deadstore.count(redis_client) == 1
    assert not pause.is_paused(redis_client)
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)) == 0


def test_the_running_list_shows_elapsed_time(client, admin, redis_client):
    inflight.register(
        redis_client, "t9", "bastion.access.reconcile", [3], {}, 50, "user:3", "h:2:w", now=time.time() - 75
    )
    panel = client.get("/admin/queue/panel").get_data(as_text=True)
    assert "user:3" in panel and "1 min 15 s" in panel


def test_times_beyond_a_day_show_as_dates(client, admin, redis_client):
    from tasks import huey
    from tasks.keys import validate

    later = validate.s(5)
    eta = later.eta = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=800)
    huey.add_schedule(later)
    inflight.register(
        redis_client, "t8", "bastion.keys.validate", [6], {}, 50, "key:6", "h:1:w", now=time.time()
    )
    panel = client.get("/admin/queue/panel").get_data(as_text=True)
    assert f"on {eta.strftime('%Y-%m-%d')}" in panel
    assert " h</td>" not in panel and "in 19200 h" not in panel
