"""Webhooks: a signed JSON event POSTed for each grant, update and revoke to a configured URL."""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

from flask import current_app

from app.jobs.setup import get_governor
from app.services.connectors.base import Connector, ConnectorError, call, error_for

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


def private_address(url, resolve=True):
    """The loopback, private, link-local or otherwise non-public address a URL leads to, or None.

    A host name is resolved (when ``resolve``): every address it has must be public. Raises
    OSError when it cannot be resolved.
    """
    host = urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return "localhost" if host.lower().rstrip(".").endswith("localhost") else None
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None) or address
        if not mapped.is_global or mapped.is_multicast:
            return str(address)
    return None


def refusal(url):
    """Why a webhook may not be sent to this URL (a private address), or None."""
    if current_app.config.get("WEBHOOK_ALLOW_PRIVATE"):
        return None
    try:
        address = private_address(url)
    except OSError:
        raise ConnectorError(f"could not resolve {urlsplit(url).hostname}", transient=True) from None
    if address is None:
        return None
    return (
        f"the webhook URL leads to a private address ({address}); webhooks go to public addresses "
        "only (an admin may set WEBHOOK_ALLOW_PRIVATE)"
    )


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
        refused = refusal(self.settings["url"])
        if refused is not None:
            raise ConnectorError(refused)
        answer = call(
            "POST",
            self.settings["url"],
            "the receiver",
            self._observe,
            WEBHOOK_TIMEOUT,
            data=body,
            headers=headers,
            allow_redirects=False,  # a redirect could lead anywhere, a private address included
        )
        if 300 <= answer.status_code < 400:
            raise ConnectorError(
                f"the receiver answered with a redirect ({answer.status_code}); webhooks do not "
                "follow redirects: give the final URL",
                status=answer.status_code,
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
