"""The app factory, configuration, security headers and error pages."""

import pytest

from config import DEV_SECRET_KEY, Config, check_production_config


def test_production_refuses_the_development_secret_key():
    class Production(Config):
        ENV = "production"
        SECRET_KEY = DEV_SECRET_KEY

    from app import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production)


def test_production_needs_a_long_secret_and_an_encryption_key():
    config = {
        "ENV": "production",
        "SECRET_KEY": "x" * 40,
        "TOKEN_ENCRYPTION_KEYS": ["k"],
        "SQLALCHEMY_DATABASE_URI": "postgresql://h/db",
    }
    assert check_production_config(config) == []
    assert check_production_config({**config, "SECRET_KEY": "short"}) != []
    assert check_production_config({**config, "TOKEN_ENCRYPTION_KEYS": []}) != []


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_not_found_is_a_page_for_browsers_and_json_for_json_callers(client):
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "There is nothing at this address" in page.get_data(as_text=True)
    api = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.get_json()["status"] == 404


def test_post_without_csrf_token_is_refused_with_a_clear_message(client):
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    assert "form was out of date" in response.get_data(as_text=True)


def test_unexpected_errors_give_a_500_page_and_roll_back(suite_config, db):
    from app import create_app
    from app.accounts.models import User

    fresh = create_app(suite_config)

    @fresh.route("/_boom")
    def boom():
        db.session.add(User(username="half-written", role="member", state="guest"))
        db.session.flush()
        raise ValueError("boom")

    with fresh.test_client() as fresh_client:
        response = fresh_client.get("/_boom", headers={"Accept": "text/html"})
        assert response.status_code == 500
        assert "unexpected error" in response.get_data(as_text=True)
        api = fresh_client.get("/_boom", headers={"Accept": "application/json"})
        assert api.status_code == 500 and api.get_json()["status"] == 500
    assert db.session.scalar(db.select(User).filter_by(username="half-written")) is None


def test_a_path_with_control_characters_is_not_found(client):
    assert client.get("/auth/forward/wi%00ki").status_code == 404
    assert client.get("/admin/queue/dead/%01x").status_code == 404
