"""EVE SSO: metadata, the authorize page, the token endpoint with rotating refresh tokens, JWKS, revoke."""

import base64
import binascii
import hashlib
import random
import secrets
import time
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request

from sandbox.common import error, injected_fault, pause, signing_key, universe
from sandbox.state import CODE_LIFETIME_S, AuthCode, new_token
from sandbox.tokens import ACCESS_TOKEN_LIFETIME_S, access_token_claims

bp = Blueprint("sso", __name__)

MAX_LISTED_CHARACTERS = 200


def issuer():
    """The issuer this sandbox names in its metadata and tokens: its own base URL."""
    return request.host_url.rstrip("/")


@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    """OAuth 2.0 authorization server metadata (RFC 8414), as EVE SSO publishes it."""
    base = issuer()
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/v2/oauth/authorize",
        "token_endpoint": f"{base}/v2/oauth/token",
        "response_types_supported": ["code", "token"],
        "jwks_uri": f"{base}/oauth/jwks",
        "revocation_endpoint": f"{base}/v2/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["HS256"],
        "code_challenge_methods_supported": ["S256"],
    }


@bp.get("/oauth/jwks")
def jwks():
    """The public keys access tokens are signed with."""
    return signing_key().jwks()


def _authorize_params():
    """The authorize request's parameters, from the query string or the approval form."""
    source = request.form if request.method == "POST" else request.args
    names = (
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    )
    return {name: source.get(name, "") for name in names}


def _check_authorize(params):
    """An error message for a malformed authorize request, or None."""
    world = universe()
    client = world.clients.get(params["client_id"])
    if client is None:
        return "Unknown client_id."
    if params["redirect_uri"] not in client.redirect_uris:
        return "The redirect_uri is not registered for this application."
    if params["response_type"] != "code":
        return "Only response_type=code is supported."
    if not params["state"]:
        return "The state parameter is required."
    if params["code_challenge"] and params["code_challenge_method"] != "S256":
        return "Only code_challenge_method=S256 is supported."
    return None


@bp.route("/v2/oauth/authorize", methods=["GET", "POST"])
def authorize():
    """The login page: pick or create a character, see the scopes, approve."""
    params = _authorize_params()
    problem = _check_authorize(params)
    world = universe()
    if problem:
        return render_template("authorize_error.html", message=problem), 400
    scopes = params["scope"].split()
    if request.method == "GET":
        with world.lock:
            characters = sorted(world.characters.values(), key=lambda c: c.name)[:MAX_LISTED_CHARACTERS]
            corporations = sorted(world.corporations.values(), key=lambda c: c.name)
        return render_template(
            "authorize.html", params=params, scopes=scopes, characters=characters, corporations=corporations
        )
    try:
        character = _chosen_character(world)
    except ValueError as exc:
        return render_template("authorize_error.html", message=str(exc)), 400
    code = AuthCode(
        code=secrets.token_urlsafe(24),
        character_id=character.id,
        client_id=params["client_id"],
        scopes=scopes,
        redirect_uri=params["redirect_uri"],
        code_challenge=params["code_challenge"] or None,
        expires_at=time.time() + CODE_LIFETIME_S,
    )
    with world.lock:
        world.codes[code.code] = code
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return redirect(
        params["redirect_uri"] + separator + urlencode({"code": code.code, "state": params["state"]})
    )


def _chosen_character(world):
    """The character the person picked, or a new one they named."""
    new_name = request.form.get("new_name", "").strip()
    if new_name:
        if len(new_name) < 3 or len(new_name) > 37:
            raise ValueError("A character name has 3 to 37 characters.")
        corporation = request.form.get("corporation_id", type=int)
        try:
            return world.add_character(new_name, corporation_id=corporation)
        except LookupError as exc:
            raise ValueError(str(exc)) from None
    character_id = request.form.get("character_id", type=int)
    character = world.characters.get(character_id)
    if character is None:
        raise ValueError("Pick a character or name a new one.")
    return character


def _client_credentials():
    """(client, public, error response) from HTTP Basic or the form, per RFC 6749."""
    world = universe()
    client_id = secret = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
            client_id, _, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return (
                None,
                False,
                error(401, "invalid_client", error_description="Malformed Basic authorization."),
            )
    else:
        client_id = request.form.get("client_id")
        secret = request.form.get("client_secret")
    client = world.clients.get(client_id or "")
    if client is None:
        return None, False, error(401, "invalid_client", error_description="Unknown client.")
    if secret is None and request.form.get("code_verifier"):
        return client, True, None  # a public client proving itself with PKCE
    if not secrets.compare_digest(secret or "", client.client_secret):
        return None, False, error(401, "invalid_client", error_description="Client authentication failed.")
    return client, False, None


def _over_hidden_limit(world):
    """True when the token endpoint already took its hidden limit in the last second."""
    limit = world.config.get("sso_rate_limit")
    if not limit:
        return False
    now = time.monotonic()
    with world.lock:
        window = world.token_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            world.counters.sso_429 += 1
            return True
        window.append(now)
        world.counters.busiest_token_second = max(world.counters.busiest_token_second, len(window))
        return False


def _token_answer(world, grant):
    """(claims, refresh token) of the answer: read under the universe's lock."""
    character = world.characters[grant.character_id]
    return access_token_claims(issuer(), character, grant.client_id, grant.scopes), grant.refresh_token


def _signed(answer):
    """The token answer, signed outside the lock (signing is the slow part)."""
    claims, refresh_token = answer
    return {
        "access_token": signing_key().sign(claims),
        "expires_in": ACCESS_TOKEN_LIFETIME_S,
        "token_type": "Bearer",
        "refresh_token": refresh_token,
    }


def _token_response(world, grant):
    """Access token (JWT) and the grant's current refresh token."""
    with world.lock:
        answer = _token_answer(world, grant)
    return _signed(answer)


REFUSED_REFRESH = "Invalid refresh token. Token missing or expired."


@bp.post("/v2/oauth/token")
def token():
    """Exchange a code or a refresh token; refresh tokens rotate on every use."""
    world = universe()
    grant_type = request.form.get("grant_type", "")
    if grant_type == "refresh_token":
        with world.lock:
            world.counters.refresh_calls += 1
    if _over_hidden_limit(world):
        body, status = error(429, "Too many requests")
        return body, status, {"Retry-After": "1"}
    fault = injected_fault("sso")
    if fault is not None:
        return fault
    client, public, failure = _client_credentials()
    if failure is not None:
        pause()
        return failure
    if grant_type == "authorization_code":
        return _exchange_code(world, client, public)
    if grant_type == "refresh_token":
        if _spurious(world):
            pause()
            return error(400, "invalid_grant", error_description=REFUSED_REFRESH)
        return _refresh(world, client)
    pause()
    return error(400, "unsupported_grant_type", error_description="Use authorization_code or refresh_token.")


def _spurious(world):
    """A misbehaving SSO refuses this refresh although the grant is live (counted)."""
    rate = world.config.get("spurious_invalid_grant_rate") or 0.0
    if rate <= 0 or random.random() >= rate:  # noqa: S311  (a simulation, not a secret)
        return False
    with world.lock:
        world.counters.spurious_invalid_grants += 1
    return True


def _exchange_code(world, client, public):
    code_value = request.form.get("code", "")
    with world.lock:
        code = world.codes.get(code_value)
        if code is None or code.used or code.expires_at < time.time() or code.client_id != client.client_id:
            if code is not None:
                code.used = True
            pause()
            return error(400, "invalid_grant", error_description="Authorization code is invalid or used.")
        code.used = True
        redirect_uri = request.form.get("redirect_uri")
        if redirect_uri and redirect_uri != code.redirect_uri:
            return error(400, "invalid_grant", error_description="redirect_uri does not match.")
        if code.code_challenge:
            verifier = request.form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not secrets.compare_digest(expected, code.code_challenge):
                return error(400, "invalid_grant", error_description="PKCE verification failed.")
        elif public:
            return error(400, "invalid_grant", error_description="No code challenge was sent.")
    grant = world.add_grant(code.character_id, client.client_id, code.scopes)
    pause()
    return _token_response(world, grant)


def _refresh(world, client):
    token_value = request.form.get("refresh_token", "")
    with world.lock:
        grant_id = world.tokens.get(token_value)
        reused_id = world.rotated.get(token_value)
        watched = grant_id or reused_id
        if watched is not None:
            if world.refreshing[watched] > 0:
                world.counters.overlapping_refreshes += 1
            world.refreshing[watched] += 1
        grant = world.grants.get(grant_id) if grant_id else None
        ok = grant is not None and not grant.revoked and grant.client_id == client.client_id
        if ok:
            del world.tokens[token_value]
            world.rotated[token_value] = grant.id
            grant.refresh_token = new_token("rt-")
            world.tokens[grant.refresh_token] = grant.id
            world.dirty = True
            counters = world.counters
            counters.refreshes_ok += 1
            counters.refreshes_per_grant[grant.id] += 1
            now = time.time()
            counters.first_refresh_at = counters.first_refresh_at or now
            counters.last_refresh_at = now
            answer = _token_answer(world, grant)
        elif reused_id is not None:
            world.counters.rotated_token_reuse += 1
    try:
        pause()
    finally:
        if watched is not None:
            with world.lock:
                world.refreshing[watched] -= 1
    if ok:
        return _signed(answer)
    return error(400, "invalid_grant", error_description=REFUSED_REFRESH)


@bp.post("/v2/oauth/revoke")
def revoke():
    """Revoke a refresh token (and so its grant)."""
    world = universe()
    client, _public, failure = _client_credentials()
    if failure is not None:
        return failure
    token_value = request.form.get("token", "")
    with world.lock:
        grant_id = world.tokens.get(token_value) or world.rotated.get(token_value)
        grant = world.grants.get(grant_id)
        if grant is not None and grant.client_id == client.client_id:
            grant.revoked = True
            world.dirty = True
    pause()
    return "", 200
