"""What a piece of background work says its task should do next: the one result type that the key
checks, syncs, notices, reminders and member-list readings return, and that tasks/ carries out in
one place (tasks.follow).

Logic never queues anything itself (see the import contracts): it returns an Outcome, and the task
that called it runs again, records a failed attempt or gives up accordingly.
"""

from dataclasses import dataclass

# The actions tasks.follow knows; an area may add its own (a reading that needs a fresh token),
# which its task handles before it follows the rest.
DONE = "done"  # the work is done
NOTHING = "nothing"  # there was nothing to do
GONE = "gone"  # what the task was about no longer exists
WAIT = "wait"  # not a failure: run again after delay, with the same attempt
RETRY = "retry"  # a failure: run again after delay, as the next attempt
GIVE_UP = "give_up"  # a failure for good: the task fails and goes to the dead store
RUNS_AGAIN = (WAIT, RETRY)


@dataclass
class Outcome:
    """What a task does next (one of the actions above), after how many seconds, and why."""

    action: str
    delay: float = 0.0
    message: str = ""

    @property
    def runs_again(self):
        """True when the task runs again (it waits or tries again)."""
        return self.action in RUNS_AGAIN
