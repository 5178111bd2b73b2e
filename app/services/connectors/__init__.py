"""Connectors: how Bastion tells an outside system that a user gained, changed or lost access.

The interface and the shared HTTP handling are in ``base.py``; each kind of service has a module.
"""

from app.services.connectors.base import Connector, ConnectorError
from app.services.connectors.discord import DiscordConnector
from app.services.connectors.forward_auth import ForwardAuthConnector
from app.services.connectors.mumble import MumbleConnector
from app.services.connectors.oidc import OidcConnector
from app.services.connectors.webhook import WebhookConnector

CONNECTORS = {
    cls.kind: cls
    for cls in (
        WebhookConnector,
        ForwardAuthConnector,
        DiscordConnector,
        OidcConnector,
        MumbleConnector,
    )
}


def connector_for(service):
    """The connector of a service's kind."""
    try:
        return CONNECTORS[service.kind](service)
    except KeyError:
        raise ConnectorError(f"no connector for services of kind {service.kind!r}") from None


__all__ = ["CONNECTORS", "Connector", "ConnectorError", "connector_for"]
