"""The governor: one per upstream, shared by every worker through Redis, answering "may I call now?".

- Calls are spaced (GCRA): a permit reserves the next free slot, one every 1/rate seconds, and
  answers how long until it; the caller runs its call at that slot (a task reschedules itself).
- Known limits ("at most R calls a second") use R times a safety factor as the rate.
- Right before a call goes out, gate() keeps the calls actually sent within the rate in every
  one-second window, whatever delays the callers met on the way to their slots; for a known
  limit it counts each second's calls over a second and a slack, so calls reaching the upstream
  up to the slack late (a busy machine) still leave every second of the upstream's within it.
- Unknown limits are found: the rate doubles per second until the first 429, then grows by a
  step per second while well under the ceiling (the rate served when the last 429 came) and by a
  small probe near it; a 429 sets the rate just under the rate that was actually served in the
  last second, ratcheted down by a power law of the backoff level (rate * level ** -alpha).
- 429 honours Retry-After; 420 waits for the error window to reset; a run of 5xx or timeouts
  backs off for base * level^2 seconds (capped); EVE's daily downtime is waited out.
- ESI's error budget (X-ESI-Error-Limit-Remain / -Reset) is read from every answer, and calls stop
  while it is at or below a threshold, so Bastion never causes a 420.
- permit() never sleeps: it answers how many seconds to wait.
"""

import contextlib
import time
from datetime import UTC, datetime, timedelta

from app.http import header_number
from app.jobs import redis_keys
from app.jobs.buckets import Buckets
from app.jobs.counters import call_field
from app.jobs.governor_lua import OBSERVE_ARGS, OBSERVE_LUA, PERMIT_ARGS, PERMIT_LUA, script_args
from app.jobs.rounds import Batch, later


class Settings:
    """How one upstream is governed."""

    def __init__(
        self,
        known_limit=None,
        initial_rate=20.0,
        min_rate=0.5,
        max_rate=2000.0,
        step=5.0,
        probe=0.05,
        alpha=0.1,
        backoff_base=1.0,
        backoff_cap=60.0,
        fails_threshold=5,
        error_threshold=20,
        safety=0.95,
        gate_safety=0.99,
        gate_slack=0.04,
        horizon=30.0,
        downtime=None,
    ):
        self.known_limit = known_limit
        self.initial_rate = initial_rate
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.step = step  # calls/s gained per second while well under the last ceiling
        self.probe = probe  # calls/s gained per second near the ceiling, probing for more
        self.alpha = alpha  # exponent of the power law: rate * level ** -alpha after a 429
        self.fails_threshold = fails_threshold
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.error_threshold = error_threshold
        self.safety = safety
        self.horizon = horizon  # no slot is reserved further ahead than this many seconds
        # Slots are handed out at safety x the limit; the gate lets through up to gate_safety x the
        # limit, so callers a little late or bunched pass it, and the upstream still sees room.
        self.gate_safety = gate_safety
        # For a known limit, the gate counts the calls of one second over this much longer, so a
        # call that reaches the upstream up to this late still leaves every one of its seconds
        # within the limit (a limit being found learns from its 429s instead).
        self.gate_slack = gate_slack
        self.downtime = downtime  # (start "HH:MM", end "HH:MM") UTC, or None


def parse_limits(text):
    """ "sso=100,esi=50" -> {"sso": 100.0, "esi": 50.0}; a clear error for anything else."""
    limits = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition("=")
        try:
            limits[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"GOVERNOR_LIMITS: {part!r} is not name=calls_per_second") from None
        if limits[name.strip()] <= 0:
            raise ValueError(f"GOVERNOR_LIMITS: {part!r} must be above zero")
    return limits


def parse_window(text):
    """ "11:00-11:15" -> ("11:00", "11:15"); empty -> None."""
    if not text:
        return None
    start, _, end = text.partition("-")
    for value in (start, end):
        datetime.strptime(value.strip(), "%H:%M")
    return start.strip(), end.strip()


def downtime_until(window, now):
    """The end of the daily downtime when now is inside it, else 0."""
    if not window:
        return 0.0
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    start_h, start_m = map(int, window[0].split(":"))
    end_h, end_m = map(int, window[1].split(":"))
    start = day + timedelta(hours=start_h, minutes=start_m)
    end = day + timedelta(hours=end_h, minutes=end_m)
    return end.timestamp() if start <= moment < end else 0.0


def _outcome(status, headers, bucketed):
    """(outcome, number) an answer means for its upstream's governor. A bucket's 429 means nothing
    for the upstream: a bucket belongs to one group and one character, and only it waits."""
    if status == 429:
        return ("other", 0.0) if bucketed else ("429", header_number(headers.get("Retry-After"), 1.0))
    if status == 420:
        return "420", header_number(headers.get("X-ESI-Error-Limit-Reset"), 60.0)
    if status >= 500:
        return "5xx", 0.0
    return ("ok", 0.0) if status < 400 else ("other", 0.0)


class Governor:
    """The governors of every upstream, on one Redis."""

    def __init__(self, redis_client, settings=None, default=None, esi_path=""):
        self.redis = redis_client
        self.settings = settings or {}
        self.default = default or Settings()
        self._permit = redis_client.register_script(PERMIT_LUA)
        self._observe = redis_client.register_script(OBSERVE_LUA)
        self._counter = 0
        self._indexed = set()
        self.buckets = Buckets(redis_client, esi_path)  # ESI's bucket limits, per group and character

    def settings_for(self, upstream):
        """The settings of one upstream."""
        return self.settings.get(upstream, self.default)

    def _member(self, now):
        self._counter += 1
        return f"{now:.6f}:{id(self)}:{self._counter}"

    def permit(self, upstream, now=None):
        """Reserve the next slot for a call: (reason, seconds).

        reason "ok": the slot is in that many seconds (0: call now); the reservation holds.
        Any other reason (paused, backoff, downtime, budget, rate): nothing is reserved; ask
        again after that many seconds.
        """
        return self.answer(self.check_into(Batch(self.redis), upstream, now, reserve=True).send()[0])

    def gate(self, upstream, now=None):
        """The last check right before a call goes out: ("ok", 0), or (reason, seconds to wait).

        Stops the call while paused, backing off or short of error budget, and keeps the calls
        actually sent within the rate in every one-second window, however late or bunched the
        callers arrive at their slots.
        """
        return self.answer(self.check_into(Batch(self.redis), upstream, now).send()[0])

    def check_into(self, batch, upstream, now=None, reserve=False, pass_gate=0.0):
        """Queue a gate check (or, with reserve, a permit) into a round trip; read its answer with
        answer(). pass_gate: a permit whose slot is within that many seconds passes the gate in
        the same script, so the call goes out at once ("gate": the slot is reserved and the gate
        is full for the seconds answered). Returns the batch."""
        now = time.time() if now is None else now
        cfg = self.settings_for(upstream)
        known = cfg.known_limit * cfg.safety if cfg.known_limit else 0
        if upstream not in self._indexed:
            self.redis.sadd(redis_keys.GOVERNOR_INDEX, upstream)
            self._indexed.add(upstream)
        keys = [
            redis_keys.governor(upstream),
            redis_keys.governor_log(upstream, "permits"),
            redis_keys.PAUSED,
            redis_keys.governor_log(upstream, "sends"),
        ]
        args = script_args(
            PERMIT_ARGS,
            now=f"{now:.6f}",
            known=known,
            initial=cfg.initial_rate,
            error_threshold=cfg.error_threshold,
            downtime_until=f"{downtime_until(cfg.downtime, now):.3f}",
            member=self._member(now),
            reserve="1" if reserve else "0",
            horizon=cfg.horizon,
            gate_factor=cfg.gate_safety / cfg.safety,
            gate_slack=cfg.gate_slack if cfg.known_limit else 0.0,
            pass_gate=pass_gate if reserve else 0,
        )
        return batch.script(self._permit, keys, args)

    @staticmethod
    def answer(raw):
        """(reason, seconds) from a permit's or gate's answer."""
        reason, wait = raw
        return reason, float(wait)

    def record(self, upstream, outcome, number=0.0, now=None, status=None, batch=None):
        """Tell the governor how a call went: ok, 429 (number: Retry-After), 420 (reset), 5xx, other.

        status (an HTTP status, or "timeout") is also counted for /metrics, in the same round trip;
        with batch, the script joins that round trip instead of going now.
        """
        now = time.time() if now is None else now
        cfg = self.settings_for(upstream)
        keys = [
            redis_keys.governor(upstream),
            redis_keys.governor_log(upstream, "ok"),
            redis_keys.UPSTREAM_STATS,
        ]
        args = script_args(
            OBSERVE_ARGS,
            now=f"{now:.6f}",
            outcome=outcome,
            number=number,
            adaptive="0" if cfg.known_limit else "1",
            initial=cfg.initial_rate,
            min_rate=cfg.min_rate,
            max_rate=cfg.max_rate,
            step=cfg.step,
            probe=cfg.probe,
            alpha=cfg.alpha,
            backoff_base=cfg.backoff_base,
            backoff_cap=cfg.backoff_cap,
            fails_threshold=cfg.fails_threshold,
            member=self._member(now),
            call_field="" if status is None else call_field(upstream, status),
            failure="" if outcome in ("ok", "other") or status is None else str(status),
        )
        own = batch is None
        batch = Batch(self.redis) if own else batch
        batch.script(self._observe, keys, args)
        if own:
            batch.send()

    def note_error_budget(self, upstream, remain, reset, now=None, batch=None):
        """Remember ESI's error budget from a response's headers."""
        now = time.time() if now is None else now
        mapping = {"error_remain": int(remain), "error_reset_at": f"{now + reset:.3f}"}
        if batch is None:
            self.redis.hset(redis_keys.governor(upstream), mapping=mapping)
        else:
            batch.command("hset", redis_keys.governor(upstream), mapping=mapping)

    def spend_error_budget(self, upstream):
        """A timeout costs budget too but brings no headers: count it down ourselves."""
        if self.redis.hexists(redis_keys.governor(upstream), "error_remain"):
            self.redis.hincrby(redis_keys.governor(upstream), "error_remain", -1)

    def observe(self, upstream, response, timed_out=False, malformed=False):
        """The EVE client's response hook: read status and limit headers of every answer.

        No response: a timeout or a network failure (timed_out), or a 200 whose body was garbage
        (malformed, e.g. a maintenance page); either is an upstream failure, like a 5xx. What an
        answer teaches goes in one round trip: at once when it was a failure, with the next round
        trip when the call went well (see app/jobs/rounds.py).
        """
        if malformed:
            self.record(upstream, "5xx", status="malformed")
            return
        if timed_out or response is None:
            self.spend_error_budget(upstream)
            self.record(upstream, "5xx", status="timeout")
            return
        headers = response.headers
        status = response.status_code
        bucketed = bool(headers.get("X-Ratelimit-Group"))
        outcome, number = _outcome(status, headers, bucketed)

        def build(batch):
            remain = headers.get("X-ESI-Error-Limit-Remain")
            if remain is not None:
                with contextlib.suppress(ValueError):
                    reset = float(headers.get("X-ESI-Error-Limit-Reset", 60))
                    self.note_error_budget(upstream, int(remain), reset, batch=batch)
            if bucketed:
                self.buckets.observe(response, batch=batch)
            self.record(upstream, outcome, number, status=status, batch=batch)

        if outcome == "ok":
            later(self.redis, build)
        else:
            batch = Batch(self.redis)
            build(batch)
            batch.send()

    def reset(self, upstream):
        """Forget what was learnt about an upstream."""
        self.redis.delete(
            redis_keys.governor(upstream),
            redis_keys.governor_log(upstream, "permits"),
            redis_keys.governor_log(upstream, "ok"),
            redis_keys.governor_log(upstream, "sends"),
        )

    def state(self, upstream, now=None):
        """Everything the dashboard shows about one upstream."""
        now = time.time() if now is None else now
        cfg = self.settings_for(upstream)
        raw = self.redis.hgetall(redis_keys.governor(upstream))
        backoff_until = float(raw.get("backoff_until") or 0)
        remain = raw.get("error_remain")
        reset_at = float(raw.get("error_reset_at") or 0)
        paused = bool(self.redis.exists(redis_keys.PAUSED))
        down = downtime_until(cfg.downtime, now)
        if paused:
            label = "paused"
        elif backoff_until > now or down > now:
            label = "backoff"
        elif (
            remain is not None
            and int(remain) <= cfg.error_threshold
            and reset_at > now
            or int(raw.get("level") or 0) > 0
        ):
            label = "throttled"
        else:
            label = "ok"
        rate = cfg.known_limit * cfg.safety if cfg.known_limit else float(raw.get("rate") or cfg.initial_rate)
        recent = self.redis.zcount(redis_keys.governor_log(upstream, "sends"), now - 1, now)
        return {
            "state": label,
            "rate_per_s": round(rate, 2),
            "limit_per_s": cfg.known_limit,
            "calls_last_s": recent,
            "error_budget_remaining": int(remain) if remain is not None else None,
            "error_budget_reset_in_s": round(max(0.0, reset_at - now), 1) if remain is not None else None,
            "backoff_level": int(raw.get("level") or 0),
            "gate_waits": int(raw.get("gate_waits") or 0),
            "last_failure": raw.get("last_failure"),
            "last_failure_at": float(raw["last_failure_at"]) if raw.get("last_failure_at") else None,
            "backoff_until": backoff_until if backoff_until > now else (down or None),
            "buckets": self.buckets.near_end(now=now) if upstream == "esi" else [],
        }

    def upstreams(self):
        """Every upstream the governor has seen or is configured for."""
        names = set(self.redis.smembers(redis_keys.GOVERNOR_INDEX)) | set(self.settings)
        return sorted(names)
