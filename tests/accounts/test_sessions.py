"""Signing in safely: limits per address and per username, no telling which usernames exist,
a fresh session at each sign-in, and sessions that end everywhere when they should."""

import statistics
import time

import pytest

from app.accounts.models import User
from app.audit import AuditEntry
from tests.fixtures.users import AuthActions
from tests.support import csrf_token_from


def _attempt(client, username, password="wrong password here"):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_sign_in_attempts_are_limited_per_username_with_a_clear_429_and_audited(
    app, client, make_user, redis_client, monkeypatch
):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_USERNAME", "3 per 5 minutes")
    make_user(role="admin", username="target")
    for _ in range(3):
        assert _attempt(client, "target").status_code == 400
    refused = _attempt(client, "Target ")  # the same username, however it is typed
    assert refused.status_code == 429
    assert "Too many sign-in attempts. Wait a few minutes" in refused.get_data(as_text=True)
    # Even the right password is refused while the limit holds.
    assert _attempt(client, "target", "correct horse battery").status_code == 429
    # Another username from the same address is not held back by this one's limit.
    make_user(username="bystander")
    assert _attempt(client, "bystander", "correct horse battery").status_code == 302
    from app.extensions import db

    entries = db.session.scalars(db.select(AuditEntry).filter_by(action="login.limited")).all()
    assert (
        entries and entries[0].target_type == "username" and entries[0].target_id.strip().lower() == "target"
    )


def test_sign_in_attempts_are_limited_per_address(app, client, make_user, redis_client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "4 per 5 minutes")
    for number in range(4):
        assert _attempt(client, f"nobody{number}").status_code == 400
    refused = _attempt(client, "somebody-else")
    assert refused.status_code == 429
    assert refused.is_json is False
    # A different client address has its own count.
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    other = client.post(
        "/login",
        data={"username": "x", "password": "y", "csrf_token": token},
        environ_overrides={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 400


def test_an_unknown_username_costs_as_much_time_as_a_wrong_password(client, make_user, redis_client):
    make_user(username="exists")
    _attempt(client, "warm-up")

    def median(username):
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            _attempt(client, username)
            timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    known, unknown = median("exists"), median("does-not-exist")
    # Both pay for one password hash; without the stand-in check the unknown name answered 30x faster.
    assert unknown > known / 3, (known, unknown)


def test_signing_in_starts_a_fresh_session(app, client, make_user):
    make_user(username="fresh")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    answer = client.post(
        "/login", data={"username": "fresh", "password": "correct horse battery", "csrf_token": token}
    )
    assert answer.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] != "1" and len(session["_user_id"]) >= 40  # a token, not the id


def _remembered_admin_cookies(client, username):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"username": username, "password": "correct horse battery", "csrf_token": token, "remember": "y"}
    assert client.post("/login", data=data).status_code == 302
    return {cookie.key: cookie.value for cookie in client._cookies.values()}


def _client_with(app, cookies):
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def test_a_saved_session_cookie_stops_working_after_logout(app, client, auth, make_user):
    make_user(role="admin", username="careful")
    saved = _remembered_admin_cookies(client, "careful")
    assert _client_with(app, saved).get("/admin/").status_code == 200
    auth.logout()
    replayed = _client_with(app, saved).get("/admin/")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def test_remember_me_lasts_thirty_days_for_members_and_never_for_admins(app, client, make_user):
    make_user(role="admin", username="chief")
    cookies = _remembered_admin_cookies(client, "chief")
    assert "bastion_remember" not in cookies  # an admin's session ends with the browser

    member_client = app.test_client()
    make_user(username="pilot")
    token = csrf_token_from(member_client.get("/login").get_data(as_text=True))
    data = {"username": "pilot", "password": "correct horse battery", "csrf_token": token, "remember": "y"}
    answer = member_client.post("/login", data=data)
    remember = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith("bastion_remember=")]
    assert remember, answer.headers.getlist("Set-Cookie")
    from email.utils import parsedate_to_datetime

    expires = parsedate_to_datetime(remember[0].split("Expires=")[1].split(";")[0])
    days = (expires.timestamp() - time.time()) / 86400
    assert 29.9 < days <= 30.01

    # The remember-me cookie alone brings the member back, until their sessions are ended.
    alone = app.test_client()
    alone.set_cookie("bastion_remember", remember[0].split("=", 1)[1].split(";")[0])
    assert alone.get("/keys").status_code == 200
    from app.extensions import db

    db.session.scalar(db.select(User).filter_by(username="pilot")).end_sessions()
    db.session.commit()
    again = app.test_client()
    again.set_cookie("bastion_remember", remember[0].split("=", 1)[1].split(";")[0])
    assert again.get("/keys").status_code == 302


@pytest.mark.parametrize("how", ["password", "role", "admin"])
def test_a_password_change_a_role_change_or_an_admin_ends_every_session(
    app, client, auth, make_user, runner, how
):
    from app.accounts import logic
    from app.extensions import db

    user = make_user(role="director", username="victim")
    admin = make_user(role="admin", username="boss")
    assert auth.login("victim").status_code == 302
    saved = {cookie.key: cookie.value for cookie in client._cookies.values()}
    assert _client_with(app, saved).get("/director/").status_code in (200, 302)
    assert _client_with(app, saved).get("/keys").status_code == 200
    if how == "password":
        result = runner.invoke(args=["users", "set-password", "victim", "--password", "a new password 123"])
        assert result.exit_code == 0, result.output
    elif how == "role":
        logic.change_role(db.session.get(User, user.id), "member", db.session.get(User, admin.id))
    else:
        boss = app.test_client()
        assert AuthActions(boss).login("boss").status_code == 302
        page = boss.get(f"/admin/users/{user.id}").get_data(as_text=True)
        assert "Sign out everywhere" in page
        answer = boss.post(f"/admin/users/{user.id}/sessions/end", data={"csrf_token": csrf_token_from(page)})
        assert answer.status_code == 302
        assert db.session.scalars(db.select(AuditEntry).filter_by(action="user.sessions_ended")).one()
    db.session.expire_all()
    replayed = _client_with(app, saved).get("/keys")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def _proxied_app(suite_config, hops):
    from app import create_app

    class Proxied(suite_config):
        TRUSTED_PROXIES = hops
        LOGIN_LIMIT_PER_ADDRESS = "2 per 5 minutes"
        PUBLIC_URL = "https://auth.example.org"

    return create_app(Proxied)


@pytest.mark.parametrize("hops", [0, 1])
def test_only_trusted_proxies_decide_the_client_address(suite_config, db, redis_client, hops):
    """Behind one proxy each client has its own count; without one, X-Forwarded-For is ignored and
    cannot be used to dodge the limit."""
    proxied = _proxied_app(suite_config, hops)

    def attempt(forwarded_for):
        client = proxied.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return client.post(
            "/login",
            data={"username": "nobody", "password": "wrong", "csrf_token": token},
            headers={"X-Forwarded-For": forwarded_for},
        ).status_code

    assert [attempt(f"203.0.113.{n}") for n in (1, 2)] == [400, 400]
    third = attempt("203.0.113.3")  # a third address
    assert third == (400 if hops else 429)


def test_callback_urls_come_from_public_url_not_the_host_header(suite_config, db, redis_client):
    from urllib.parse import parse_qs, urlsplit

    proxied = _proxied_app(suite_config, 0)
    answer = proxied.test_client().get("/login/eve", headers={"Host": "evil.example.net"})
    assert answer.status_code == 302
    redirect_uri = parse_qs(urlsplit(answer.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == "https://auth.example.org/sso/callback"
