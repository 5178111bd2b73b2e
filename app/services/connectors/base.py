"""The connector interface, and the one way connectors call out and read the answers.

Every connector has the same four operations, called by the ``services.sync`` task:

- ``provision(event)``: the user has just been granted the service;
- ``update(event)``: the user keeps it, but something about them changed (name, corporation);
- ``deprovision(event)``: the grant ended (revoked, suspended or expired);
- ``check()``: can the outside system be reached with these settings? (for the admin's test button)

``event`` is a dict describing the user, their main character, corporation and alliance, and the
grant (see ``app/services/events.py``). A connector raises ConnectorError; ``transient`` errors
are retried with backoff, the others are shown to admins as the grant's sync error. Every answer
(or its absence) is shown to the connector's governor through a response hook, as the EVE client
does, so the sync task never needs to.
"""

import requests

from app.http import header_number


class ConnectorError(Exception):
    """An outside system refused or failed; transient ones are retried."""

    def __init__(self, message, transient=False, retry_after=None, status=None, waiting=False):
        super().__init__(message)
        self.transient = transient
        self.waiting = waiting  # nothing is wrong: the sync waits for the member (e.g. to link Discord)
        self.retry_after = retry_after
        self.status = status


class Connector:
    """The interface; subclasses override what their system needs."""

    kind = None
    calls_out = True  # False for connectors that push nothing (forward_auth)

    def __init__(self, service):
        self.service = service
        self.settings = service.settings

    @property
    def upstream(self):
        """The governor that paces this connector's calls."""
        return f"{self.kind}:{self.service.slug}"

    def provision(self, event):
        raise NotImplementedError

    def update(self, event):
        raise NotImplementedError

    def deprovision(self, event):
        raise NotImplementedError

    def check(self):
        raise NotImplementedError


def error_for(answer, who, refused, retry_after=None, message=""):
    """The ConnectorError an answer means (None for a success): 429 and 5xx are transient."""
    status = answer.status_code
    if status == 429:
        wait = retry_after if retry_after is not None else header_number(answer.headers.get("Retry-After"))
        return ConnectorError(f"{who} asked to slow down (429)", transient=True, retry_after=wait, status=429)
    if status >= 500:
        return ConnectorError(f"{who} failed ({status})", transient=True, status=status)
    if status >= 400:
        return ConnectorError(f"{refused} ({status}){f': {message}' if message else ''}", status=status)
    return None


def call(method, url, who, observe, timeout, **kwargs):
    """One HTTP call with a timeout; observe(answer or None) sees every outcome; failures are transient."""
    try:
        answer = requests.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        observe(None)
        raise ConnectorError(f"{who} did not answer in time", transient=True) from None
    except requests.RequestException as exc:
        observe(None)
        raise ConnectorError(f"could not reach {who} ({type(exc).__name__})", transient=True) from None
    observe(answer)
    return answer
