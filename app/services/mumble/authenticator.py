"""The authenticator process: it registers with each Mumble service's server over Ice and answers
its login calls from Bastion's grants (``flask mumble authenticator``).

Every MUMBLE_REFRESH_S seconds it registers again with every enabled Mumble service, so a server
that restarted, or a service added meanwhile, is served without a restart. Murmur's calls are
synchronous (a slow answer stalls the server), so each answer is one short database read.
"""

import logging
import threading

from app.extensions import db
from app.services.connectors.base import ConnectorError
from app.services.models import Service
from app.services.mumble import ice
from app.services.mumble.accounts import ID_OFFSET, REFUSED, decide, reserve_murmur_names

log = logging.getLogger(__name__)


def _servant(app, service_id, slug):
    """A ServerAuthenticator servant for one service, answering inside an app context."""
    _, murmur = ice.modules()

    class Authenticator(murmur.ServerAuthenticator):
        def authenticate(self, name, pw, certificates, certhash, certstrong, current=None):
            try:
                with app.app_context():
                    try:
                        login = decide(service_id, name, pw)
                    finally:
                        db.session.remove()
            except Exception:  # the database failed: Murmur's "try again later"
                log.exception("mumble %s: login of %r could not be decided", slug, name)
                return (-3, "", [])
            log.info(
                "mumble %s: login of %r %s: %s",
                slug,
                name,
                "refused" if login.user_id == REFUSED else "answered",
                login.why,
            )
            return (login.user_id, login.name, login.groups)

        def getInfo(self, id, current=None):  # noqa: A002  (Murmur's names)
            return (False, {})

        def nameToId(self, name, current=None):
            return -2

        def idToName(self, id, current=None):  # noqa: A002
            return ""

        def idToTexture(self, id, current=None):  # noqa: A002
            return []

    return Authenticator()


def _where(settings):
    """What says where and how to reach a server (not what Bastion learnt from it)."""
    return {k: v for k, v in settings.items() if k != "murmur_names"}


class Authenticators:
    """The registrations with every Mumble service's server, kept up by ``refresh``."""

    def __init__(self, app, callback_host):
        self.app = app
        self.callback_host = callback_host
        self.attached = {}  # service id -> (communicator, settings, the servant's proxy)

    def refresh(self):
        """Register with every enabled Mumble service's server (again); how many are served."""
        with self.app.app_context():
            services = db.session.scalars(db.select(Service).filter_by(kind="mumble", enabled=True)).all()
            wanted = {s.id: (s.slug, s.settings) for s in services}
            db.session.remove()
        for service_id in set(self.attached) - set(wanted):
            self._detach(service_id)
        for service_id, (slug, settings) in wanted.items():
            try:
                server = self._attach(service_id, slug, settings)
                self._learn_names(service_id, slug, server)
            except ConnectorError as exc:
                log.warning("mumble %s: not attached: %s", slug, exc)
                self._detach(service_id)
        return len(self.attached)

    def _learn_names(self, service_id, slug, server):
        """Keep the names Murmur registered itself (its own users) with the service, so Bastion never
        gives a member one of them nor answers for them; a member who has one gets a new name."""
        try:
            names = server.getRegisteredUsers("")
        except Exception as exc:  # Ice's errors: the server went away mid-call
            raise ConnectorError(f"reading its users failed ({type(exc).__name__})", transient=True) from None
        with self.app.app_context():
            if reserve_murmur_names(service_id, [name for uid, name in names.items() if 0 < uid < ID_OFFSET]):
                log.info("mumble %s: Murmur's own users changed; clashing members renamed", slug)
            db.session.remove()

    def _attach(self, service_id, slug, settings):
        held = self.attached.get(service_id)
        if held is not None and _where(held[1]) != _where(settings):
            self._detach(service_id)
            held = None
        made = held[0] if held is not None else ice.communicator(settings.get("ice_secret"))
        _, murmur = ice.modules()
        try:
            server = ice.server_of(made, settings)
            if held is None:
                adapter = made.createObjectAdapterWithEndpoints(
                    "Authenticator", f"tcp -h {self.callback_host}"
                )
                adapter.activate()
                proxy = adapter.addWithUUID(_servant(self.app, service_id, slug))
                self.attached[service_id] = (
                    made,
                    settings,
                    murmur.ServerAuthenticatorPrx.uncheckedCast(proxy),
                )
            server.setAuthenticator(self.attached[service_id][2])
        except Exception as exc:
            if held is None:  # a communicator made for this attempt goes with it
                made.destroy()
                self.attached.pop(service_id, None)
            if isinstance(exc, ConnectorError):
                raise
            # Ice's own errors (the server went away mid-call)
            raise ConnectorError(f"registering failed ({type(exc).__name__})", transient=True) from None
        if held is None:
            log.info("mumble %s: authenticator attached", slug)
        return server

    def _detach(self, service_id):
        held = self.attached.pop(service_id, None)
        if held is not None:
            held[0].destroy()

    def close(self):
        for service_id in list(self.attached):
            self._detach(service_id)


def run(app, stop, interval, callback_host):
    """Serve every Mumble service until ``stop`` (a threading.Event) is set."""
    keeper = Authenticators(app, callback_host)
    try:
        while not stop.is_set():
            keeper.refresh()
            stop.wait(interval)
    finally:
        keeper.close()


def stop_on_signals():
    """An Event set by SIGTERM or SIGINT."""
    import signal

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop
