"""Log in with EVE through the sandbox: state, PKCE, codes, owner hashes."""

from urllib.parse import parse_qs, quote, urlsplit

import requests

from app.accounts.models import User
from app.corps.models import Character
from app.keys.models import Key


def approve(sandbox, authorize_url, character_id=None, new_name=None):
    """Do what the person does on EVE's login page; return the callback path with code and state."""
    parts = urlsplit(authorize_url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    form = dict(params)
    if new_name:
        form.update(new_name=new_name, corporation_id="98700002")
    else:
        form["character_id"] = str(character_id)
    answer = requests.post(f"{sandbox.url}/v2/oauth/authorize", data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"


def start(client, path="/login/eve"):
    response = client.get(path)
    assert response.status_code == 302
    return response.headers["Location"]


def test_first_login_makes_a_user_with_the_character_as_main(client, sandbox, db):
    authorize_url = start(client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    assert "esi-characters.read_corporation_roles.v1" in query["scope"][0]
    callback = approve(sandbox, authorize_url, new_name="Newbie Pilot")
    response = client.get(callback)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = db.session.scalar(
        db.select(User).join(Character, Character.user_id == User.id).filter(Character.name == "Newbie Pilot")
    )
    assert user.main_character.name == "Newbie Pilot"
    assert user.role == "member"
    assert user.main_character.corporation_id == 98700002
    key = user.keys[0]
    assert key.status == "pending" and key.owner_hash == user.main_character.owner_hash
    page = client.get("/keys").get_data(as_text=True)
    assert "Newbie Pilot" in page and "pending" in page


def test_a_later_login_finds_the_same_user(client, sandbox, db):
    callback = approve(sandbox, start(client), new_name="Returning Pilot")
    client.get(callback)
    first = db.session.scalar(db.select(Character).filter_by(name="Returning Pilot"))
    client.post("/logout", data={"csrf_token": _csrf(client)})
    client.get(approve(sandbox, start(client), character_id=first.id))
    assert db.session.scalar(db.select(db.func.count(User.id)).filter(User.username.is_(None))) == 1
    assert client.get("/keys").status_code == 200


def test_a_wrong_state_is_refused(client, sandbox, db):
    callback = approve(sandbox, start(client), new_name="State Pilot")
    tampered = callback.replace("state=", "state=x")
    response = client.get(tampered)
    assert response.status_code == 303
    assert db.session.scalar(db.select(Character).filter_by(name="State Pilot")) is None
    page = client.get("/login").get_data(as_text=True)
    assert "was not started here" in page


def test_a_replayed_callback_is_refused(client, sandbox, db):
    callback = approve(sandbox, start(client), new_name="Replay Pilot")
    assert client.get(callback).headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": _csrf(client)})
    replay = client.get(callback)
    assert replay.status_code == 303
    assert client.get("/keys").status_code == 302  # still logged out


def test_a_replayed_code_with_a_fresh_state_is_refused_by_sso(client, sandbox, db):
    callback = approve(sandbox, start(client), new_name="Code Pilot")
    client.get(callback)
    client.post("/logout", data={"csrf_token": _csrf(client)})
    fresh = parse_qs(urlsplit(start(client)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = client.get(f"/sso/callback?code={code}&state={fresh}")
    assert response.headers["Location"] == "/login"
    assert "did not confirm this login" in client.get("/login").get_data(as_text=True)


def test_a_sold_character_does_not_log_into_the_old_account(client, sandbox, db):
    client.get(approve(sandbox, start(client), new_name="Sold Pilot"))
    character = db.session.scalar(db.select(Character).filter_by(name="Sold Pilot"))
    client.post("/logout", data={"csrf_token": _csrf(client)})
    sandbox.control("POST", f"/characters/{character.id}/sell")
    response = client.get(approve(sandbox, start(client), character_id=character.id))
    assert response.headers["Location"] == "/login"
    assert "moved to another EVE account" in client.get("/login").get_data(as_text=True)
    assert client.get("/keys").status_code == 302
    db.session.expire_all()
    key = db.session.scalar(db.select(Key).filter_by(character_id=character.id))
    assert key.status == "invalid" and "owner hash changed" in key.reason


def test_cancelled_login_says_so(client, sandbox):
    start(client)
    state = client.get("/login/eve").headers["Location"].split("state=")[1].split("&")[0]
    response = client.get(f"/sso/callback?error=access_denied&state={state}")
    assert response.headers["Location"] == "/login"
    assert "cancelled" in client.get("/login").get_data(as_text=True)


def _csrf(client):
    from tests.support import csrf_token_from

    return csrf_token_from(client.get("/", follow_redirects=True).get_data(as_text=True))


def test_an_eve_login_returns_to_an_allowed_rd_and_to_a_safe_next_otherwise(
    app, client, sandbox, db, monkeypatch
):
    monkeypatch.setitem(app.config, "FORWARD_AUTH_DOMAINS", ["bastion.test"])
    back = "https://wiki.bastion.test/doctrines?fleet=armor"
    callback = approve(sandbox, start(client, f"/login/eve?rd={quote(back)}&next=/keys"), new_name="Rd Pilot")
    assert client.get(callback).headers["Location"] == back
    other = app.test_client()
    callback = approve(
        sandbox, start(other, "/login/eve?rd=https://evil.example/&next=/keys"), new_name="Rd Two"
    )
    assert other.get(callback).headers["Location"] == "/keys"


def test_callbacks_are_limited_per_address_so_made_up_codes_cannot_spend_eves_limits(
    app, client, sandbox, db, redis_client, monkeypatch
):
    """Each callback with a fresh state costs a call to EVE's token endpoint, whose limits the key
    checks share: past the limit an address gets a 429 and EVE hears nothing more."""
    from app.audit import AuditEntry

    monkeypatch.setitem(app.config, "SSO_CALLBACK_LIMIT_PER_ADDRESS", "2 per 5 minutes")

    def token_calls():
        calls = sandbox.control("GET", "/stats")["calls"]
        return sum(count for route, count in calls.items() if route.startswith("POST /v2/oauth/token"))

    before = token_calls()
    for _ in range(2):
        state = parse_qs(urlsplit(start(client)).query)["state"][0]
        assert client.get(f"/sso/callback?code=made-up&state={state}").headers["Location"] == "/login"
    assert token_calls() == before + 2
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    refused = client.get(f"/sso/callback?code=made-up&state={state}")
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert token_calls() == before + 2  # EVE was not asked
    entry = db.session.scalar(db.select(AuditEntry).filter_by(action="login.limited"))
    assert entry.target_type == "eve-login" and "more than 2 per 5 minute" in entry.detail
    # Another address has its own count: its callback reaches EVE.
    other = client.get(
        f"/sso/callback?code=made-up&state={state}", environ_overrides={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert other.status_code == 302 and token_calls() == before + 3
