"""Ending tokens: a site's own revocation request (RFC 7009), a family revoked when a code or a
refresh token comes back (RFC 6749 4.1.2, RFC 9700 4.14), and everything a user was signed out of."""

import logging

from authlib.oauth2.rfc7009 import RevocationEndpoint

from app.accounts.models import User, signed_out_everywhere
from app.audit import record
from app.extensions import db
from app.oidc.models import OidcToken, digest

log = logging.getLogger(__name__)


class Revocation(RevocationEndpoint):
    """RFC 7009: a site ends a token it holds. A token of another site is left alone (and the
    caller told so); an unknown one answers 200, as the RFC says, so nothing can be probed."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        value = digest(token_string or "")
        by_access = db.select(OidcToken).filter_by(access_hash=value)
        by_refresh = db.select(OidcToken).filter_by(refresh_hash=value)
        refresh_first = token_type_hint == "refresh_token"  # noqa: S105  (a hint's name)
        first, second = (by_refresh, by_access) if refresh_first else (by_access, by_refresh)
        return db.session.scalars(first).first() or db.session.scalars(second).first()

    def revoke_token(self, token, request):
        """A refresh token ends its whole family (the access tokens it led to); an access token ends
        alone."""
        if digest(request.form.get("token") or "") == token.refresh_hash and token.family:
            db.session.execute(
                db.update(OidcToken).where(OidcToken.family == token.family).values(revoked=True)
            )
        else:
            token.revoked = True
        db.session.commit()


def reused(token):
    """A refresh token already turned over came back (RFC 9700, 4.14.2)."""
    revoke_family(
        token.family,
        token.client_id,
        token.user_id,
        "oidc.refresh_reused",
        "a refresh token came back after it was turned over",
    )


@signed_out_everywhere.connect
def revoke_all_of(user, **_):
    """The user was signed out everywhere: every token any site holds for them stops working."""
    db.session.execute(
        db.update(OidcToken)
        .where(OidcToken.user_id == user.id, OidcToken.revoked.is_(False))
        .values(revoked=True)
    )


def revoke_family(family, client_id, user_id, action, why):
    """Someone holds a copy of a code or refresh token, the site or a thief: every live token of the
    family it belongs to is revoked, so both must sign in again; audited."""
    which = OidcToken.family == family
    if family is None:  # issued before families were kept: the member's tokens at this site
        which = db.and_(OidcToken.client_id == client_id, OidcToken.user_id == user_id)
    revoked = db.session.execute(
        db.update(OidcToken).where(which, OidcToken.revoked.is_(False)).values(revoked=True)
    ).rowcount
    record(
        action,
        target=db.session.get(User, user_id),
        detail=f"{why} at client {client_id}; {revoked} live token(s) revoked",
    )
    db.session.commit()
    log.warning("oidc: %s at client %s (user %s): family revoked", why, client_id, user_id)
