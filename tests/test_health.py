"""GET /healthz reports the database, Redis and the consumer heartbeat."""

import time

from app.jobs import heartbeat


def test_healthz_is_503_without_a_consumer_heartbeat(client, redis_client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["consumer"] == {"ok": False, "heartbeat_age_s": None, "max_age_s": 150}


def test_healthz_is_200_with_a_fresh_heartbeat(client, redis_client):
    heartbeat.beat(redis_client)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert 0 <= body["consumer"]["heartbeat_age_s"] < 5


def test_healthz_is_503_with_a_stale_heartbeat(client, redis_client):
    heartbeat.beat(redis_client, now=time.time() - 600)
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
    assert body["redis"]["ok"] is False
    assert body["consumer"]["ok"] is False
    assert body["database"]["ok"] is True
