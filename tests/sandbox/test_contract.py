"""The sandbox's ESI routes hold to ESI's own OpenAPI description (sandbox/contract/esi-openapi.json)."""

import re

import pytest
import requests
from jsonschema import Draft202012Validator

from sandbox.contract import esi_spec
from tests.support import TEST_CLIENT_ID, TEST_CLIENT_SECRET

HEADERS = {"X-Compatibility-Date": "2020-01-01", "User-Agent": "contract-test"}


@pytest.fixture(scope="module")
def spec():
    return esi_spec()


def _sandbox_routes(sandbox):
    """(method, OpenAPI-style path) of every ESI route the sandbox serves."""
    routes = set()
    for rule in sandbox.app.url_map.iter_rules():
        if not rule.rule.startswith("/esi/"):
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule[len("/esi") :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def _validator(spec, method, path, status="200"):
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": spec["components"]})


def test_every_sandbox_esi_route_is_in_the_spec(spec, sandbox):
    routes = _sandbox_routes(sandbox)
    assert len(routes) >= 6
    for method, path in routes:
        assert path in spec["paths"], f"{path} is not an ESI path"
        assert method in spec["paths"][path], f"{method.upper()} {path} is not in ESI"


def test_responses_carry_the_required_fields(spec, sandbox):
    character = sandbox.control(
        "POST", "/characters", json={"name": "Contract Pilot", "corporation_id": 98700002}
    )
    grant = sandbox.control(
        "POST",
        "/grants",
        json={
            "character_id": character["character_id"],
            "client_id": TEST_CLIENT_ID,
            "scopes": ["esi-characters.read_corporation_roles.v1"],
        },
    )
    token = requests.post(
        f"{sandbox.url}/v2/oauth/token",
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
    ).json()
    cid = character["character_id"]
    calls = {
        ("get", "/status"): ("/status", {}),
        ("get", "/characters/{character_id}"): (f"/characters/{cid}", {}),
        ("get", "/corporations/{corporation_id}"): ("/corporations/98700002", {}),
        ("get", "/alliances/{alliance_id}"): ("/alliances/99100001", {}),
        ("get", "/characters/{character_id}/roles"): (
            f"/characters/{cid}/roles",
            {"Authorization": f"Bearer {token['access_token']}"},
        ),
    }
    for (method, path), (url, extra) in calls.items():
        answer = requests.get(f"{sandbox.url}/esi{url}", headers={**HEADERS, **extra}, timeout=10)
        assert answer.status_code == 200, (url, answer.text)
        errors = list(_validator(spec, method, path).iter_errors(answer.json()))
        assert not errors, f"{path}: {[e.message for e in errors]}"
    affiliation = requests.post(
        f"{sandbox.url}/esi/characters/affiliation", json=[cid, 2117000001], headers=HEADERS, timeout=10
    )
    errors = list(_validator(spec, "post", "/characters/affiliation").iter_errors(affiliation.json()))
    assert not errors, [e.message for e in errors]


def test_errors_have_the_error_shape(spec, sandbox):
    validator = Draft202012Validator(
        {**spec["components"]["schemas"]["Error"], "components": spec["components"]}
    )
    answer = requests.get(f"{sandbox.url}/esi/characters/1", headers=HEADERS, timeout=10)
    assert answer.status_code == 404
    assert not list(validator.iter_errors(answer.json()))


def test_affiliation_bounds_match_the_spec(spec, sandbox):
    body = spec["paths"]["/characters/affiliation"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    low, high = body["minItems"], body["maxItems"]
    assert body["uniqueItems"] is True
    made = sandbox.control("POST", "/characters/bulk", json={"count": high, "client_id": TEST_CLIENT_ID})
    ids = [c["character_id"] for c in made["characters"]]

    def post(payload):
        return requests.post(
            f"{sandbox.url}/esi/characters/affiliation", json=payload, headers=HEADERS, timeout=30
        )

    full = post(ids)
    assert full.status_code == 200 and len(full.json()) == high
    assert post(ids + [2117000001]).status_code == 400
    assert post(ids[: low - 1]).status_code == 400
    assert post(ids[:low]).status_code == 200


def test_bucket_limited_routes_send_bucket_headers_and_others_error_limit_headers(spec, sandbox):
    """On one route it is either the error-limit headers or the bucket headers, as x-rate-limit says."""
    plain = requests.get(f"{sandbox.url}/esi/alliances/99100001", headers=HEADERS, timeout=10)
    assert "x-rate-limit" not in spec["paths"]["/alliances/{alliance_id}"]["get"]
    assert "X-ESI-Error-Limit-Remain" in plain.headers and "X-Ratelimit-Group" not in plain.headers
    status = requests.get(f"{sandbox.url}/esi/status", headers=HEADERS, timeout=10)
    group = spec["paths"]["/status"]["get"]["x-rate-limit"]["group"]
    assert status.headers["X-Ratelimit-Group"] == group
    assert "X-ESI-Error-Limit-Remain" not in status.headers


def test_universe_ids_answers_as_the_spec_says_and_keeps_its_bounds(spec, sandbox):
    body = spec["paths"]["/universe/ids"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    corp = sandbox.control("POST", "/corporations", json={"name": "Exact Name Corp", "ticker": "EXACT"})

    def post(payload):
        return requests.post(f"{sandbox.url}/esi/universe/ids", json=payload, headers=HEADERS, timeout=10)

    found = post(["exact name corp", "Nobody At All"])
    assert found.status_code == 200
    assert found.json() == {"corporations": [{"id": corp["corporation_id"], "name": "Exact Name Corp"}]}
    assert not list(_validator(spec, "post", "/universe/ids").iter_errors(found.json()))
    assert post(["Nobody At All"]).json() == {}  # ESI leaves out categories without a match
    assert post([]).status_code == 400
    assert post(["x" * (body["items"]["maxLength"] + 1)]).status_code == 400
    assert post([f"n{i}" for i in range(body["maxItems"] + 1)]).status_code == 400
    assert post(["same", "same"]).status_code == 400


def test_the_kept_description_is_refreshed_only_from_esis_own(tmp_path):
    """`python -m sandbox.contract` copies ESI's description in unchanged and refuses anything else."""
    import subprocess
    import sys

    from sandbox.contract import ESI_SPEC

    def refresh(path):
        return subprocess.run(
            [sys.executable, "-m", "sandbox.contract", str(path), "--into", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    not_esi = tmp_path / "other.json"
    not_esi.write_text('{"openapi": "3.1.0", "paths": {"/pets": {}}}')
    refused = refresh(not_esi)
    assert refused.returncode == 2
    assert "not ESI's OpenAPI description" in refused.stderr
    assert not (tmp_path / "esi-openapi.json").exists()

    taken = refresh(ESI_SPEC)
    assert taken.returncode == 0, taken.stderr
    assert (tmp_path / "esi-openapi.json").read_bytes() == ESI_SPEC.read_bytes()
    assert "182 paths" in (tmp_path / "SOURCE.md").read_text()
