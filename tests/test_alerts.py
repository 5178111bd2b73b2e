"""Alerts reach admins through a real SMTP server (aiosmtpd) and the sandbox's Discord channel
webhook: once when a condition starts, once when it ends, never a flood; a channel that fails is
shown and retried; a missing consumer is told through /healthz."""

import time

import pytest

from app import alerts
from app.jobs import heartbeat, redis_keys
from tests.support import csrf_token_from, wait_for


def test_nothing_is_evaluated_while_no_channel_is_set_up(app, db, redis_client):
    from app.access import guard

    guard._open("verdicts", "held", time.time())
    assert alerts.evaluate(alerts.send) == []
    assert not redis_client.exists(redis_keys.ALERTS_ACTIVE)  # told once a channel is set up
    guard._close("verdicts", "normal")


def test_the_guard_is_told_once_when_it_opens_and_once_when_it_closes(app, db, alerting, redis_client):
    from app.access import guard

    posted, smtp, _ = alerting
    assert alerts.evaluate(alerts.send) == []  # nothing is wrong
    guard._open("verdicts", "12 key verdicts in 10 min, 40 % of 30", time.time())
    told = alerts.evaluate(alerts.send)
    assert len(told) == 1 and "incident guard opened for keys turning invalid" in told[0][1]
    assert len(posted()) == 1 and "12 key verdicts" in posted()[0]
    assert len(smtp.messages) == 1 and "To: ops@example.org, lead@example.org" in smtp.messages[0]
    assert "Subject: Bastion alert: The incident guard opened" in smtp.messages[0]
    assert alerts.evaluate(alerts.send) == []  # still open: not told again
    guard._close("verdicts", "the re-checks look normal")
    told = alerts.evaluate(alerts.send)
    assert len(told) == 1 and told[0][0].startswith("Bastion: over: The incident guard opened")
    assert len(posted()) == 2 and len(smtp.messages) == 2
    # It opens and closes again within the quiet period: neither is told.
    guard._open("verdicts", "again", time.time())
    assert alerts.evaluate(alerts.send) == []
    guard._close("verdicts", "normal")
    assert alerts.evaluate(alerts.send) == []
    assert len(posted()) == 2 and alerts.delivery()["sent_at"] > 0


def test_many_conditions_at_once_go_as_one_digest(app, db, alerting, redis_client, monkeypatch):
    from app.access import guard
    from app.jobs import deadstore

    posted, smtp, _ = alerting
    monkeypatch.setitem(app.config, "ALERT_BACKOFF_S", 0)
    redis_client.delete(heartbeat.HEARTBEAT_KEY)  # no consumer
    guard._open("removals", "40 removals in 10 min", time.time())
    deadstore.add(redis_client, "bastion.keys.validate", [7], {}, 10, "key:7", "GaveUp: no", "", 6)
    redis_client.sadd(redis_keys.GOVERNOR_INDEX, "esi")
    redis_client.hset(redis_keys.governor("esi"), mapping={"backoff_until": time.time() + 600, "level": 3})
    told = alerts.evaluate(alerts.send)
    assert len(told) == 1 and told[0][0] == "Bastion: 4 alerts started, 0 ended"
    text = posted()[0]
    for said in (
        "incident guard opened for members losing a grant",
        "1 dead task",
        "esi is backed off",
        "No consumer is alive",
    ):
        assert said in text
    assert len(smtp.messages) == 1


def test_a_channel_that_fails_is_shown_and_the_other_still_delivers(app, db, alerting, sandbox, monkeypatch):
    posted, smtp, _ = alerting
    monkeypatch.setitem(app.config, "ALERT_WEBHOOK_URL", f"{sandbox.url}/discord/api/webhooks/1/wrong")
    with pytest.raises(alerts.DeliveryFailed, match="answered 404"):
        alerts.send("Bastion alert: test", "a test")
    assert len(smtp.messages) == 1  # the mail went
    failed = alerts.delivery()
    assert "answered 404" in failed["error"] and failed["failed_at"] > 0
    monkeypatch.setitem(app.config, "ALERT_WEBHOOK_URL", "http://10.1.2.3/hook")
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    with pytest.raises(alerts.DeliveryFailed, match="private address"):
        alerts.send("Bastion alert: test", "a test")


def test_healthz_tells_that_no_consumer_is_alive(app, client, db, alerting, redis_client):
    posted, smtp, _ = alerting
    redis_client.delete(heartbeat.HEARTBEAT_KEY)
    assert client.get("/healthz").status_code == 503
    wait_for(lambda: posted(), timeout=15, message="the alert posted from the web process")
    assert "No consumer is alive" in posted()[0]
    assert client.get("/healthz").status_code == 503  # asked again within the minute: not evaluated
    assert len(posted()) == 1


def test_a_test_alert_from_the_dashboard_is_delivered_by_a_consumer(
    app, db, client, login_as, alerting, consumer
):
    posted, smtp, env = alerting
    consumer(periodic=False, extra_env=env)
    login_as("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert "127.0.0.1" in page and "ops@example.org, lead@example.org" in page
    answer = client.post("/admin/alerts/test", data={"csrf_token": csrf_token_from(page)})
    assert answer.status_code == 302
    wait_for(lambda: posted() and smtp.messages, timeout=30, message="the test alert")
    assert "A test alert, sent by" in posted()[0] and "Subject: Bastion: test alert" in smtp.messages[0]
