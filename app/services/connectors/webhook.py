"""Webhooks: a signed JSON event POSTed for each grant, update and revoke to a configured URL."""

import hashlib
import hmac
import json
import time

from app.jobs.setup import get_governor
from app.services.connectors.base import Connector, call, error_for

WEBHOOK_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Bastion-Signature"
TIMESTAMP_HEADER = "X-Bastion-Timestamp"


def sign(secret, timestamp, body):
    """The signature a webhook receiver checks: hex HMAC-SHA256 of "<timestamp>.<body>"."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret, timestamp, body, signature, tolerance=300, now=None):
    """What a receiver does (and the tests): the signature matches and the timestamp is fresh."""
    now = time.time() if now is None else now
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except (TypeError, ValueError):
        return False
    expected = f"sha256={sign(secret, timestamp, body)}"
    return fresh and hmac.compare_digest(expected, signature or "")


class WebhookConnector(Connector):
    """POSTs a signed JSON event for each grant, update and revoke to a configured URL."""

    kind = "webhook"

    def _observe(self, answer):
        """Every answer of the receiver (None: none came) goes to this service's governor."""
        get_governor().observe(self.upstream, answer, timed_out=answer is None)

    def send(self, event):
        body = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Bastion webhook",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: f"sha256={sign(self.settings.get('secret', ''), timestamp, body)}",
        }
        answer = call(
            "POST",
            self.settings["url"],
            "the receiver",
            self._observe,
            WEBHOOK_TIMEOUT,
            data=body,
            headers=headers,
        )
        error = error_for(answer, "the receiver", "the receiver refused the event")
        if error is not None:
            raise error
        return answer.status_code

    def provision(self, event):
        return self.send({**event, "event": "grant"})

    def update(self, event):
        return self.send({**event, "event": "update"})

    def deprovision(self, event):
        return self.send({**event, "event": "revoke"})

    def check(self):
        return self.send({"event": "test", "service": self.service.slug, "sent_at": int(time.time())})
