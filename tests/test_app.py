"""The app factory, configuration, security headers and error pages."""

import re

import pytest

from config import DEV_SECRET_KEY, Config, check_production_config
from tests.support import csrf_token_from


def test_production_refuses_the_development_secret_key():
    class Production(Config):
        ENV = "production"
        SECRET_KEY = DEV_SECRET_KEY

    from app import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production)


PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "x" * 40,
    "TOKEN_ENCRYPTION_KEYS": ["k"],
    "SQLALCHEMY_DATABASE_URI": "postgresql://h/db",
    "PUBLIC_URL": "https://auth.example.org",
    "EVE_SSO_URL": "https://login.eveonline.com",
    "EVE_ESI_URL": "https://esi.evetech.net",
    "DISCORD_API_URL": "https://discord.com/api/v10",
    "DISCORD_AUTHORIZE_URL": "https://discord.com/oauth2/authorize",
}


def test_production_needs_a_long_secret_and_an_encryption_key():
    assert check_production_config(PRODUCTION) == []
    assert check_production_config({**PRODUCTION, "SECRET_KEY": "short"}) != []
    assert check_production_config({**PRODUCTION, "TOKEN_ENCRYPTION_KEYS": []}) != []


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DEMO", True, "BASTION_DEMO must be off"),
        ("PUBLIC_URL", "", "PUBLIC_URL must be"),
        ("PUBLIC_URL", "http://auth.example.org", "PUBLIC_URL must be"),
        ("EVE_SSO_URL", "http://127.0.0.1:8025", "EVE_SSO_URL must be an https URL"),
        ("EVE_ESI_URL", "http://esi.local", "EVE_ESI_URL must be an https URL"),
        ("DISCORD_API_URL", "http://discord.local", "DISCORD_API_URL must be an https URL"),
        ("DISCORD_AUTHORIZE_URL", "http://d.local", "DISCORD_AUTHORIZE_URL must be an https URL"),
        ("ENV", "prod", "BASTION_ENV must be one of"),
    ],
)
def test_production_refuses_each_development_setting_and_names_it(name, value, says):
    problems = check_production_config({**PRODUCTION, name: value})
    assert len(problems) == 1 and says in problems[0]


def test_unset_bastion_env_means_production_and_refuses_to_start(monkeypatch):
    """An instance started without BASTION_ENV must not sign sessions with the public dev key."""
    import importlib

    import config as config_module

    for name in ("BASTION_ENV", "SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "BASTION_DEMO", "PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    try:
        fresh = importlib.reload(config_module)
        assert fresh.Config.ENV == "production"
        assert fresh.Config.SESSION_COOKIE_SECURE is True
        from app import create_app

        with pytest.raises(RuntimeError) as refused:
            create_app(fresh.Config)
        assert "SECRET_KEY must be set" in str(refused.value)
        assert "TOKEN_ENCRYPTION_KEYS" in str(refused.value)
    finally:
        monkeypatch.undo()
        importlib.reload(config_module)


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


def test_every_route_answers_404_for_ids_past_64_bits(app, client, login_as):
    """An id SQLite cannot hold (or PostgreSQL's bigint) is no such thing, not a server error."""
    import re

    from werkzeug.routing import IntegerConverter

    login_as("admin")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    checked = 0
    for rule in app.url_map.iter_rules():
        if not any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            continue
        path = re.sub(r"<int:[a-z_]+>", "99999999999999999999", rule.rule)
        path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = client.open(path, method=method, data={"csrf_token": token})
            assert answer.status_code == 404, (method, path, answer.status_code)
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("role, badge", [("member", None), ("director", "director"), ("admin", "admin")])
def test_the_header_names_a_role_only_above_member(client, login_as, role, badge):
    """ "member" is also a standing (beside blue and guest): a plain member's header shows no role,
    so a guest is never labelled "member" beside "Your state: guest"."""
    login_as(role)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    shown = re.findall(r'data-testid="current-role">([^<]*)<', html)
    assert shown == ([badge] if badge else [])
