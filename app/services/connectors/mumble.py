"""Mumble: the member's account follows their grant. Access makes (or renames) the account, whose
password the member makes on My services; logins are answered by the authenticator process from
the grant at that moment. When access ends, a member still connected is disconnected at once."""

import contextlib

from app.extensions import db
from app.services import names
from app.services.connectors.base import Connector, ConnectorError
from app.services.mumble import ice
from app.services.mumble.accounts import ID_OFFSET, account_of, ensure_account


class MumbleConnector(Connector):
    """Keeps the member's Mumble account named by the template; kicks them when access ends."""

    kind = "mumble"

    def provision(self, event):
        ensure_account(self.service, event["user"]["id"], names.name_for(self.service, event))
        db.session.flush()

    update = provision

    def deprovision(self, event):
        account = account_of(self.service.id, event["user"]["id"])
        if account is None:
            return None
        _, murmur = ice.modules()
        with ice.open_server(self.settings) as server:
            for user in server.getUsers().values():
                if user.userid == ID_OFFSET + account.id:
                    with contextlib.suppress(murmur.InvalidSessionException):  # gone meanwhile
                        server.kickUser(user.session, f"Your access to {self.service.name} has ended.")
        return None

    def check(self):
        with ice.open_server(self.settings) as server:
            if not server.isRunning():
                raise ConnectorError("the Mumble virtual server is not running")
        return None
