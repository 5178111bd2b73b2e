"""The OpenID Connect provider, built from Authlib's parts: the authorization code grant with PKCE
and OpenID's ID token, refresh tokens, the bearer token check and the userinfo endpoint.

Bastion adds one rule at every step: the user must hold an active grant to the client's service.
It is checked when the code is asked for (with a page saying why not), when the code is swapped
for tokens, on every refresh and on every userinfo call, and a grant that ends revokes the
user's tokens for that service (``app.services.connectors.oidc``).
"""

import logging
import secrets
import time
from datetime import UTC, datetime, timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from flask import current_app, g, session, url_for

from app.access.models import held_grant
from app.accounts.auth import public_url
from app.accounts.models import User
from app.clock import utcnow
from app.extensions import db
from app.oidc import keys
from app.oidc.models import OidcClient, OidcCode, OidcToken, digest
from app.oidc.revocation import Revocation, reused, revoke_family
from app.services.groups import groups_of

log = logging.getLogger(__name__)


def issuer():
    """The issuer: Bastion's public address."""
    return public_url("main.index").rstrip("/")


def signed_in_at():
    """When this browser's member signed in (seconds), or None when the session does not say
    (a session restored from a remember-me cookie): what ``auth_time`` claims, and ``max_age`` asks."""
    value = session.get("signed_in_at")
    return value if isinstance(value, int) else None


def active_grant(user, client):
    """The user's active grant to the client's service, or None (also for a disabled service or user)."""
    return held_grant(user, client.service if client is not None else None)


def registered_logout_uris():
    """Every post_logout_redirect_uri any site registered."""
    rows = db.session.scalars(db.select(OidcClient.post_logout_redirect_uris)).all()
    return [uri for row in rows for uri in (row or "").split()]


def query_client(client_id):
    if not isinstance(client_id, str) or len(client_id) > 64:
        return None
    return db.session.scalars(db.select(OidcClient).filter_by(client_id=client_id)).first()


def save_token(token, request):
    """Keep hashes of the new tokens; the values go only to the client. A refresh keeps the family
    of the token it turned over, a code starts the family it names; a family ends OIDC_FAMILY_DAYS
    after the sign-in, however often it is refreshed."""
    refresh = token.get("refresh_token")
    config, now = current_app.config, utcnow()
    old = getattr(request, "refresh_token", None)
    code = getattr(request, "authorization_code", None)
    if isinstance(old, OidcToken):
        family, ends = old.family or secrets.token_hex(16), old.family_expires_at
    else:
        family = code.family if isinstance(code, OidcCode) and code.family else secrets.token_hex(16)
        signed_in = code.auth_time if isinstance(code, OidcCode) and code.auth_time else now.timestamp()
        ends = datetime.fromtimestamp(signed_in, UTC).replace(tzinfo=None) + timedelta(
            days=config["OIDC_FAMILY_DAYS"]
        )
    refresh_until = now + timedelta(days=config["OIDC_REFRESH_DAYS"])
    if ends is not None:
        refresh_until = min(refresh_until, ends)
    db.session.add(
        OidcToken(
            family=family,
            client_id=request.client.client_id,
            user_id=request.user.id,
            scope=token.get("scope", ""),
            access_hash=digest(token["access_token"]),
            refresh_hash=digest(refresh) if refresh else None,
            issued_at=int(time.time()),
            expires_in=int(token.get("expires_in") or 0),
            refresh_expires_at=refresh_until if refresh else None,
            family_expires_at=ends,
        )
    )
    db.session.commit()


def user_info(user, scope, client):
    """The claims a token's scope allows about a user, for one client: its groups claim shows only
    the groups that client may see (OidcClient.may_see)."""
    scopes = set((scope or "").split())
    info = UserInfo(sub=str(user.id))
    main = user.main_character
    if "profile" in scopes:
        info["name"] = user.display_name
        info["preferred_username"] = user.display_name
        info["state"] = user.state
        if main is not None:
            info["eve_character_id"] = main.id
            info["eve_character_name"] = main.name
            if main.corporation is not None:
                corp = main.corporation
                info["eve_corporation"] = {"id": corp.id, "name": corp.name, "ticker": corp.ticker}
            if main.alliance is not None:
                alliance = main.alliance
                info["eve_alliance"] = {"id": alliance.id, "name": alliance.name, "ticker": alliance.ticker}
    if "email" in scopes:  # Bastion knows no member's address: a placeholder for sites that insist
        info["email"] = f"user{user.id}@{current_app.config['OIDC_EMAIL_DOMAIN'] or 'bastion.invalid'}"
        info["email_verified"] = False
    if "groups" in scopes:
        info["groups"] = [group for group in groups_of(user) if client.may_see(group, user)]
    return info


class CodeGrant(grants.AuthorizationCodeGrant):
    """The authorization code grant; codes are stored hashed and live a minute."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        db.session.add(
            OidcCode(
                code_hash=digest(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.payload.scope or "",
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=signed_in_at(),
                expires_at=utcnow() + timedelta(seconds=60),
                family=secrets.token_hex(16),
            )
        )
        db.session.commit()

    def query_authorization_code(self, code, client):
        """The code, used or not, until it expires: a used one that comes back is caught below."""
        found = db.session.scalars(
            db.select(OidcCode).filter_by(code_hash=digest(code or ""), client_id=client.client_id)
        ).first()
        return found if found is not None and not found.is_expired() else None

    def delete_authorization_code(self, authorization_code):
        """A used code is kept until it expires (ops.prune forgets it), to know it if it comes back."""

    def authenticate_user(self, authorization_code):
        """The code's user, if they hold the grant; the code is used up here, at most once.

        One statement marks it used, so of two requests with one code only one gets tokens. Its
        row stays locked until those tokens are saved in the same transaction, so the other waits,
        finds it used, and revokes them: a code that comes back means someone else holds a copy.
        """
        user = db.session.get(User, authorization_code.user_id)
        if active_grant(user, self.request.client) is None:
            return None
        used = db.session.execute(
            db.update(OidcCode)
            .where(OidcCode.id == authorization_code.id, OidcCode.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        if not used:
            db.session.rollback()
            revoke_family(
                authorization_code.family,
                authorization_code.client_id,
                authorization_code.user_id,
                "oidc.code_reused",
                "an authorization code came back after it was used",
            )
            raise InvalidGrantError("This code was used already; the tokens it gave are revoked.")
        return user


class RefreshGrant(grants.RefreshTokenGrant):
    """Refresh tokens turn over on each use, and only while the grant lasts."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        token = db.session.scalars(db.select(OidcToken).filter_by(refresh_hash=digest(refresh_token))).first()
        if token is not None and token.rotated_at is not None:
            reused(token)
            return None
        return token if token is not None and token.is_refresh_active() else None

    def authenticate_user(self, refresh_token):
        """The token's user, if they hold the grant; the refresh token is turned over here, once.

        As with codes, one statement turns it over and holds its row until the new tokens are
        saved, so of two refreshes with one token only one succeeds; the other revokes the family.
        """
        user = refresh_token.user
        if active_grant(user, refresh_token.get_client()) is None:
            return None
        turned = db.session.execute(
            db.update(OidcToken)
            .where(OidcToken.id == refresh_token.id, OidcToken.rotated_at.is_(None))
            .values(revoked=True, rotated_at=utcnow())
        ).rowcount
        if not turned:
            db.session.rollback()
            reused(refresh_token)
            raise InvalidGrantError("This refresh token was used already; its family is revoked.")
        return user

    def revoke_old_credential(self, refresh_token):
        """Turned over already, in authenticate_user."""


class S256Challenge(CodeChallenge):
    """PKCE with S256 only, required unless the admin turned it off for a site that cannot send it."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if grant.request.client.require_pkce and not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': this client must use PKCE (S256).")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Use code_challenge_method=S256.")
        return super().validate_code_challenge(grant, redirect_uri)


class IdToken(OpenIDCode):
    """The ID token: signed with the current key, its kid in the header."""

    def exists_nonce(self, nonce, request):
        return (
            db.session.scalars(
                db.select(OidcCode.id).filter_by(client_id=request.payload.client_id, nonce=nonce)
            ).first()
            is not None
        )

    def resolve_client_private_key(self, client):
        return keys.as_jwk(keys.current(), private=True)

    def get_client_algorithm(self, client):
        return keys.ALGORITHM

    def get_encode_header(self, client):
        return {"alg": keys.ALGORITHM, "kid": keys.current().kid}

    def get_client_claims(self, client):
        return {"iss": issuer(), "aud": [client.client_id], "exp": int(time.time()) + 3600}

    def encode_id_token(self, token, request):
        g.oidc_client = request.client  # whose ID token this is, for generate_user_info
        return super().encode_id_token(token, request)

    def generate_user_info(self, user, scope):
        return user_info(user, scope, g.oidc_client)


class GrantedTokens(BearerTokenValidator):
    """A bearer token is good while it is unexpired, unrevoked, and its user keeps the grant."""

    def authenticate_token(self, token_string):
        token = db.session.scalars(
            db.select(OidcToken).filter_by(access_hash=digest(token_string or ""))
        ).first()
        if token is None or active_grant(token.user, token.get_client()) is None:
            return None
        return token


class UserInfoAnswer(UserInfoEndpoint):
    """The userinfo endpoint: the same claims as the ID token."""

    def get_issuer(self):
        return issuer()

    def generate_user_info(self, user, scope):
        return user_info(user, scope, current_token.get_client())

    def resolve_private_key(self):
        return keys.as_jwk(keys.current(), private=True)


server = AuthorizationServer()
protector = ResourceProtector()


def init_app(app):
    """Set up the provider on the app."""
    app.config.setdefault("OAUTH2_REFRESH_TOKEN_GENERATOR", True)
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": 3600, "refresh_token": 3600})
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_grant(CodeGrant, [IdToken(require_nonce=False), S256Challenge(required=True)])
    server.register_grant(RefreshGrant)
    protector.register_token_validator(GrantedTokens())
    server.register_endpoint(UserInfoAnswer(resource_protector=protector))
    server.register_endpoint(Revocation)


# fmt: off
CLAIMS = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "preferred_username", "email",
    "email_verified", "state", "eve_character_id", "eve_character_name", "eve_corporation",
    "eve_alliance", "groups",
]
# fmt: on


def discovery():
    """The OpenID Provider metadata, as /.well-known/openid-configuration serves it."""
    base = issuer()
    return {
        "issuer": base,
        "authorization_endpoint": base + url_for("oidc.authorize"),
        "token_endpoint": base + url_for("oidc.token"),
        "userinfo_endpoint": base + url_for("oidc.userinfo"),
        "jwks_uri": base + url_for("oidc.jwks"),
        "revocation_endpoint": base + url_for("oidc.revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "end_session_endpoint": base + url_for("oidc.end_session"),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "scopes_supported": ["openid", "profile", "email", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
    }
