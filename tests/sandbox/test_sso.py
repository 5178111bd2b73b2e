"""The sandbox's SSO keeps EVE's contract: codes work once, refresh tokens rotate, clients are checked."""

import base64
import threading
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support import TEST_CLIENT_ID, TEST_CLIENT_SECRET

AUTH = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)
REDIRECT = "http://localhost/sso/callback"


def _token(sandbox, data, auth=AUTH):
    return requests.post(f"{sandbox.url}/v2/oauth/token", data=data, auth=auth, timeout=10)


def _new_grant(sandbox, scopes=("esi-characters.read_corporation_roles.v1",)):
    character = sandbox.control("POST", "/characters", json={"name": "Grant Holder"})
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": character["character_id"], "client_id": TEST_CLIENT_ID, "scopes": list(scopes)},
    )
    return character, grant["refresh_token"]


def _authorize(sandbox, character_id, state="s1"):
    """Approve on the authorize page as a person would, and return the code from the redirect."""
    params = {
        "response_type": "code",
        "client_id": TEST_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "esi-characters.read_corporation_roles.v1",
        "state": state,
    }
    page = requests.get(f"{sandbox.url}/v2/oauth/authorize", params=params, timeout=10)
    assert page.status_code == 200 and "Authorize" in page.text
    answer = requests.post(
        f"{sandbox.url}/v2/oauth/authorize",
        data={**params, "character_id": character_id},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


def test_metadata_names_the_endpoints(sandbox):
    data = requests.get(f"{sandbox.url}/.well-known/oauth-authorization-server", timeout=10).json()
    assert data["issuer"] == sandbox.url
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint"):
        assert data[name].startswith(sandbox.url)
    keys = requests.get(data["jwks_uri"], timeout=10).json()["keys"]
    assert keys[0]["alg"] == "RS256" and keys[0]["kid"]


def test_a_code_works_once(sandbox):
    code = _authorize(sandbox, 2117000002)
    first = _token(sandbox, {"grant_type": "authorization_code", "code": code})
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1199 and body["refresh_token"]
    replay = _token(sandbox, {"grant_type": "authorization_code", "code": code})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_is_refused(sandbox):
    params = {
        "response_type": "code",
        "client_id": TEST_CLIENT_ID,
        "redirect_uri": "https://evil.example/cb",
        "scope": "",
        "state": "x",
    }
    page = requests.get(f"{sandbox.url}/v2/oauth/authorize", params=params, timeout=10)
    assert page.status_code == 400 and "not registered" in page.text


def test_refresh_tokens_rotate_and_the_old_one_stops_working(sandbox):
    _, token = _new_grant(sandbox)
    first = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != token
    reused = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert _token(sandbox, {"grant_type": "refresh_token", "refresh_token": rotated}).status_code == 200
    stats = sandbox.stats()
    assert stats["rotated_token_reuse"] == 1
    assert stats["refreshes_ok"] == 2 and stats["duplicate_refreshes"] == 1


def test_wrong_client_secret_is_invalid_client(sandbox):
    _, token = _new_grant(sandbox)
    answer = _token(
        sandbox, {"grant_type": "refresh_token", "refresh_token": token}, auth=(TEST_CLIENT_ID, "wrong")
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_two_concurrent_refreshes_give_one_success_and_one_invalid_grant(sandbox):
    _, token = _new_grant(sandbox)
    sandbox.configure(latency_ms=300)
    barrier = threading.Barrier(2)
    answers = []

    def refresh():
        barrier.wait()
        answers.append(_token(sandbox, {"grant_type": "refresh_token", "refresh_token": token}))

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400]
    assert next(a for a in answers if a.status_code == 400).json()["error"] == "invalid_grant"
    stats = sandbox.stats()
    assert stats["overlapping_refreshes"] == 1
    assert stats["rotated_token_reuse"] == 1


def test_revoked_grant_cannot_refresh(sandbox):
    _, token = _new_grant(sandbox)
    answer = requests.post(
        f"{sandbox.url}/v2/oauth/revoke",
        auth=AUTH,
        timeout=10,
        data={"token": token, "token_type_hint": "refresh_token"},
    )
    assert answer.status_code == 200
    refused = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_hidden_rate_limit_answers_429_with_retry_after(sandbox):
    sandbox.configure(sso_rate_limit=3)
    answers = [_token(sandbox, {"grant_type": "refresh_token", "refresh_token": "nope"}) for _ in range(6)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert limited[0].headers["Retry-After"] == "1"
    assert sandbox.stats()["sso_429"] == len(limited)


def test_injected_faults_answer_5xx(sandbox):
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0)
    answer = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": "x"})
    assert answer.status_code in (500, 502, 503)
    assert sandbox.stats()["faults"] == 1


def test_selling_a_character_changes_its_owner_hash(sandbox):
    character, _ = _new_grant(sandbox)
    sold = sandbox.control("POST", f"/characters/{character['character_id']}/sell")
    assert sold["owner_hash"] != character["owner_hash"]
    for owner in (sold["owner_hash"], character["owner_hash"]):  # EVE's form: a SHA-1 in base64
        assert len(owner) == 28 and len(base64.b64decode(owner, validate=True)) == 20


def test_control_api_explains_bad_calls(sandbox):
    answer = requests.post(f"{sandbox.url}/_sandbox/characters", json={}, timeout=10)
    assert answer.status_code == 400 and "name" in answer.json()["error"]
    answer = requests.post(f"{sandbox.url}/_sandbox/config", json={"nonsense": 1}, timeout=10)
    assert answer.status_code == 400 and "nonsense" in answer.json()["error"]


def test_a_misbehaving_sso_refuses_live_grants_and_revoked_ones_come_back(sandbox):
    character, token = _new_grant(sandbox)
    sandbox.configure(spurious_invalid_grant_rate=1.0)
    refused = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert sandbox.control("GET", "/stats")["spurious_invalid_grants"] == 1
    sandbox.configure(spurious_invalid_grant_rate=0.0)
    answer = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token})
    assert answer.status_code == 200  # nothing was revoked or rotated by the refusal
    token = answer.json()["refresh_token"]

    sandbox.control("POST", "/grants/revoke", json={"character_id": character["character_id"]})
    assert _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token}).status_code == 400
    assert sandbox.control("POST", "/grants/unrevoke", json={"character_id": character["character_id"]})[
        "unrevoked"
    ]
    assert _token(sandbox, {"grant_type": "refresh_token", "refresh_token": token}).status_code == 200
    missing = requests.post(f"{sandbox.url}/_sandbox/grants/unrevoke", json={"character_id": 1}, timeout=10)
    assert missing.status_code == 400 and "no matching grant" in missing.text
