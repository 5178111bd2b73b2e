"""Forward auth: nothing to push; the reverse proxy asks ``/auth/forward/<service>`` on every request."""

from app.services.connectors.base import Connector


class ForwardAuthConnector(Connector):
    """Nothing to push: the reverse proxy asks /auth/forward/<service> on every request."""

    kind = "forward_auth"
    calls_out = False

    def provision(self, event):
        return None

    update = deprovision = provision

    def check(self):
        return None
