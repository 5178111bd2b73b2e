"""Alerts: admins hear about trouble where they are (a Discord channel, their mail), not only on
the dashboard.

The conditions: the incident guard open, dead tasks, an upstream backed off for longer than
ALERT_BACKOFF_S, no consumer heartbeat, a broken tracking token, an in-game member list that
cannot be read or is older than ALERT_ROSTER_STALE_S. ``evaluate`` looks at them (every minute in
the ops.alerts task, and from /healthz, which a monitor polls, so that a missing consumer is told
too) and tells each condition once when it starts and once when it ends; one that starts again
within ALERT_QUIET_S is not told again; four or more pieces of news at once go as one digest.
What is active, and when each was last told, lives in Redis; one evaluation runs at a time.

``send`` delivers a message to every channel configured: the webhook (Discord's format, under the
same address rules as service webhooks, through the governor of the "alerts" upstream) and email
over SMTP. A delivery that fails raises, so that its task retries it; the last failure is kept
for the dashboard until a delivery succeeds.
"""

import json
import logging
import smtplib
import threading
import time
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests
from flask import current_app

from app.access import guard
from app.compliance.models import Roster, TrackingToken
from app.corps.models import Corporation
from app.extensions import db
from app.jobs import deadstore, heartbeat, pause, redis_keys
from app.jobs.connection import get_redis
from app.jobs.locks import TargetLock
from app.jobs.setup import get_governor
from app.services.connectors.webhook import refusal

log = logging.getLogger(__name__)

ACTIVE = redis_keys.ALERTS_ACTIVE  # condition -> {since, text, told, quiet}
TOLD = redis_keys.ALERTS_TOLD  # condition -> when it was last told
DELIVERY = redis_keys.ALERTS_DELIVERY  # sent_at, or failed_at and error
UPSTREAM = "alerts"
DIGEST_AT = 4
TIMEOUT_S = 10


class DeliveryFailed(Exception):
    """An alert could not be delivered; the message says where and why."""


def destinations():
    """Where alerts go, for the dashboard: the webhook's host (never its secret path) and the
    addresses mail goes to; None for a channel not configured."""
    config = current_app.config
    url = config["ALERT_WEBHOOK_URL"]
    email = config["ALERT_EMAIL_TO"] if config["SMTP_HOST"] and config["ALERT_EMAIL_FROM"] else None
    return {"webhook": urlsplit(url).hostname if url else None, "email": email or None}


def delivery():
    """The last delivery: {"sent_at"} or {"failed_at", "error"}; {} before the first."""
    raw = get_redis().hgetall(DELIVERY)
    return {k: (float(v) if k.endswith("_at") else v) for k, v in raw.items()}


def conditions(now=None):
    """The conditions that hold now: {key: what it is, in words}."""
    now = time.time() if now is None else now
    config = current_app.config
    redis = get_redis()
    found = {}
    state = guard.status(now)
    for kind, opened in state["kinds"].items():
        found[f"guard:{kind}"] = (
            f"The incident guard opened for {opened['label']}: {opened['detail']}. It holds "
            f"{state['held']} changes until an admin applies or discards them."
        )
    dead = deadstore.count(redis)
    if dead:
        first = (deadstore.page(redis, 0, 1) or [{}])[0]
        found["dead"] = (
            f"{dead} dead task{'s' if dead != 1 else ''} to retry or discard; the latest, "
            f"{first.get('name', '?')}: {first.get('error', '?')}"
        )
    paused = pause.is_paused(redis)  # a pause explains backoffs and an idle consumer alike
    governor = get_governor()
    for upstream in [] if paused else governor.upstreams():
        if upstream == UPSTREAM:
            continue
        seen = governor.state(upstream, now)
        if seen["state"] == "backoff":
            found[f"backoff:{upstream}"] = (
                f"{upstream} is backed off (last failure: {seen['last_failure'] or 'none recorded'})"
            )
    age = heartbeat.age_seconds(redis, now)
    if (age is None or age > config["HEARTBEAT_MAX_AGE"]) and not paused:
        found["consumer"] = "No consumer is alive: queued work is not being taken " + (
            "(no heartbeat yet)." if age is None else f"(last heartbeat {age / 60:.0f} min ago)."
        )
    found.update(_compliance(now, config["ALERT_ROSTER_STALE_S"]))
    return found


def _compliance(now, stale_s):
    """Broken tracking tokens, and member lists that cannot be read or are stale."""
    found = {}
    broken = db.session.execute(
        db.select(Corporation.id, Corporation.name, TrackingToken.error)
        .join(TrackingToken, TrackingToken.corporation_id == Corporation.id)
        .where(TrackingToken.error.is_not(None))
    )
    for corporation_id, name, error in broken:
        found[f"tracking:{corporation_id}"] = f"A tracking token of {name} is broken: {error}"
    rosters = db.session.execute(
        db.select(Corporation.id, Corporation.name, Roster.error, Roster.refreshed_at)
        .join(Roster, Roster.corporation_id == Corporation.id)
        .where(Corporation.id.in_(db.select(TrackingToken.corporation_id)))
    )
    for corporation_id, name, error, refreshed_at in rosters:
        age = now - refreshed_at.timestamp() if refreshed_at else None
        if error:
            found[f"roster:{corporation_id}"] = f"The in-game member list of {name} cannot be read: {error}"
        elif age is not None and age > stale_s:
            found[f"roster:{corporation_id}"] = (
                f"The in-game member list of {name} was last read {age / 3600:.0f} h ago."
            )
    db.session.commit()
    return found


def _grace(key):
    """How long a condition must last before it is told."""
    return current_app.config["ALERT_BACKOFF_S"] if key.startswith("backoff:") else 0


def evaluate(deliver, now=None):
    """Tell what started and what ended since the last evaluation: deliver(subject, text) for each
    message. Returns the messages (none when another evaluation is running)."""
    if not any(destinations().values()):
        return []  # nobody to tell: what holds when a channel is set up is told then, as it starts
    now = time.time() if now is None else now
    redis = get_redis()
    lock = TargetLock(redis, "alerts", "alerts", ttl=60)
    if not lock.acquire()[0]:
        return []
    try:
        found = conditions(now)
        active = {key: json.loads(raw) for key, raw in redis.hgetall(ACTIVE).items()}
        told = {key: float(at) for key, at in redis.hgetall(TOLD).items()}
        news = []
        for key, text in found.items():
            entry = active.get(key) or {"since": now, "told": False, "quiet": False}
            entry["text"] = text
            if not entry["told"] and now - entry["since"] >= _grace(key):
                entry["told"] = True
                if now - told.get(key, 0.0) >= current_app.config["ALERT_QUIET_S"]:
                    news.append(("started", text))
                    told[key] = now
                else:  # it started again within the quiet period: neither this start nor its end is told
                    entry["quiet"] = True
            active[key] = entry
        for key in [k for k in active if k not in found]:
            entry = active.pop(key)
            if entry["told"] and not entry["quiet"]:
                news.append(("ended", entry["text"]))
        pipe = redis.pipeline()
        pipe.delete(ACTIVE)
        if active:
            pipe.hset(ACTIVE, mapping={key: json.dumps(entry) for key, entry in active.items()})
        if told:
            pipe.hset(TOLD, mapping=told)
        pipe.execute()
    finally:
        lock.release()
    messages = _messages(news)
    for subject, text in messages:
        deliver(subject, text)
    return messages


def evaluate_without_consumer():
    """No consumer is alive to run ops.alerts: /healthz (polled by a monitor) evaluates, at most
    once a minute, and delivers from a thread of the web process, so its answer never waits."""
    if not get_redis().set(redis_keys.ALERTS_HEALTHZ, 1, nx=True, ex=60):
        return []
    app = current_app._get_current_object()

    def deliver(subject, text):
        def run():
            with app.app_context():
                try:
                    send(subject, text)
                except DeliveryFailed as exc:
                    log.warning("alert not delivered: %s", exc)

        threading.Thread(target=run, name="alert", daemon=True).start()

    return evaluate(deliver)


def _messages(news):
    """(subject, text) to send for the news: one each, or one digest when many came at once."""

    def line(change, text):
        return text if change == "started" else f"Over: {text}"

    if len(news) >= DIGEST_AT:
        started = sum(1 for change, _ in news if change == "started")
        subject = f"Bastion: {started} alerts started, {len(news) - started} ended"
        return [(subject, "\n".join(f"- {line(change, text)}" for change, text in news))]
    return [
        (f"Bastion alert: {text}" if change == "started" else f"Bastion: over: {text}", line(change, text))
        for change, text in news
    ]


def send(subject, text):
    """Deliver one message to every channel configured; raises DeliveryFailed naming each channel
    that failed (the others were delivered)."""
    config = current_app.config
    failures = []
    if config["ALERT_WEBHOOK_URL"]:
        try:
            _to_webhook(config["ALERT_WEBHOOK_URL"], subject, text)
        except DeliveryFailed as exc:
            failures.append(str(exc))
    if destinations()["email"]:
        try:
            _to_email(config, subject, text)
        except (OSError, smtplib.SMTPException) as exc:
            failures.append(f"email via {config['SMTP_HOST']}: {exc}")
    if failures:
        _note_delivery({"failed_at": time.time(), "error": "; ".join(failures)[:500]})
        raise DeliveryFailed("; ".join(failures))
    _note_delivery({"sent_at": time.time()})


def _note_delivery(facts):
    """Replace what the dashboard shows of the last delivery, in one transaction."""
    pipe = get_redis().pipeline()
    pipe.delete(DELIVERY)
    pipe.hset(DELIVERY, mapping=facts)
    pipe.execute()


def _to_webhook(url, subject, text):
    """POST the message in Discord's webhook format, within the alerts upstream's rate."""
    why = refusal(url)
    if why:
        raise DeliveryFailed(f"webhook: {why}")
    governor = get_governor()
    reason, wait = governor.gate(UPSTREAM)
    if reason != "ok":
        raise DeliveryFailed(f"webhook: waiting {wait:.1f} s ({reason})")
    content = f"**{subject}**\n{text}" if text != subject else subject
    try:
        answer = requests.post(
            url,
            json={"content": content[:2000], "username": "Bastion", "allowed_mentions": {"parse": []}},
            timeout=TIMEOUT_S,
        )
    except requests.RequestException as exc:
        governor.observe(UPSTREAM, None, timed_out=True)
        raise DeliveryFailed(f"webhook {urlsplit(url).hostname}: {type(exc).__name__}") from None
    governor.observe(UPSTREAM, answer)
    if answer.status_code >= 300:
        raise DeliveryFailed(f"webhook {urlsplit(url).hostname} answered {answer.status_code}")


def _to_email(config, subject, text):
    """Send the message by SMTP (STARTTLS and a sign-in when configured)."""
    message = EmailMessage()
    message["Subject"] = subject[:200]
    message["From"] = config["ALERT_EMAIL_FROM"]
    message["To"] = ", ".join(config["ALERT_EMAIL_TO"])
    message.set_content(text + "\n\nThe dashboard says more: " + (config.get("PUBLIC_URL") or "") + "/admin/")
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=TIMEOUT_S) as smtp:
        if config["SMTP_TLS"]:
            smtp.starttls()
        if config["SMTP_USER"]:
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
        smtp.send_message(message)
