"""Run Debian's Mumble server for the demo (``make run``): voice on 127.0.0.1:MUMBLE_PORT (64738),
its Ice interface on 127.0.0.1:MUMBLE_ICE_PORT (6502) with a secret of this instance's own, its
data under instance/mumble/. Two demos on one machine set other ports (as SANDBOX_PORT moves the
sandbox), and never share a Murmur or a secret.

Without mumble-server installed, it says so and waits, so the rest of the demo runs on.
"""

import os
import secrets
import shutil
import signal
import sys
from pathlib import Path

from config import INSTANCE_DIR


def _port(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isdigit() and 1 <= int(value) <= 65535):
        sys.exit(f"{name} must be a port number from 1 to 65535 (got {value!r}).")
    return int(value)


def ports():
    """(voice port, Ice port) of this demo's Murmur."""
    return _port("MUMBLE_PORT", 64738), _port("MUMBLE_ICE_PORT", 6502)


def ice_secret():
    """This instance's Ice secret, made once and kept in instance/mumble/ice-secret."""
    path = Path(INSTANCE_DIR) / "mumble" / "ice-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def main():
    """Replace this process with murmurd, or wait when it is not installed."""
    binary = shutil.which("murmurd") or ("/usr/sbin/murmurd" if Path("/usr/sbin/murmurd").exists() else None)
    if binary is None:
        print(
            "mumble-server is not installed (apt-get install mumble-server): the demo's voice waits for it."
        )
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            signal.pause()
    root = Path(INSTANCE_DIR) / "mumble"
    root.mkdir(parents=True, exist_ok=True)
    port, ice_port = ports()
    secret = ice_secret()
    lines = [
        f"database={root / 'murmur.sqlite'}",
        f'ice="tcp -h 127.0.0.1 -p {ice_port}"',
        f"icesecretwrite={secret}",
        f"icesecretread={secret}",
        "host=127.0.0.1",
        f"port={port}",
        "logfile=",
        "pidfile=",
        "bonjour=false",
        'welcometext="Bastion demo voice: log in with the username and password from My services."',
    ]
    if os.geteuid() == 0:
        lines.append("uname=root")  # a demo as root keeps its files where it can reach them
    ini = root / "murmur.ini"
    ini.write_text("\n".join(lines) + "\n")
    sys.stdout.flush()
    os.execv(binary, [binary, "-ini", str(ini), "-fg"])  # noqa: S606  (replaces this process)


if __name__ == "__main__":
    main()
