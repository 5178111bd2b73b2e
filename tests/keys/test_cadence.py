"""When keys are checked next: the interval with jitter, never inside EVE's downtime; power-law retries."""

from datetime import datetime

from app.jobs.backoff import retry_delay
from app.keys.cadence import next_check

CONFIG = {"KEY_CHECK_INTERVAL": 4 * 3600, "CHECK_JITTER": 0.1, "EVE_DOWNTIME": "11:00-11:15"}


def test_the_next_check_is_one_interval_away_give_or_take_the_jitter():
    now = datetime(2026, 11, 21, 1, 0)
    moments = [next_check(CONFIG, now) for _ in range(200)]
    hours = [(m - now).total_seconds() / 3600 for m in moments]
    assert all(3.6 <= h <= 4.4 for h in hours)
    assert max(hours) - min(hours) > 0.2  # spread, not all at once


def test_a_check_due_inside_the_downtime_moves_after_it():
    now = datetime(2026, 11, 21, 7, 5)  # four hours later is 11:05, inside the downtime
    config = {**CONFIG, "CHECK_JITTER": 0.0}
    moment = next_check(config, now)
    assert datetime(2026, 11, 21, 11, 15) <= moment <= datetime(2026, 11, 21, 11, 20)


def test_retries_back_off_by_a_power_law_with_jitter_and_a_cap():
    assert 2.0 <= retry_delay(1, 2.0, 300) <= 2.5
    assert 18.0 <= retry_delay(3, 2.0, 300) <= 22.5
    assert 300 <= retry_delay(50, 2.0, 300) <= 375
