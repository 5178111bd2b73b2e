"""The governor on a real Redis: spacing, known limits, error budget, 429, discovery, 5xx runs, downtime."""

import bisect
import random
from datetime import UTC, datetime

import pytest

from app.eve.client import EveClient
from app.eve.errors import NotFound, RateLimited
from app.jobs import redis_keys
from app.jobs.counters import call_field
from app.jobs.governor import Governor, Settings, downtime_until, parse_limits, parse_window
from app.jobs.governor_lua import PERMIT_ARGS, script_args
from app.jobs.pause import pause, resume
from tests.support import TEST_CLIENT_ID, TEST_CLIENT_SECRET

T0 = 1_800_000_000.0


@pytest.fixture()
def governor(redis_client):
    return Governor(
        redis_client,
        {
            "known": Settings(known_limit=10, safety=1.0, gate_safety=1.0, gate_slack=0.0),
            "found": Settings(initial_rate=10, min_rate=1, step=5, probe=0.2, alpha=0.5),
            "down": Settings(downtime=("11:00", "11:15")),
        },
    )


def test_a_known_limit_spaces_calls_and_reserves_slots(governor):
    answers = [governor.permit("known", now=T0) for _ in range(4)]
    assert [reason for reason, _ in answers] == ["ok"] * 4
    assert [round(wait, 3) for _, wait in answers] == [0.0, 0.1, 0.2, 0.3]
    # A second later the slots are free again.
    assert governor.permit("known", now=T0 + 5) == ("ok", 0.0)


def test_no_slot_is_reserved_beyond_the_horizon(redis_client):
    governor = Governor(
        redis_client, {"x": Settings(known_limit=1, safety=1.0, gate_safety=1.0, horizon=2.0)}
    )
    waits = [governor.permit("x", now=T0) for _ in range(4)]
    assert waits[:3] == [("ok", 0.0), ("ok", 1.0), ("ok", 2.0)]
    assert waits[3][0] == "rate" and waits[3][1] == pytest.approx(1.0)


def test_the_pause_switch_stops_every_upstream(governor, redis_client):
    pause(redis_client)
    assert governor.permit("known", now=T0)[0] == "paused"
    assert governor.gate("found", now=T0)[0] == "paused"
    resume(redis_client)
    assert governor.permit("known", now=T0)[0] == "ok"


def test_429_honours_retry_after(governor):
    governor.record("known", "429", 7, now=T0)
    reason, wait = governor.permit("known", now=T0 + 1)
    assert reason == "backoff" and wait == pytest.approx(6)
    assert governor.permit("known", now=T0 + 7.5)[0] == "ok"
    assert governor.state("known", now=T0 + 1)["backoff_level"] == 1


def test_an_unknown_limit_is_found_from_what_was_served(governor):
    start = governor.state("found", now=T0)["rate_per_s"]
    for i in range(30):  # slow start: +1 per success once the rate is being used
        governor.record("found", "ok", now=T0 + i * 0.01)
    grown = governor.state("found", now=T0)["rate_per_s"]
    assert start + 15 < grown <= start + 30
    # The upstream served 30 calls in the last second, then said 429: the rate drops just under 30.
    governor.record("found", "429", 1, now=T0 + 0.5)
    after = governor.state("found", now=T0 + 0.5)["rate_per_s"]
    assert after == pytest.approx(30 * 0.97, rel=0.01)
    # Near that ceiling it grows only by the small probe step.
    for i in range(10):
        governor.record("found", "ok", now=T0 + 2 + i * 0.01)
    assert governor.state("found", now=T0 + 3)["rate_per_s"] - after < 0.1
    # A second 429 soon after ratchets further down by the power law: level 2 ** -0.5.
    governor.record("found", "429", 1, now=T0 + 3)
    assert governor.state("found", now=T0 + 3)["rate_per_s"] < after * 0.75


def test_a_rate_nobody_uses_does_not_grow(governor):
    start = governor.state("found", now=T0)["rate_per_s"]
    for i in range(30):  # one success a second is far below the rate
        governor.record("found", "ok", now=T0 + i * 1.5)
    assert governor.state("found", now=T0)["rate_per_s"] == start


def test_a_run_of_5xx_backs_off_by_a_power_law(governor):
    for _ in range(5):
        governor.record("known", "5xx", now=T0)
    first = governor.permit("known", now=T0)
    assert first[0] == "backoff" and first[1] == pytest.approx(1.0)
    for _ in range(5):
        governor.record("known", "5xx", now=T0 + 2)
    second = governor.permit("known", now=T0 + 2)
    assert second[0] == "backoff" and second[1] == pytest.approx(4.0)
    governor.record("known", "5xx", now=T0 + 10)  # one failure alone does not back off
    assert governor.permit("known", now=T0 + 10)[0] == "ok"


def test_downtime_is_waited_out():
    at_1105 = datetime(2026, 11, 21, 11, 5, tzinfo=UTC).timestamp()
    assert downtime_until(("11:00", "11:15"), at_1105) == at_1105 + 600
    assert downtime_until(("11:00", "11:15"), at_1105 + 3600) == 0


def test_downtime_stops_permits(governor):
    at_1105 = datetime(2026, 11, 21, 11, 5, tzinfo=UTC).timestamp()
    reason, wait = governor.permit("down", now=at_1105)
    assert reason == "downtime" and wait == pytest.approx(600)
    assert governor.permit("down", now=at_1105 + 900)[0] == "ok"


def test_settings_are_checked():
    assert parse_limits("sso=100, esi=20.5") == {"sso": 100.0, "esi": 20.5}
    with pytest.raises(ValueError, match="name=calls_per_second"):
        parse_limits("sso")
    with pytest.raises(ValueError, match="above zero"):
        parse_limits("sso=0")
    assert parse_window("") is None
    with pytest.raises(ValueError):
        parse_window("11-12")


def test_esi_error_budget_from_real_headers_stops_calls_before_a_420(sandbox, redis_client):
    governor = Governor(redis_client, {"esi": Settings(error_threshold=20)})
    client = EveClient(
        sandbox.url,
        f"{sandbox.url}/esi",
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        user_agent="t",
        on_response=governor.observe,
    )
    sandbox.configure(error_limit=25)
    calls = 0
    while governor.permit("esi")[0] == "ok":
        with pytest.raises(NotFound):
            client.character(1)
        calls += 1
        assert calls < 25, "the governor let the error budget run out"
    reason, wait = governor.permit("esi")
    assert reason == "budget" and wait > 0
    assert calls == 5  # 25 - 5 = 20 errors left: stop there
    assert sandbox.stats()["served_420"] == 0
    assert governor.state("esi")["error_budget_remaining"] == 20


def test_a_real_429_with_retry_after_backs_the_upstream_off(sandbox, redis_client):
    governor = Governor(redis_client, {"sso": Settings()})
    client = EveClient(
        sandbox.url,
        f"{sandbox.url}/esi",
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        user_agent="t",
        on_response=governor.observe,
    )
    sandbox.configure(sso_rate_limit=1)
    with pytest.raises(Exception):  # noqa: B017  (the first call is refused as invalid_grant)
        client.refresh("unknown")
    with pytest.raises(RateLimited):
        client.refresh("unknown")
    reason, wait = governor.permit("sso")
    assert reason == "backoff" and 0 < wait <= 1.0


def test_the_gate_keeps_sent_calls_within_the_rate_in_any_second(governor):
    sent = [governor.gate("known", now=T0 + i * 0.01)[0] for i in range(12)]
    assert sent == ["ok"] * 10 + ["rate"] * 2  # ten a second, however bunched the callers come
    reason, wait = governor.gate("known", now=T0 + 0.5)
    assert reason == "rate" and wait == pytest.approx(0.5)
    assert governor.gate("known", now=T0 + 1.001)[0] == "ok"


def test_calls_reaching_the_upstream_up_to_the_slack_late_keep_every_second_within_the_limit(redis_client):
    def worst_second(slack):
        governor = Governor(
            redis_client,
            {f"s{slack}": Settings(known_limit=10, safety=1.0, gate_safety=1.0, gate_slack=slack)},
        )
        rng, now, arrivals = random.Random(7), T0, []
        while now < T0 + 30:
            reason, wait = governor.gate(f"s{slack}", now=now)
            if reason == "ok":  # it reaches the upstream up to 0.1 s after the gate
                arrivals.append(now + rng.uniform(0, 0.1))
                now += rng.uniform(0, 0.05)
            else:
                now += wait
        arrivals.sort()
        worst = max(bisect.bisect_left(arrivals, at + 1.0) - i for i, at in enumerate(arrivals))
        return worst, len(arrivals) / 30

    worst, rate = worst_second(0.1)
    assert worst <= 10  # the upstream never counts more than its limit in a second
    assert rate >= 10 / 1.1 - 0.5  # and the calls still go at the limit over a second and the slack
    assert worst_second(0.0)[0] > 10  # without the slack, late calls bunch past the limit


def test_a_420_waits_for_the_error_window_to_reset(governor):
    governor.record("known", "420", 30, now=T0)
    reason, wait = governor.permit("known", now=T0 + 1)
    assert reason == "backoff" and wait == pytest.approx(29)
    assert governor.gate("known", now=T0 + 29.5)[0] == "backoff"
    assert governor.permit("known", now=T0 + 30.5)[0] == "ok"
    assert governor.state("known", now=T0 + 1)["backoff_level"] == 1


def test_the_backoff_level_decays_one_step_per_quiet_20_seconds(governor):
    governor.record("known", "429", 1, now=T0)
    governor.record("known", "429", 1, now=T0 + 1)
    assert governor.state("known", now=T0 + 2)["backoff_level"] == 2
    governor.record("known", "ok", now=T0 + 10)  # too soon after the last 429: no decay
    assert governor.state("known", now=T0 + 10)["backoff_level"] == 2
    governor.record("known", "ok", now=T0 + 22)
    assert governor.state("known", now=T0 + 22)["backoff_level"] == 1
    governor.record("known", "ok", now=T0 + 30)  # the decay itself starts the next quiet period
    assert governor.state("known", now=T0 + 30)["backoff_level"] == 1
    governor.record("known", "ok", now=T0 + 43)
    assert governor.state("known", now=T0 + 43)["backoff_level"] == 0


def test_script_arguments_are_named_and_complete():
    values = dict.fromkeys(PERMIT_ARGS, 1)
    assert script_args(PERMIT_ARGS, **values) == [1] * len(PERMIT_ARGS)
    with pytest.raises(TypeError, match="missing \\['now'\\]"):
        script_args(PERMIT_ARGS, **{k: v for k, v in values.items() if k != "now"})
    with pytest.raises(TypeError, match="unexpected \\['nowe'\\]"):
        script_args(PERMIT_ARGS, **values, nowe=1)


def test_what_an_answer_teaches_survives_redis_losing_its_scripts(sandbox, redis_client):
    governor = Governor(redis_client, {"esi": Settings(error_threshold=20)})
    client = EveClient(
        sandbox.url,
        f"{sandbox.url}/esi",
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        user_agent="t",
        on_response=governor.observe,
    )
    with pytest.raises(NotFound):
        client.character(1)
    redis_client.script_flush()  # as after a Redis restart
    with pytest.raises(NotFound):
        client.character(1)
    assert governor.state("esi")["error_budget_remaining"] == 98
    assert redis_client.hget(redis_keys.UPSTREAM_STATS, call_field("esi", 404)) == "2"  # both counted
