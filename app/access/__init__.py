"""Who may use which service, and why: the user's state, the policy, grants by hand, requests and
reconciliation.

One verb for one thing: *reconcile* brings the database in line with the facts (a user's state
from their main character, their grants from state, policy and grants by hand); *sync*
(``app/services/sync.py``) tells an outside system what a grant is now. Nothing here queues work:
functions return what must happen next (``FollowUp``) and their caller, a view or a task, queues it.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class FollowUp:
    """What must happen once a change to access is committed.

    syncs: ids of grants whose outside systems must hear of it; expiries: (grant id, moment) of
    grants to look at again on time (a grant by hand that expires, a grace period that ends);
    messages: ids of notices whose member is also told by direct message now; reminders:
    (notice id, moment) of notices to send again shortly before access ends.
    """

    syncs: list[int] = field(default_factory=list)
    expiries: list[tuple[int, datetime]] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    reminders: list[tuple[int, datetime]] = field(default_factory=list)

    def merge(self, other):
        """This follow-up and another, each sync once."""
        return FollowUp(
            syncs=list(dict.fromkeys(self.syncs + other.syncs)),
            expiries=self.expiries + other.expiries,
            messages=self.messages + other.messages,
            reminders=self.reminders + other.reminders,
        )

    @classmethod
    def of(cls, grants, expiring=None):
        """The follow-up of changed grants (and of a grant by hand that ends at its expiry)."""
        follow_up = cls(syncs=list(dict.fromkeys(g.id for g in grants)))
        if expiring is not None and expiring.expires_at is not None:
            follow_up.expiries.append((expiring.id, expiring.expires_at))
        return follow_up
