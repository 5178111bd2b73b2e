"""Typed errors of the EVE client, so callers can tell definitive failures from passing ones."""


class EveError(Exception):
    """Any failure talking to EVE SSO or ESI."""

    transient = False
    # Seconds EVE said to wait before calling again (Retry-After, the error budget's reset).
    told_wait = None

    def __init__(self, message, status=None, upstream=None):
        super().__init__(message)
        self.status = status
        self.upstream = upstream

    def wait_seconds(self, default):
        """How long to wait before calling again: what EVE said, else default."""
        return float(self.told_wait or default)


class InvalidGrant(EveError):
    """SSO refused the refresh token or code: revoked, unknown or already used. Definitive."""


class InvalidClient(EveError):
    """SSO refused our client credentials: a configuration problem, not the member's."""


class Unauthorized(EveError):
    """ESI refused the token or its scopes (401/403)."""


class NotFound(EveError):
    """ESI has no such id (404)."""


class BadRequest(EveError):
    """ESI or SSO refused the request as malformed (another 4xx)."""


class RateLimited(EveError):
    """HTTP 429: wait retry_after seconds."""

    transient = True

    def __init__(self, message, retry_after, status=429, upstream=None):
        super().__init__(message, status, upstream)
        self.retry_after = self.told_wait = retry_after


class ErrorLimited(EveError):
    """HTTP 420: ESI's error budget is spent; wait reset seconds."""

    transient = True

    def __init__(self, message, reset, status=420, upstream=None):
        super().__init__(message, status, upstream)
        self.reset = self.told_wait = reset


class UpstreamDown(EveError):
    """5xx, a timeout or a refused connection: try again later."""

    transient = True


class InvalidToken(EveError):
    """An access token failed verification (signature, issuer, audience, expiry, algorithm)."""
