"""OpenID Connect: nothing to push when access starts (the member signs in through Bastion); when
it ends, the member's tokens for the service are revoked at once, so the next refresh or userinfo
call fails rather than waiting for the access token to expire."""

from app.extensions import db
from app.oidc.models import OidcToken
from app.services.connectors.base import Connector


class OidcConnector(Connector):
    """Revokes a member's tokens for the service when their grant ends."""

    kind = "oidc"
    calls_out = False

    def provision(self, event):
        return None

    update = provision

    def deprovision(self, event):
        client = self.service.oidc_client
        if client is None:
            return None
        db.session.execute(
            db.update(OidcToken)
            .where(OidcToken.client_id == client.client_id, OidcToken.user_id == event["user"]["id"])
            .values(revoked=True)
        )
        return None

    def check(self):
        return None
