"""/metrics: Prometheus text behind a bearer token, with figures from Redis and the database."""

from prometheus_client.parser import text_string_to_metric_families

from app.jobs import counters, deadstore, redis_keys
from app.jobs.setup import get_governor

TOKEN = "scrape-me-please"


def _samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(app, client, redis_client):
    app.config["METRICS_TOKEN"] = ""
    try:
        off = client.get("/metrics")
        assert off.status_code == 404 and "METRICS_TOKEN" in off.get_data(as_text=True)
        app.config["METRICS_TOKEN"] = TOKEN
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    finally:
        app.config["METRICS_TOKEN"] = ""


def test_metrics_report_queue_tasks_upstreams_governors_and_keys(app, client, redis_client, key_factory):
    from tasks.keys import validate

    key_factory(status="valid")
    validate(1)
    deadstore.add(redis_client, "bastion.keys.validate", [2], {}, 100, "key:2", "GaveUp: x", "", 5)
    pipe = redis_client.pipeline()
    counters.count_task(pipe, "bastion.keys.validate", "done", 0.25)
    counters.count_task(pipe, "bastion.keys.validate", "done", 0.75)
    counters.count_task(pipe, "bastion.keys.validate", "failed", 1.0)
    pipe.execute()
    for status in (200, 429):  # as a consumer's governor would have counted them
        redis_client.hincrby(redis_keys.UPSTREAM_STATS, counters.call_field("sso", status), 1)
    get_governor().record("esi", "ok", status=200)  # the governor counts calls as it records them
    app.config["METRICS_TOKEN"] = TOKEN
    try:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        app.config["METRICS_TOKEN"] = ""
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    found = _samples(response.get_data(as_text=True))
    assert found[("bastion_queue_tasks", (("where", "pending"),))] == 1
    assert found[("bastion_queue_tasks", (("where", "dead"),))] == 1
    assert found[("bastion_queue_pending_tasks", (("priority", "0"), ("task", "keys.validate")))] == 1
    assert found[("bastion_tasks_total", (("outcome", "done"), ("task", "keys.validate")))] == 2
    assert found[("bastion_tasks_total", (("outcome", "failed"), ("task", "keys.validate")))] == 1
    assert found[("bastion_task_duration_seconds_count", (("task", "keys.validate"),))] == 3
    assert found[("bastion_task_duration_seconds_sum", (("task", "keys.validate"),))] == 2.0
    assert found[("bastion_upstream_calls_total", (("status", "429"), ("upstream", "sso")))] == 1
    assert found[("bastion_upstream_calls_total", (("status", "200"), ("upstream", "esi")))] == 1
    assert found[("bastion_governor_state", (("state", "ok"), ("upstream", "sso")))] == 1
    assert ("bastion_governor_rate_per_second", (("upstream", "esi"),)) in found
    assert found[("bastion_keys", (("status", "valid"),))] == 1
