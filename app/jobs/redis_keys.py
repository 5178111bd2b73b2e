"""Names of everything Bastion keeps in Redis, in one place."""

PREFIX = "bastion"


def lock(name):
    """A per-target lock, e.g. lock("key:42")."""
    return f"{PREFIX}:lock:{name}"


LOCK_INDEX = f"{PREFIX}:locks"
PAUSED = f"{PREFIX}:paused"
INFLIGHT = f"{PREFIX}:inflight"
DEAD = f"{PREFIX}:dead"
DEAD_INDEX = f"{PREFIX}:dead:index"
AFFILIATION_PENDING = f"{PREFIX}:affiliation:pending"
# The ids a round works on, and its lease: a round that dies leaves them for the upkeep to put back.
AFFILIATION_PROCESSING = f"{PREFIX}:affiliation:processing"
AFFILIATION_LEASE = f"{PREFIX}:affiliation:lease"
# The incident guard: sliding windows of events per kind (all, and those that remove access), its
# state (a hash: "<kind>:since", "<kind>:detail", "<kind>:applied_until"), and characters whose
# affiliation it holds.
GUARD_STATE = f"{PREFIX}:guard:state"
GUARD_HELD_CHARACTERS = f"{PREFIX}:guard:held_characters"


def guard_events(kind, removing):
    """The sliding window of one kind of guarded event (all of them, or those that remove access)."""
    return f"{PREFIX}:guard:{kind}:{'removing' if removing else 'all'}"


def rotated_token(key_id):
    """A key's refresh token as SSO rotated it, encrypted, kept until the database has it."""
    return f"{PREFIX}:key:{key_id}:rotated"


# Set once by the first consumer to see this Redis; its absence means Redis lost its data.
EPOCH = f"{PREFIX}:epoch"


def marker(task_name, target):
    """The enqueue marker of a task for one target."""
    return f"{PREFIX}:queued:{task_name}:{target}"


def governor(upstream):
    """The shared state of one upstream's governor."""
    return f"{PREFIX}:gov:{upstream}"


def governor_log(upstream, kind):
    """A sliding log of permits or successes of one upstream."""
    return f"{PREFIX}:gov:{upstream}:{kind}"


GOVERNOR_INDEX = f"{PREFIX}:gov:index"


WORKERS = f"{PREFIX}:workers"


def worker(worker_id):
    """The liveness key of one consumer process."""
    return f"{PREFIX}:worker:{worker_id}"


TASK_STATS = f"{PREFIX}:stats:tasks"
UPSTREAM_STATS = f"{PREFIX}:stats:upstream"


def throughput(minute):
    """Tasks done and failed in one minute (minutes since the epoch)."""
    return f"{PREFIX}:throughput:{minute}"


def revalidation(corporation_id):
    """When a director's "Re-validate all" of a corporation started, and how many keys it queued."""
    return f"{PREFIX}:revalidate:{corporation_id}"


def tracking_access(key_id):
    """A tracking token's current access token (encrypted), kept until shortly before it expires."""
    return f"{PREFIX}:tracking:access:{key_id}"


def nudged(corporation_id, user_id):
    """Set while a member was lately sent a reminder to register (one a day at most)."""
    return f"{PREFIX}:nudged:{corporation_id}:{user_id}"


def bucket(group, who):
    """One ESI bucket's state: its group and whose it is ("character:<id>" or "anonymous")."""
    return f"{PREFIX}:bucket:{group}:{who}"


BUCKET_ROUTES = f"{PREFIX}:bucket:routes"  # route -> the group ESI named for it
BUCKET_INDEX = f"{PREFIX}:bucket:index"  # "group|who" scored by the share of tokens left

# Alerts: the conditions active (a hash of JSON), when each was last told, the last delivery.
ALERTS_ACTIVE = f"{PREFIX}:alerts:active"
ALERTS_TOLD = f"{PREFIX}:alerts:told"
ALERTS_DELIVERY = f"{PREFIX}:alerts:delivery"
ALERTS_HEALTHZ = f"{PREFIX}:alerts:healthz"  # /healthz evaluates at most once in a while
