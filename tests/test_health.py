"""GET /healthz reports the database, Redis and the consumer heartbeat."""

import time

from app.jobs import heartbeat


def test_healthz_is_503_without_a_consumer_heartbeat(client, redis_client, login_as):
    login_as("admin")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["consumer"] == {"ok": False, "heartbeat_age_s": None, "max_age_s": 150}


def test_anonymous_callers_learn_only_ok_or_not_per_part(client, redis_client, login_as):
    body = client.get("/healthz").get_json()
    assert body == {
        "ok": False,
        "web": {"ok": True},
        "database": {"ok": True},
        "redis": {"ok": True},
        "consumer": {"ok": False},
    }
    login_as("member")
    assert "version" not in client.get("/healthz").get_json()["web"]  # members are not admins


def test_the_metrics_token_shows_the_details(app, client, redis_client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me")
    assert "version" not in client.get("/healthz", headers={"Authorization": "Bearer "}).get_json()["web"]
    assert "version" not in client.get("/healthz", headers={"Authorization": "Bearer no"}).get_json()["web"]
    body = client.get("/healthz", headers={"Authorization": "Bearer scrape-me"}).get_json()
    assert body["web"]["version"] and body["consumer"]["max_age_s"] == 150


def test_healthz_is_200_with_a_fresh_heartbeat(client, redis_client, login_as):
    heartbeat.beat(redis_client)
    login_as("admin")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert 0 <= body["consumer"]["heartbeat_age_s"] < 5


def test_healthz_is_503_with_a_stale_heartbeat(client, redis_client, login_as):
    heartbeat.beat(redis_client, now=time.time() - 600)
    login_as("admin")
    body = client.get("/healthz").get_json()
    assert body["consumer"]["ok"] is False
    assert body["consumer"]["heartbeat_age_s"] >= 600


def test_healthz_is_503_when_redis_is_down(suite_config, db):
    from app import create_app
    from tests.support import free_port

    class DeadRedis(suite_config):
        REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    response = create_app(DeadRedis).test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["redis"] == {"ok": False}
    assert body["consumer"]["ok"] is False
    assert body["database"]["ok"] is True
