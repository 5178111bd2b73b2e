"""A real browser watches the live queue page while real consumers work against the sandbox."""

from pathlib import Path

from app.jobs import deadstore, inflight, redis_keys
from app.keys.models import Key
from tests.support import wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"
FAIL_FAST = {"VALIDATE_MAX_ATTEMPTS": "2", "RETRY_BASE": "0.2"}


def _sign_in(page, make_user):
    make_user(role="admin", username="opsadmin", password=PASSWORD)
    page.goto("/login?next=/admin/queue")
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill("opsadmin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/queue")


def _status(db, key_id):
    db.session.expire_all()
    status = db.session.get(Key, key_id).status
    db.session.commit()
    return status


def _refreshes(sandbox):
    return sandbox.stats()["refresh_calls"]


def _panel_refreshes(page, times=2):
    """Wait until the live panel has been redrawn from the server this many more times."""
    for _ in range(times):
        before = page.get_by_test_id("pending").evaluate("e => e.closest('[data-live]').dataset.generated")
        page.wait_for_function(
            "before => document.querySelector('[data-live]').dataset.generated !== before", arg=before
        )


def test_dead_task_retry_retry_all_and_pause_from_the_live_page(
    page, make_user, db, sandbox, consumer, key_factory, redis_client
):
    from tasks import PRIORITY_ON_DEMAND
    from tasks.keys import validate

    consumer(workers=4, periodic=False, extra_env=FAIL_FAST)
    # A consumer that finds Redis without an epoch sweeps every due key once: let that happen
    # before the keys of this test exist, or the sweep checks them a second time.
    wait_for(lambda: redis_client.exists(redis_keys.EPOCH), timeout=30, message="the consumer's first upkeep")
    _sign_in(page, make_user)
    page.get_by_text("No dead tasks.").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "queue-empty.png"), full_page=True)

    # A check fails for good while SSO answers 5xx; the dead row shows up without a reload.
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0)
    key_id, _, _ = key_factory()
    validate(key_id, priority=PRIORITY_ON_DEMAND)
    wait_for(lambda: deadstore.count(redis_client) == 1, timeout=30, message="the check to fail for good")
    row = page.locator(f'[data-dead][data-target="key:{key_id}"]')
    row.wait_for(timeout=2_000)
    assert "GaveUp" in row.inner_text()
    name = db.session.get(Key, key_id).character.name
    assert row.get_by_test_id("dead-target").inner_text() == f"key {key_id}, {name}"
    page.screenshot(path=str(ARTIFACTS / "queue-dead-task.png"), full_page=True)
    # Its page names the key and shows every attempt: the one tried again later, and the last.
    row.get_by_role("link").click()
    page.get_by_test_id("history").wait_for()
    assert page.get_by_test_id("dead-target").first.inner_text() == f"key {key_id}, {name}"
    attempts = page.get_by_test_id("history").locator("tbody tr")
    assert attempts.count() == 2
    assert "tried again later" in attempts.nth(1).inner_text() and "dead" in attempts.nth(0).inner_text()
    page.go_back()

    # The fault is cleared; one click on Retry runs it again, it succeeds and leaves the list.
    sandbox.configure(sso_fault_rate=0.0)
    row.get_by_role("button", name="Retry").click()
    page.get_by_text("is queued again").wait_for()
    wait_for(lambda: _status(db, key_id) == "valid", timeout=30, message="the retried check to pass")
    assert page.locator(f'[data-dead][data-target="key:{key_id}"]').count() == 0
    page.get_by_text("No dead tasks.").wait_for()

    # Two more fail; Retry all asks first, showing the count, and does nothing when refused.
    sandbox.configure(sso_fault_rate=1.0)
    others = [key_factory()[0] for _ in range(2)]
    for other in others:
        validate(other, priority=PRIORITY_ON_DEMAND)
    wait_for(lambda: deadstore.count(redis_client) == 2, timeout=30, message="two checks to fail for good")
    retry_all = page.get_by_test_id("retry-all")
    retry_all.wait_for(timeout=2_000)
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    retry_all.click()
    wait_for(lambda: questions, timeout=5, message="the confirmation")
    assert questions == ["Retry all 2 dead tasks? Each runs again with its arguments."]
    assert deadstore.count(redis_client) == 2
    sandbox.configure(sso_fault_rate=0.0)
    page.once("dialog", lambda dialog: dialog.accept())
    retry_all.click()
    page.get_by_text("2 dead tasks queued again.").wait_for()
    wait_for(
        lambda: all(_status(db, other) == "valid" for other in others), timeout=30, message="both to pass"
    )

    # Pause: nothing goes upstream, not even a check asked for now; resume and it goes through.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("pause").click()
    page.get_by_test_id("paused").wait_for()
    wait_for(lambda: not redis_client.hlen(redis_keys.INFLIGHT), timeout=10, message="running work to settle")
    before = _refreshes(sandbox)
    redis_client.hset(redis_keys.governor("sso"), "tat", "0")
    validate(key_id, priority=PRIORITY_ON_DEMAND)
    wait_for(
        lambda: _scheduled_or_idle(redis_client), timeout=15, message="the check to wait for the pause to end"
    )
    _panel_refreshes(page, times=2)
    assert f"key {key_id}, " in page.get_by_test_id("scheduled-list").inner_text()
    assert _refreshes(sandbox) == before
    page.get_by_test_id("resume").click()
    page.get_by_test_id("running-state").wait_for()
    wait_for(lambda: _refreshes(sandbox) > before, timeout=30, message="calls to resume")
    wait_for(lambda: _idle(redis_client), timeout=30, message="the queue to drain")
    assert _status(db, key_id) == "valid"


def _scheduled_or_idle(redis_client):
    from tasks import huey

    return (
        huey.pending_count() == 0
        and huey.scheduled_count() >= 1
        and not redis_client.hlen(redis_keys.INFLIGHT)
    )


def _idle(redis_client):
    from tasks import huey

    return (
        huey.pending_count() == 0
        and huey.scheduled_count() == 0
        and not redis_client.hlen(redis_keys.INFLIGHT)
    )


def test_the_queue_page_under_load(page, make_user, redis_client):
    """Thousands waiting, dead tasks, running work, locks and a throttled upstream, drawn legibly."""
    import math
    import time

    from app.jobs import counters, heartbeat
    from app.jobs.locks import TargetLock
    from tasks import PRIORITY_ON_DEMAND, PRIORITY_SWEEP, huey
    from tasks.keys import validate

    pipe = redis_client.pipeline(transaction=False)
    now = time.time()
    for minute in range(60):
        for _ in range(int(40 + 30 * math.sin(minute / 6))):
            counters.count_task(pipe, "bastion.keys.validate", "done", 0.2, now=now - minute * 60)
        if minute % 17 == 3:
            counters.count_task(pipe, "bastion.keys.validate", "failed", 0.2, now=now - minute * 60)
    pipe.execute()
    for key_id in range(1, 1501):
        validate(key_id, priority=PRIORITY_SWEEP)
    for key_id in range(2001, 2021):
        validate(key_id, priority=PRIORITY_ON_DEMAND)
    for key_id in range(1, 41):
        deadstore.add(
            redis_client,
            "bastion.keys.validate",
            [key_id],
            {"attempt": 6},
            10,
            f"key:{key_id}",
            "GaveUp: SSO answered 502 six times",
            "",
            6,
        )
    inflight.beat_process(redis_client)
    heartbeat.beat(redis_client)
    for n in range(6):
        target = f"key:{3000 + n}"
        inflight.register(
            redis_client,
            f"t{n}",
            "bastion.keys.validate",
            [3000 + n],
            {},
            10,
            target,
            f"{inflight.process_id()}:Worker-{n}",
            now=now - n * 0.7,
        )
        TargetLock(redis_client, target, f"{inflight.process_id()}:Worker-{n}", ttl=60).acquire()
    redis_client.hset(redis_keys.governor("esi"), mapping={"error_remain": 14, "error_reset_at": now + 38})
    _sign_in(page, make_user)
    assert page.get_by_test_id("pending").inner_text() == str(huey.pending_count()) == "1520"
    assert page.get_by_test_id("dead-count").inner_text() == "40"
    assert "Page 1 of 2" in page.get_by_test_id("dead").inner_text()
    assert page.locator('[data-upstream="esi"]').get_by_text("throttled").is_visible()
    page.screenshot(path=str(ARTIFACTS / "queue-under-load.png"), full_page=True)
    page.goto("/admin/")
    page.get_by_test_id("sparkline").wait_for()
    page.screenshot(path=str(ARTIFACTS / "dashboard-under-load.png"), full_page=True)
