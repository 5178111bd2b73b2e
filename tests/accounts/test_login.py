"""Local login and logout, checked redirects, and the users CLI."""

import pytest

from app.accounts.auth import is_safe_next
from app.accounts.models import User


def test_admin_logs_in_and_lands_on_the_dashboard(client, auth, make_user):
    make_user(role="admin", username="boss")
    response = auth.login("boss")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "Operations" in page


def test_wrong_password_is_shown_next_to_the_field_and_logs_nobody_in(client, auth, make_user):
    make_user(role="admin", username="boss")
    response = auth.login("boss", password="nope")
    assert response.status_code == 400
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_empty_fields_are_reported(client, auth):
    response = client.post("/login", data={"csrf_token": auth.csrf()})
    assert response.status_code == 400
    assert response.get_data(as_text=True).count("This field is required.") == 2


def test_disabled_account_cannot_log_in(client, auth, make_user, db):
    user = make_user(role="admin", username="gone")
    user.is_active_account = False
    db.session.commit()
    response = auth.login("gone")
    assert "disabled" in response.get_data(as_text=True)


def test_login_follows_a_local_next(client, auth, make_user):
    make_user(role="admin", username="boss")
    response = auth.login("boss", next_path="/admin/?tab=keys")
    assert response.headers["Location"] == "/admin/?tab=keys"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_ignores_a_next_that_leaves_the_site(client, auth, make_user, target):
    make_user(role="admin", username="boss")
    response = auth.login("boss", next_path=target)
    assert response.headers["Location"] == "/"


def test_is_safe_next():
    assert is_safe_next("/keys?page=2")
    assert not is_safe_next("")
    assert not is_safe_next(None)
    assert not is_safe_next("http://x/")
    assert not is_safe_next("//x")
    assert not is_safe_next("/\\x")
    assert not is_safe_next("keys")


def test_anonymous_browser_is_sent_to_login_with_next(client):
    response = client.get("/admin/?x=1", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/?x%3D1")


def test_logout_is_a_post_and_ends_the_session(client, auth, make_user):
    make_user(role="admin", username="boss")
    auth.login("boss")
    assert client.get("/logout").status_code == 405
    response = auth.logout()
    assert response.headers["Location"] == "/login"
    assert client.get("/admin/").status_code == 302


def test_passwords_are_stored_hashed(db, make_user):
    user = make_user(username="hashed", password="correct horse battery")
    assert "correct horse battery" not in user.password_hash
    assert user.check_password("correct horse battery")
    assert not user.check_password("wrong")


def test_cli_creates_an_admin(runner, db):
    result = runner.invoke(args=["users", "create-admin", "ops", "--password", "long enough password"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).filter_by(username="ops"))
    assert user.role == "admin" and user.check_password("long enough password")


def test_cli_refuses_a_short_password_and_writes_nothing(runner, db):
    result = runner.invoke(args=["users", "create-admin", "ops", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    assert db.session.scalar(db.select(User).filter_by(username="ops")) is None


def test_cli_refuses_a_duplicate_username(runner, make_user):
    make_user(role="admin", username="ops")
    result = runner.invoke(args=["users", "create-admin", "ops", "--password", "long enough password"])
    assert result.exit_code != 0
    assert "exists already" in result.output


def test_cli_set_password(runner, make_user, db):
    make_user(role="admin", username="ops")
    result = runner.invoke(args=["users", "set-password", "ops", "--password", "another long password"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(db.select(User).filter_by(username="ops")).check_password(
        "another long password"
    )
    missing = runner.invoke(args=["users", "set-password", "nobody", "--password", "another long password"])
    assert missing.exit_code != 0 and "no user named" in missing.output


def test_passwords_are_hashed_with_scrypt_outside_the_tests(app, db, monkeypatch):
    """Only the test configuration trades scrypt for a cheap hash; every other one keeps scrypt."""
    import config

    assert config.Config.PASSWORD_HASH_METHOD == "scrypt"

    user = User(username="hashed")
    user.set_password("correct horse battery")
    assert user.password_hash.startswith("pbkdf2:sha256:1$")
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", config.Config.PASSWORD_HASH_METHOD)
    user.set_password("correct horse battery")
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("correct horse battery") and not user.check_password("wrong")
