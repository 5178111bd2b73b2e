"""The EVE client against the sandbox over real HTTP: typed errors, headers, the cache and the hook."""

import pytest

from app.eve.client import EveClient
from app.eve.errors import ErrorLimited, InvalidClient, InvalidGrant, NotFound, RateLimited, UpstreamDown
from tests.support import TEST_CLIENT_ID, TEST_CLIENT_SECRET


@pytest.fixture()
def seen():
    return []


@pytest.fixture()
def client(sandbox, seen):
    return EveClient(
        sandbox.url,
        f"{sandbox.url}/esi",
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        user_agent="Bastion/test (+tests@example.invalid)",
        timeout=2.0,
        on_response=lambda upstream, response, timed_out, malformed=False: seen.append(
            (upstream, response, timed_out)
        ),
    )


def _grant(sandbox, scopes=("esi-characters.read_corporation_roles.v1",)):
    character = sandbox.control("POST", "/characters", json={"name": "Client Pilot"})
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": character["character_id"], "client_id": TEST_CLIENT_ID, "scopes": list(scopes)},
    )
    return character, grant["refresh_token"]


def test_refresh_verify_and_roles(sandbox, client):
    character, token = _grant(sandbox)
    sandbox.control("POST", f"/characters/{character['character_id']}/roles", json={"roles": ["Director"]})
    tokens = client.refresh(token)
    assert tokens["refresh_token"] != token
    claims = client.verify(tokens["access_token"])
    assert claims["character_id"] == character["character_id"]
    assert claims["owner"] == character["owner_hash"]
    assert claims["scp"] == ["esi-characters.read_corporation_roles.v1"]
    assert client.roles(character["character_id"], tokens["access_token"])["roles"] == ["Director"]


def test_a_used_refresh_token_raises_invalid_grant(sandbox, client):
    _, token = _grant(sandbox)
    client.refresh(token)
    with pytest.raises(InvalidGrant):
        client.refresh(token)


def test_wrong_secret_raises_invalid_client(sandbox):
    bad = EveClient(sandbox.url, f"{sandbox.url}/esi", TEST_CLIENT_ID, "wrong", user_agent="t")
    _, token = _grant(sandbox)
    with pytest.raises(InvalidClient):
        bad.refresh(token)


def test_unknown_id_raises_not_found(sandbox, client):
    with pytest.raises(NotFound):
        client.character(1)


def test_every_esi_call_sends_compatibility_date_and_user_agent(sandbox, client):
    client.status()
    client.character(2117000001)
    client.affiliation([2117000001])
    stats = sandbox.stats()
    assert stats["missing_compatibility_date"] == 0 and stats["missing_user_agent"] == 0


def test_answers_are_cached_until_expires(sandbox, client):
    first = client.corporation(98700002)
    second = client.corporation(98700002)
    assert first == second
    calls = sandbox.stats()["calls"]
    assert calls == {"GET /esi/corporations/<int:corporation_id> 200": 1}


def test_expired_answers_are_revalidated_with_the_etag(sandbox, client):
    client.alliance(99100001)
    url = f"{sandbox.url}/esi/alliances/99100001"
    body, etag, _ = client.cache.get(url)
    client.cache.put(url, body, etag, 0)  # as if Expires had passed
    assert client.alliance(99100001) == body
    assert sandbox.stats()["calls"]["GET /esi/alliances/<int:alliance_id> 304"] == 1


def test_420_raises_error_limited_with_the_reset(sandbox, client):
    sandbox.configure(error_limit=1)
    with pytest.raises(NotFound):
        client.character(1)
    with pytest.raises(ErrorLimited) as caught:
        client.character(2117000001)
    assert caught.value.reset > 0 and caught.value.transient


def test_429_raises_rate_limited_with_retry_after(sandbox, client):
    sandbox.configure(sso_rate_limit=1)
    _, token = _grant(sandbox)
    client.refresh(token)
    with pytest.raises(RateLimited) as caught:
        client.refresh("another")
    assert caught.value.retry_after == 1.0


def test_5xx_and_timeouts_raise_upstream_down(sandbox, client, seen):
    sandbox.configure(esi_fault_rate=1.0, timeout_share=0.0)
    with pytest.raises(UpstreamDown):
        client.status()
    sandbox.configure(esi_fault_rate=1.0, timeout_share=1.0, hang_s=3.0)
    with pytest.raises(UpstreamDown, match="timed out"):
        client.status()
    assert seen[-1][2] is True


def test_every_response_reaches_the_hook_with_its_limit_headers(sandbox, client, seen):
    client.character(2117000001)
    upstream, response, timed_out = seen[-1]
    assert upstream == "esi" and not timed_out
    assert "X-ESI-Error-Limit-Remain" in response.headers
    _, token = _grant(sandbox)
    client.refresh(token)
    assert seen[-1][0] == "sso"


def test_affiliation_refuses_an_empty_or_oversized_batch(client):
    with pytest.raises(ValueError):
        client.affiliation([])
    with pytest.raises(ValueError):
        client.affiliation(range(1, 1002))


def test_an_error_page_that_is_not_json_is_an_upstream_failure_never_a_verdict(sandbox, client):
    """SSO answering 400 with an HTML page (a proxy's error page) or a cut-off body has not refused
    the token: the governor hears of a failure (it backs off as for a 5xx), and the caller gets
    UpstreamDown, which is tried again later, never InvalidGrant or BadRequest."""
    failures = []
    client.metadata()  # read once, before the faults
    client.on_response = lambda upstream, response, timed_out, malformed=False: failures.append(malformed)
    _, token = _grant(sandbox)
    sandbox.configure(sso_fault_rate=1.0, timeout_share=0.0, garbage_share=1.0, garbage_status=400)
    for _ in range(6):
        with pytest.raises(UpstreamDown, match="answered 400 with no JSON"):
            client.refresh(token)
    assert failures == [True] * 6
    sandbox.configure(sso_fault_rate=0.0)
    assert client.refresh(token)["refresh_token"]  # the token was never used
