"""The demo's own settings: two demos on one machine never share a Murmur or its Ice secret."""

import subprocess
import sys


def _murmur_of(instance, **env):
    """(voice port, Ice port, secret) the demo's Murmur would use for an instance folder."""
    code = "from app import devmumble; p, i = devmumble.ports(); print(p, i, devmumble.ice_secret())"
    made = subprocess.run(
        [sys.executable, "-c", code],
        env={"BASTION_INSTANCE_DIR": str(instance), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.split()


def test_each_demo_has_its_own_murmur_ports_and_secret(tmp_path):
    first = _murmur_of(tmp_path / "one")
    assert first[:2] == ["64738", "6502"] and len(first[2]) >= 30
    assert _murmur_of(tmp_path / "one") == first  # kept
    second = _murmur_of(tmp_path / "two", MUMBLE_PORT="64740", MUMBLE_ICE_PORT="6503")
    assert second[:2] == ["64740", "6503"] and second[2] != first[2]
    refused = subprocess.run(
        [sys.executable, "-c", "from app import devmumble; devmumble.ports()"],
        env={"BASTION_INSTANCE_DIR": str(tmp_path), "MUMBLE_PORT": "voice", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1 and "MUMBLE_PORT must be a port number" in refused.stderr


def test_the_demo_names_its_own_address_for_links_behind_a_proxy():
    """make run sets PUBLIC_URL to the demo's address, so forward auth behind a proxy sends a visitor
    to Bastion's login page, not to the proxy's own /login."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    made = subprocess.run(
        ["make", "-pn", "run", "PORT=5123"], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    exported = [line for line in made.stdout.splitlines() if line.startswith("run: PUBLIC_URL")]
    assert exported == ["run: PUBLIC_URL = http://127.0.0.1:$(PORT)"], made.stdout[-2000:]
