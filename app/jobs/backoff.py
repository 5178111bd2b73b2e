"""The power-law backoff every retry in Bastion waits by: base * attempt**2 seconds, capped.

It imports nothing of Bastion's, so the queue itself (tasks/__init__.py) uses it as the areas do.
"""

import random


def retry_delay(attempt, base, cap, jitter=0.25):
    """Seconds before try number attempt + 1: base * attempt**2, capped, plus up to jitter of it more
    at random, so that failures that came together do not come back together."""
    delay = min(cap, base * attempt * attempt)
    return delay * (1 + random.uniform(0, jitter)) if jitter else delay  # noqa: S311
