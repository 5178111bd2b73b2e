"""The EVE SSO and ESI client: one requests session per thread, timeouts, typed errors, an ETag cache.

It knows nothing of Flask; every response's headers go to one hook (the governor listens there).
"""

import base64
import hashlib
import logging
import secrets
import threading
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import jwt
import requests

from app.eve.errors import (
    BadRequest,
    ErrorLimited,
    EveError,
    InvalidClient,
    InvalidGrant,
    NotFound,
    RateLimited,
    Unauthorized,
    UpstreamDown,
)
from app.eve.jwt_check import JwksCache, verify_access_token
from app.http import header_number, new_session

log = logging.getLogger(__name__)

SSO = "sso"
ESI = "esi"


def pkce_pair():
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class EtagCache:
    """ESI answers kept until their Expires, then revalidated with If-None-Match."""

    def __init__(self, max_entries=10_000):
        self._entries = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, url):
        """(body, etag, fresh) for a URL, or None."""
        with self._lock:
            entry = self._entries.get(url)
        if entry is None:
            return None
        body, etag, expires_at = entry
        return body, etag, time.time() < expires_at

    def put(self, url, body, etag, expires_at):
        """Keep an answer."""
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.pop(next(iter(self._entries)))
            self._entries[url] = (body, etag, expires_at)


def _expires_at(response):
    value = response.headers.get("Expires")
    if not value:
        return 0.0
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _unreadable_error(response):
    """True for a 4xx (not a limit: 420 and 429 say so in their headers) whose body is not JSON."""
    status = response.status_code
    if not 400 <= status < 500 or status in (420, 429):
        return False
    try:
        return not isinstance(response.json(), dict)
    except ValueError:
        return True


class EveClient:
    """Talks to EVE SSO and ESI (or the sandbox: only the base URLs differ)."""

    def __init__(
        self,
        sso_url,
        esi_url,
        client_id,
        client_secret,
        user_agent,
        compatibility_date="2020-01-01",
        timeout=10.0,
        on_response=None,
    ):
        self.sso_url = sso_url.rstrip("/")
        self.esi_url = esi_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.user_agent = user_agent
        self.compatibility_date = compatibility_date
        self.timeout = (min(3.05, timeout), timeout)
        self.on_response = on_response
        self._local = threading.local()
        self._metadata = None
        self._metadata_lock = threading.Lock()
        self.jwks = JwksCache(self._fetch_jwks)
        self.cache = EtagCache()

    # ---- plumbing ------------------------------------------------------------
    @property
    def session(self):
        """This thread's requests session (sessions are not shared between threads)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = new_session(self.user_agent)
            self._local.session = session
        return session

    def _send(self, upstream, method, url, expect=None, **kwargs):
        """One HTTP call with a timeout; network failures become UpstreamDown.

        expect(body) -> bool checks a 200's JSON body (a dict or list); a 200 whose body is not
        JSON or fails the check (a maintenance page, a cut-off answer) is an upstream failure: it
        is reported to the hook as "malformed" (the governor backs off as for a 5xx) and raised as
        UpstreamDown. The parsed body is left on the response as ``response.body``.
        """
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout:
            self._report(upstream, None, timed_out=True)
            raise UpstreamDown(f"{upstream} timed out", upstream=upstream) from None
        except requests.RequestException as exc:
            self._report(upstream, None, timed_out=True)
            raise UpstreamDown(f"{upstream} unreachable: {type(exc).__name__}", upstream=upstream) from None
        response.body = None
        if expect is not None and _unreadable_error(response):
            # A 4xx whose body is no JSON is no answer of SSO's or ESI's own (a proxy's or a
            # maintenance page): an upstream failure, backed off and tried again, never a verdict.
            self._report(upstream, None, malformed=True)
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise UpstreamDown(
                f"{upstream} answered {response.status_code} with no JSON ({kind})",
                response.status_code,
                upstream,
            ) from None
        if expect is not None and response.status_code == 200:
            try:
                response.body = response.json()
            except ValueError:
                response.body = None
            if not isinstance(response.body, dict | list) or not expect(response.body):
                self._report(upstream, None, malformed=True)
                kind = response.headers.get("Content-Type", "no content type").split(";")[0]
                raise UpstreamDown(
                    f"{upstream} answered 200 with a malformed body ({kind})", 200, upstream
                ) from None
        self._report(upstream, response)
        return response

    def _report(self, upstream, response, timed_out=False, malformed=False):
        """Hand every response's status and limit headers to the hook (None: no usable answer)."""
        if self.on_response is None:
            return
        try:
            self.on_response(upstream, response, timed_out, malformed)
        except Exception:  # the hook must never break a call
            log.exception("response hook failed")

    def _raise_for(self, upstream, response):
        """Turn an error response into the matching typed error."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = body.get("error_description") or body.get("error") or response.reason or str(status)
        if status == 420:
            reset = header_number(response.headers.get("X-ESI-Error-Limit-Reset"), 60.0)
            raise ErrorLimited(f"{upstream} error limit reached: {message}", reset, upstream=upstream)
        if status == 429:
            retry_after = header_number(response.headers.get("Retry-After"), 1.0)
            raise RateLimited(f"{upstream} rate limited: {message}", retry_after, upstream=upstream)
        if status >= 500:
            raise UpstreamDown(f"{upstream} answered {status}: {message}", status, upstream)
        if upstream == SSO and body.get("error") == "invalid_grant":
            raise InvalidGrant(message, status, upstream)
        if upstream == SSO and body.get("error") == "invalid_client":
            raise InvalidClient(message, status, upstream)
        if status in (401, 403):
            raise Unauthorized(f"{upstream} refused: {message}", status, upstream)
        if status == 404:
            raise NotFound(message, status, upstream)
        raise BadRequest(f"{upstream} answered {status}: {message}", status, upstream)

    # ---- SSO -------------------------------------------------------------------
    def metadata(self):
        """The SSO's endpoints, read from its metadata document once."""
        with self._metadata_lock:
            if self._metadata is None:
                response = self._send(
                    SSO,
                    "GET",
                    f"{self.sso_url}/.well-known/oauth-authorization-server",
                    expect=lambda body: isinstance(body, dict) and "token_endpoint" in body,
                )
                if response.status_code != 200:
                    self._raise_for(SSO, response)
                self._metadata = response.body
            return self._metadata

    def _fetch_jwks(self):
        response = self._send(
            SSO,
            "GET",
            self.metadata()["jwks_uri"],
            expect=lambda body: isinstance(body, dict) and "keys" in body,
        )
        if response.status_code != 200:
            self._raise_for(SSO, response)
        return response.body

    def authorize_url(self, redirect_uri, scopes, state, code_challenge=None):
        """Where to send a person to log in and approve the scopes."""
        params = {
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "scope": " ".join(scopes),
            "state": state,
        }
        if code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return f"{self.metadata()['authorization_endpoint']}?{urlencode(params)}"

    def _token_call(self, data):
        response = self._send(
            SSO,
            "POST",
            self.metadata()["token_endpoint"],
            data=data,
            auth=(self.client_id, self.client_secret),
            headers={"Accept": "application/json"},
            expect=_holds_tokens,
        )
        if response.status_code != 200:
            self._raise_for(SSO, response)
        return response.body

    def exchange_code(self, code, code_verifier=None):
        """Trade an authorization code for tokens."""
        data = {"grant_type": "authorization_code", "code": code}
        if code_verifier:
            data["code_verifier"] = code_verifier
        return self._token_call(data)

    def refresh(self, refresh_token):
        """Trade a refresh token for new tokens; the answer holds the rotated refresh token."""
        return self._token_call({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, refresh_token):
        """Revoke a refresh token at SSO."""
        endpoint = self.metadata().get("revocation_endpoint") or f"{self.sso_url}/v2/oauth/revoke"
        response = self._send(
            SSO,
            "POST",
            endpoint,
            auth=(self.client_id, self.client_secret),
            data={"token_type_hint": "refresh_token", "token": refresh_token},
        )
        if response.status_code != 200:
            self._raise_for(SSO, response)

    def can_verify_offline(self, access_token):
        """True when the token's signing key is known, so verify() makes no outside call."""
        try:
            return self.jwks.knows(jwt.get_unverified_header(access_token).get("kid"))
        except jwt.InvalidTokenError:
            return True  # verify() refuses it without a call

    def verify(self, access_token):
        """Check an access token against the SSO's keys; the claims with scp as a list."""
        return verify_access_token(access_token, self.jwks, self.client_id, self.metadata()["issuer"])

    # ---- ESI -------------------------------------------------------------------
    def _esi_headers(self, extra=None):
        headers = {"X-Compatibility-Date": self.compatibility_date, "Accept": "application/json"}
        headers.update(extra or {})
        return headers

    def esi_get(self, path, access_token=None, use_cache=True):
        """GET an ESI route, answering from the cache until Expires and revalidating with the ETag."""
        url = f"{self.esi_url}{path}"
        cached = self.cache.get(url) if use_cache and access_token is None else None
        if cached and cached[2]:
            return cached[0]
        headers = {}
        if cached and cached[1]:
            headers["If-None-Match"] = cached[1]
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        response = self._send(ESI, "GET", url, expect=_any_json, headers=self._esi_headers(headers))
        if response.status_code == 304 and cached:
            self.cache.put(url, cached[0], cached[1], _expires_at(response))
            return cached[0]
        if response.status_code != 200:
            self._raise_for(ESI, response)
        body = response.body
        if use_cache and access_token is None:
            self.cache.put(url, body, response.headers.get("ETag"), _expires_at(response))
        return body

    def status(self):
        """ESI's server status."""
        return self.esi_get("/status", use_cache=False)

    def character(self, character_id):
        """Public data of a character."""
        return self.esi_get(f"/characters/{int(character_id)}")

    def corporation(self, corporation_id):
        """Public data of a corporation."""
        return self.esi_get(f"/corporations/{int(corporation_id)}")

    def alliance(self, alliance_id):
        """Public data of an alliance."""
        return self.esi_get(f"/alliances/{int(alliance_id)}")

    def roles(self, character_id, access_token):
        """A character's corporation roles (needs the roles scope)."""
        return self.esi_get(f"/characters/{int(character_id)}/roles", access_token=access_token)

    def esi_read(self, path, access_token, etag=None):
        """GET a route with a character's token: (body, ETag, Expires as a timestamp); body is None
        when ESI answered 304 to the ETag given (nothing changed)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        if etag:
            headers["If-None-Match"] = etag
        url = f"{self.esi_url}{path}"
        response = self._send(ESI, "GET", url, expect=_any_json, headers=self._esi_headers(headers))
        if response.status_code not in (200, 304):
            self._raise_for(ESI, response)
        body = response.body if response.status_code == 200 else None
        return body, response.headers.get("ETag"), _expires_at(response)

    def names(self, ids):
        """Names and categories of 1 to 1000 ids in one call (one unknown id fails it)."""
        ids = sorted({int(i) for i in ids})
        if not 1 <= len(ids) <= 1000:
            raise ValueError("names takes 1 to 1000 ids")
        return self._esi_post("/universe/names", ids, lambda body: isinstance(body, list))

    def _esi_post(self, path, body, expect):
        """POST a JSON body to an ESI route (never cached); the answer's body."""
        response = self._send(
            ESI, "POST", f"{self.esi_url}{path}", expect=expect, json=body, headers=self._esi_headers()
        )
        if response.status_code != 200:
            self._raise_for(ESI, response)
        return response.body

    def affiliation(self, character_ids):
        """Corporation and alliance of 1 to 1000 characters in one call."""
        ids = sorted({int(i) for i in character_ids})
        if not 1 <= len(ids) <= 1000:
            raise ValueError("affiliation takes 1 to 1000 character ids")
        return self._esi_post("/characters/affiliation", ids, lambda body: isinstance(body, list))

    def ids_of(self, names):
        """ESI's exact (case-insensitive) matches of 1 to 500 names: {"corporations": [{id, name}], ...}."""
        names = sorted({str(n).strip() for n in names if str(n).strip()})
        if not 1 <= len(names) <= 500 or any(len(n) > 100 for n in names):
            raise ValueError("ids_of takes 1 to 500 names of up to 100 characters")
        return self._esi_post("/universe/ids", names, lambda body: isinstance(body, dict))


def _holds_tokens(body):
    """A token answer holds both tokens."""
    return isinstance(body, dict) and bool(body.get("access_token")) and bool(body.get("refresh_token"))


def _any_json(body):
    """Any JSON document will do."""
    return True


__all__ = ["EveClient", "EveError", "pkce_pair"]
