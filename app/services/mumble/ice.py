"""Reaching a Mumble server's Ice interface: the Ice runtime, Murmur's Slice, and one virtual server.

ZeroC Ice for Python comes from Debian (python3-zeroc-ice, with zeroc-ice-slice); it is loaded only
when a Mumble service is used, so Bastion runs without it otherwise.
"""

import threading
from contextlib import contextmanager
from pathlib import Path

from app.services.connectors.base import ConnectorError

SLICE = Path(__file__).with_name("Murmur.ice")
SLICE_DIRS = ("/usr/share/ice/slice", "/usr/share/slice")
_loaded = threading.Lock()


def modules():
    """(Ice, Murmur), loading Murmur's Slice the first time; ConnectorError when Ice is missing."""
    try:
        import Ice
    except ImportError:
        raise ConnectorError(
            "ZeroC Ice for Python is not installed (apt-get install python3-zeroc-ice zeroc-ice-slice)"
        ) from None
    with _loaded:
        try:
            import Murmur
        except ImportError:
            include = Ice.getSliceDir() or next((d for d in SLICE_DIRS if Path(d, "Ice").is_dir()), None)
            if include is None:
                raise ConnectorError(
                    "Ice's Slice files are missing (apt-get install zeroc-ice-slice)"
                ) from None
            Ice.loadSlice("", ["-I" + include, str(SLICE)])
            import Murmur
    return Ice, Murmur


def communicator(secret, timeout_ms=5000):
    """A new Ice communicator that sends the server's secret with every call."""
    ice, _ = modules()
    data = ice.InitializationData()
    data.properties = ice.createProperties()
    data.properties.setProperty("Ice.ImplicitContext", "Shared")
    data.properties.setProperty("Ice.Default.EncodingVersion", "1.0")  # what Murmur speaks
    data.properties.setProperty("Ice.Default.InvocationTimeout", str(timeout_ms))
    data.properties.setProperty("Ice.Override.ConnectTimeout", str(timeout_ms))
    data.properties.setProperty("Ice.MessageSizeMax", "65536")
    data.properties.setProperty("Ice.ThreadPool.Server.Size", "4")
    made = ice.initialize(data)
    made.getImplicitContext().put("secret", secret or "")
    return made


def server_of(made, settings):
    """The virtual server the settings name, on an open communicator; ConnectorError when unreachable."""
    ice, murmur = modules()
    where = f"Meta:tcp -h {settings['ice_host']} -p {int(settings['ice_port'])}"
    try:
        meta = murmur.MetaPrx.checkedCast(made.stringToProxy(where))
        server = meta.getServer(int(settings.get("server_id") or 1)) if meta is not None else None
    except murmur.InvalidSecretException:
        raise ConnectorError("the Mumble server refused the Ice secret") from None
    except ice.Exception as exc:
        raise ConnectorError(
            f"could not reach the Mumble server's Ice interface ({exc.ice_id()})", transient=True
        ) from None
    if server is None:
        raise ConnectorError(f"the Mumble server has no virtual server {settings.get('server_id') or 1}")
    return server


@contextmanager
def open_server(settings):
    """The service's virtual server for a few calls; Ice failures become ConnectorError."""
    ice, murmur = modules()
    made = communicator(settings.get("ice_secret"))
    try:
        yield server_of(made, settings)
    except murmur.InvalidSecretException:
        raise ConnectorError("the Mumble server refused the Ice secret") from None
    except murmur.ServerBootedException:
        raise ConnectorError("the Mumble virtual server is not running", transient=True) from None
    except ice.Exception as exc:
        raise ConnectorError(
            f"the Mumble server's Ice call failed ({exc.ice_id()})", transient=True
        ) from None
    finally:
        made.destroy()
