"""panva's openid-client (npm, pinned in tests/rp/package-lock.json), a relying party nobody on the
project wrote, signs members in through Bastion over HTTP: discovery, the code flow with PKCE and
a nonce, the ID token checked against the JWKS, userinfo, refresh, revocation, and a signing key
turned over while it keeps its JWKS cached."""

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.oidc import keys
from tests.services.conftest import CALLBACK
from tests.support import NODE, csrf_token_from, npm_packages

RP = Path(__file__).resolve().parent.parent / "rp"


@pytest.fixture(scope="session")
def node_modules():
    """tests/rp's packages, installed with npm ci once per lock file."""
    return npm_packages(RP, "openid-client")


class RelyingParty:
    """The openid-client script, one command and one answer at a time."""

    def __init__(self, node_modules, issuer, client_id, secret):
        script = node_modules.parent / "openid_client.mjs"
        shutil.copy(RP / "openid_client.mjs", script)
        self.process = subprocess.Popen(  # noqa: S603
            [NODE, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = self.send({"issuer": issuer, "client_id": client_id, "client_secret": secret})
        assert ready.get("ready"), ready

    def send(self, message):
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read()
        return json.loads(line)

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture()
def relying_party(node_modules, live_server, forum):
    """openid-client configured for the forum's client against the live Bastion."""
    client_id, secret, _ = forum
    party = RelyingParty(node_modules, live_server, client_id, secret)
    yield party
    party.stop()


def _browser_session(live_server):
    session = requests.Session()
    token = csrf_token_from(session.get(f"{live_server}/login", timeout=10).text)
    signed = session.post(
        f"{live_server}/login",
        data={"username": "reader", "password": "correct horse battery", "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 302
    return session


def _callback(session, live_server, client_id):
    """The member's browser asks for a code: the callback URL the site receives, and what it keeps."""
    verifier, state, nonce = generate_token(48), generate_token(16), generate_token(16)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile groups",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    page = session.get(f"{live_server}/oauth/authorize", params=query, timeout=10).text
    target = page.split('http-equiv="refresh" content="0;url=')[1].split('"')[0].replace("&amp;", "&")
    assert "code" in parse_qs(urlparse(target).query), target
    return {"callback": target, "verifier": verifier, "state": state, "nonce": nonce}


def test_openid_client_signs_a_member_in_refreshes_and_revokes(live_server, forum, relying_party):
    client_id, _, member = forum
    session = _browser_session(live_server)
    signed = relying_party.send({"op": "exchange", **_callback(session, live_server, client_id)})
    assert "error" not in signed, signed
    assert signed["claims"]["sub"] == str(member.id) and signed["claims"]["aud"] == [client_id]
    assert signed["claims"]["auth_time"] > 0 and signed["userinfo"]["groups"] == ["forum", "member"]
    refreshed = relying_party.send({"op": "refresh", "refresh_token": signed["refresh_token"]})
    assert "error" not in refreshed and refreshed["refresh_token"] != signed["refresh_token"]
    reused = relying_party.send({"op": "refresh", "refresh_token": signed["refresh_token"]})
    assert reused["error"] == "OAUTH_RESPONSE_BODY_ERROR" and reused["oauth_error"] == "invalid_grant"
    revoked = relying_party.send({"op": "revoke", "token": refreshed["access_token"], "hint": "access_token"})
    assert revoked == {"revoked": True}
    gone = requests.get(
        f"{live_server}/oauth/userinfo", headers={"Authorization": f"Bearer {refreshed['access_token']}"}
    )
    assert gone.status_code == 401


def test_a_turned_over_key_never_fails_a_site_whose_jwks_is_cached(
    app, db, live_server, forum, relying_party
):
    """openid-client keeps the JWKS it fetched; a key turned over is published first, so the next
    sign-ins (still signed by the old key until the new one's time comes) go through at once."""
    client_id, _, _ = forum
    session = _browser_session(live_server)
    first = relying_party.send({"op": "exchange", **_callback(session, live_server, client_id)})
    assert "error" not in first, first
    old = keys.current().kid
    keys.rotate()
    for _ in range(3):
        again = relying_party.send({"op": "exchange", **_callback(session, live_server, client_id)})
        assert "error" not in again, again  # before, OAUTH_KEY_SELECTION_FAILED for about a minute
    assert keys.current().kid == old
