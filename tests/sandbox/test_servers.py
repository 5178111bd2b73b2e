"""``python -m sandbox --server …``: each way of serving it (Werkzeug's server by default, gunicorn
and Granian for benchmarks) answers a token refresh and the roles call that follows the same way,
keeps one universe, and leaves no process behind when stopped."""

from pathlib import Path

import pytest
import requests

from bench.servers import SandboxProcess
from sandbox.esi import ROLES_SCOPE
from tests.sandbox.test_esi import HEADERS


@pytest.mark.parametrize("server", ["werkzeug", "gunicorn", "granian"])
def test_each_server_refreshes_answers_roles_and_stops_clean(server):
    sandbox = SandboxProcess(server=server).start()
    try:
        processes = sandbox.pids()
        client = {"client_id": "c", "client_secret": "s", "redirect_uris": []}
        sandbox.control("POST", "/clients", json=client)
        corporation = sandbox.control("POST", "/corporations", json={"name": "C", "ticker": "C"})
        made = sandbox.control(
            "POST",
            "/characters/bulk",
            json={
                "count": 1,
                "client_id": "c",
                "scopes": [ROLES_SCOPE],
                "corporation_id": corporation["corporation_id"],
            },
        )["characters"]
        character, token = made[0]["character_id"], made[0]["refresh_token"]
        with requests.Session() as http:
            answer = http.post(
                f"{sandbox.url}/v2/oauth/token",
                auth=("c", "s"),
                data={"grant_type": "refresh_token", "refresh_token": token},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            tokens = answer.json()
            assert tokens["refresh_token"] != token and tokens["token_type"] == "Bearer"
            again = http.post(  # the rotated token is dead: the universe is the one that rotated it
                f"{sandbox.url}/v2/oauth/token",
                auth=("c", "s"),
                data={"grant_type": "refresh_token", "refresh_token": token},
                timeout=10,
            )
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
            roles = http.get(
                f"{sandbox.url}/esi/characters/{character}/roles",
                headers={**HEADERS, "Authorization": f"Bearer {tokens['access_token']}"},
                timeout=10,
            )
        assert roles.status_code == 200 and roles.json()["roles"] == []
        assert roles.headers["X-Ratelimit-Group"] == "char-detail"
        stats = sandbox.control("GET", "/stats")
        assert stats["refresh_calls"] == 2 and stats["rotated_token_reuse"] == 1
    finally:
        sandbox.stop()
    for pid in processes:  # the worker goes with the server
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except OSError:
            continue
        assert state == "Z", f"process {pid} of the {server} sandbox still runs"
