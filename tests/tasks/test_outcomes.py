"""tasks.follow: one way for every task to carry out what its body's outcome says."""

import pytest

from app.jobs.models import TaskRecord
from app.jobs.outcome import Outcome
from tasks.errors import GaveUp
from tasks.notices import message
from tasks.outcomes import follow


class Calls:
    """Records what follow asked of the task: again(attempt, outcome) and settled(outcome)."""

    def __init__(self):
        self.again, self.settled = [], []

    def run(self, outcome, attempt=3):
        return follow(
            message.s(7),
            outcome,
            attempt,
            lambda a, o: self.again.append((a, o.delay)),
            self.settled.append,
        )


def _history(db):
    return [(r.outcome, r.attempt, r.error) for r in db.session.scalars(db.select(TaskRecord))]


def test_a_wait_runs_the_same_attempt_again_and_is_no_failure(db):
    calls = Calls()
    assert calls.run(Outcome("wait", delay=4.0, message="slot")) == "wait"
    assert calls.again == [(3, 4.0)] and calls.settled == []
    assert _history(db) == []


def test_a_retry_is_kept_in_the_history_and_runs_the_next_attempt(db):
    calls = Calls()
    outcome = Outcome("retry", delay=8.0, message="SSO answered 502")
    assert calls.run(outcome) == "retry"
    assert calls.again == [(4, 8.0)] and calls.settled == [outcome]
    assert _history(db) == [("failed", 3, "tried again later: SSO answered 502")]


def test_giving_up_settles_first_then_fails_the_task_for_the_dead_store(db):
    calls = Calls()
    outcome = Outcome("give_up", message="gave up after 6 attempts")
    with pytest.raises(GaveUp, match="gave up after 6 attempts"):
        calls.run(outcome)
    assert calls.again == [] and calls.settled == [outcome]


@pytest.mark.parametrize("action", ["done", "nothing", "gone"])
def test_the_end_of_the_work_settles_and_runs_nothing_again(db, action):
    calls = Calls()
    assert calls.run(Outcome(action)) == action
    assert calls.again == [] and len(calls.settled) == 1
