"""The sandbox's ESI: error limit and 420, buckets and 429, caching, affiliation bounds, scopes."""

import time

import requests

from tests.support import TEST_CLIENT_ID, TEST_CLIENT_SECRET

HEADERS = {"X-Compatibility-Date": "2020-01-01", "User-Agent": "tests"}


def _get(sandbox, path, **kwargs):
    headers = {**HEADERS, **kwargs.pop("headers", {})}
    return requests.get(f"{sandbox.url}/esi{path}", headers=headers, timeout=10, **kwargs)


def _access_token(sandbox, scopes):
    character = sandbox.control("POST", "/characters", json={"name": "Role Holder"})
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": character["character_id"], "client_id": TEST_CLIENT_ID, "scopes": scopes},
    )
    answer = requests.post(
        f"{sandbox.url}/v2/oauth/token",
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
        timeout=10,
    )
    return character["character_id"], answer.json()["access_token"]


def test_error_limit_headers_count_down_then_every_route_answers_420(sandbox):
    sandbox.configure(error_limit=5)
    remains = []
    for _ in range(5):
        answer = _get(sandbox, "/characters/1")
        assert answer.status_code == 404
        assert answer.json() == {"error": "Character not found"}
        remains.append(int(answer.headers["X-ESI-Error-Limit-Remain"]))
    assert remains == [4, 3, 2, 1, 0]
    assert int(answer.headers["X-ESI-Error-Limit-Reset"]) > 0
    blocked = _get(sandbox, "/characters/2117000001")
    assert blocked.status_code == 420
    assert _get(sandbox, "/status").status_code == 420
    assert sandbox.stats()["served_420"] == 2


def test_roles_has_bucket_headers_and_429_with_retry_after(sandbox):
    sandbox.configure(bucket_limits={"char-detail": 4, "status": 600})
    character_id, token = _access_token(sandbox, ["esi-characters.read_corporation_roles.v1"])
    auth = {"Authorization": f"Bearer {token}"}
    first = _get(sandbox, f"/characters/{character_id}/roles", headers=auth)
    assert first.status_code == 200 and first.json()["roles"] == []
    assert first.headers["X-Ratelimit-Group"] == "char-detail"
    assert first.headers["X-Ratelimit-Limit"] == "4/15m"
    assert first.headers["X-Ratelimit-Used"] == "2" and first.headers["X-Ratelimit-Remaining"] == "2"
    assert "X-ESI-Error-Limit-Remain" not in first.headers
    _get(sandbox, f"/characters/{character_id}/roles", headers=auth)
    limited = _get(sandbox, f"/characters/{character_id}/roles", headers=auth)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert sandbox.stats()["esi_429"] == 1


def test_roles_needs_a_token_with_the_scope_for_that_character(sandbox):
    assert _get(sandbox, "/characters/2117000001/roles").status_code == 401
    character_id, token = _access_token(sandbox, ["publicData"])
    auth = {"Authorization": f"Bearer {token}"}
    assert _get(sandbox, f"/characters/{character_id}/roles", headers=auth).status_code == 403
    assert _get(sandbox, "/characters/2117000001/roles", headers=auth).status_code == 403
    sandbox.control("POST", f"/characters/{character_id}/roles", json={"roles": ["Director"]})
    _, scoped = _access_token(sandbox, ["esi-characters.read_corporation_roles.v1"])
    assert (
        _get(
            sandbox, "/characters/2117000001/roles", headers={"Authorization": f"Bearer {scoped}"}
        ).status_code
        == 403
    )


def test_etag_and_expires_allow_a_304(sandbox):
    first = _get(sandbox, "/corporations/98700002")
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["Expires"]
    again = _get(sandbox, "/corporations/98700002", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_affiliation_bounds_and_one_bad_id_fails_the_batch(sandbox):
    def post(body):
        return requests.post(
            f"{sandbox.url}/esi/characters/affiliation", json=body, headers=HEADERS, timeout=10
        )

    assert post([]).status_code == 400
    assert post(list(range(1, 1002))).status_code == 400
    assert post([2117000001, 2117000001]).status_code == 400
    assert post(["x"]).status_code == 400
    mixed = post([2117000001, 1])
    assert mixed.status_code == 404 and "error" in mixed.json()
    good = post([2117000001, 2117000008]).json()
    assert {row["character_id"] for row in good} == {2117000001, 2117000008}
    by_id = {row["character_id"]: row for row in good}
    assert "alliance_id" in by_id[2117000001] and "alliance_id" not in by_id[2117000008]


def test_moving_a_character_changes_its_affiliation(sandbox):
    character = sandbox.control("POST", "/characters", json={"name": "Mover"})
    target = sandbox.control("POST", "/corporations", json={"name": "Elsewhere", "ticker": "ELSE"})
    sandbox.control(
        "POST",
        f"/characters/{character['character_id']}/move",
        json={"corporation_id": target["corporation_id"]},
    )
    data = _get(sandbox, f"/characters/{character['character_id']}").json()
    assert data["corporation_id"] == target["corporation_id"]


def test_malformed_compatibility_date_is_refused_and_missing_ones_are_counted(sandbox):
    assert _get(sandbox, "/status", headers={"X-Compatibility-Date": "yesterday"}).status_code == 400
    requests.get(f"{sandbox.url}/esi/status", timeout=10)
    assert sandbox.stats()["missing_compatibility_date"] == 1


def test_downtime_answers_503(sandbox):
    sandbox.configure(downtime=True)
    assert _get(sandbox, "/status").status_code == 503


def test_latency_is_added(sandbox):
    sandbox.configure(latency_ms=200)
    started = time.monotonic()
    _get(sandbox, "/alliances/99100001")
    assert time.monotonic() - started >= 0.2


def test_wrong_affiliation_data_puts_everyone_in_one_corporation(sandbox):
    import requests as http

    character = sandbox.control("POST", "/characters", json={"name": "Somewhere Pilot"})
    sandbox.configure(affiliation_corporation_override=98999999)
    rows = http.post(
        f"{sandbox.url}/esi/characters/affiliation", json=[character["character_id"]], timeout=10
    ).json()
    assert rows == [{"character_id": character["character_id"], "corporation_id": 98999999}]
