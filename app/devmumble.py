"""Run Debian's Mumble server for the demo (``make run``): voice on 127.0.0.1:64738, its Ice
interface on 127.0.0.1:6502 with the demo's secret, its data under instance/mumble/.

Without mumble-server installed, it says so and waits, so the rest of the demo runs on.
"""

import os
import shutil
import signal
import sys
from pathlib import Path

from config import INSTANCE_DIR

DEMO_ICE_PORT = 6502
DEMO_PORT = 64738
DEMO_ICE_SECRET = "bastion-demo-ice-secret"  # noqa: S105  (the demo server's, on 127.0.0.1 only)


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
    lines = [
        f"database={root / 'murmur.sqlite'}",
        f'ice="tcp -h 127.0.0.1 -p {DEMO_ICE_PORT}"',
        f"icesecretwrite={DEMO_ICE_SECRET}",
        f"icesecretread={DEMO_ICE_SECRET}",
        "host=127.0.0.1",
        f"port={DEMO_PORT}",
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
