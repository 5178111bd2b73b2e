"""Walk app.url_map and check every route for every role.

Public routes are listed here by endpoint; every other route must send anonymous browsers to the
login page and answer 401 to anonymous JSON callers. Routes whose view demands a role must answer
403 to users without it.
"""

import re

import pytest

from tests.support import csrf_token_from

PUBLIC_ENDPOINTS = {
    "static",
    "accounts.login",
    "accounts.login_eve",
    "accounts.sso_callback",
    "health.healthz",
    "metrics.metrics",  # its own bearer token: tests/admin/test_metrics.py
    "services.forward_auth",  # 401/403 for proxies: tests/services/test_forward_auth.py
    # OpenID Connect: public documents, and client or bearer authentication (tests/services/test_oidc.py)
    "oidc.configuration",
    "oidc.jwks",
    # The authorization request decides itself: prompt=none answers the site, never a login page.
    "oidc.authorize",
    "oidc.authorize_by_post",
    "oidc.token",
    "oidc.userinfo",
    "oidc.revoke",  # client authentication (tests/services/test_oidc_requests.py)
    # RP-initiated logout: a page that asks, or a hint Bastion signed (test_oidc_requests.py)
    "oidc.end_session",
    "oidc.end_session_confirmed",
}


def _routes(app):
    """(endpoint, url, method) for every route, with placeholder arguments filled in."""
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
        url = re.sub(r"<[^>]+>", "x", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, url, method


def _required_roles(app, endpoint):
    return getattr(app.view_functions[endpoint], "required_roles", None)


def _call(client, method, url, token, accept):
    data = {"csrf_token": token} if method != "GET" else None
    return client.open(url, method=method, data=data, headers={"Accept": accept})


def test_every_route_is_public_by_list_or_protected(app, client):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    checked = 0
    for endpoint, url, method in _routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        page = _call(client, method, url, token, "text/html")
        assert page.status_code == 302, f"{method} {url} answered {page.status_code} to an anonymous browser"
        assert page.headers["Location"].startswith("/login"), f"{method} {url} did not go to the login page"
        api = _call(client, method, url, token, "application/json")
        assert api.status_code == 401, (
            f"{method} {url} answered {api.status_code} to an anonymous JSON caller"
        )
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("role", ["member", "director"])
def test_admin_routes_refuse_other_roles(app, client, login_as, role):
    login_as(role)
    token = csrf_token_from(client.get("/", follow_redirects=True).get_data(as_text=True))
    checked = 0
    for endpoint, url, method in _routes(app):
        roles = _required_roles(app, endpoint)
        if roles is None or role in roles:
            continue
        for accept in ("text/html", "application/json"):
            response = _call(client, method, url, token, accept)
            assert response.status_code == 403, f"{role} got {response.status_code} from {method} {url}"
        checked += 1
    assert checked >= 1


def test_admin_blueprint_is_admin_only(app):
    for endpoint in app.view_functions:
        if endpoint.startswith("admin."):
            assert _required_roles(app, endpoint) == ("admin",), f"{endpoint} has no admin check"


def test_admin_reaches_every_admin_get_route(app, client, login_as):
    login_as("admin")
    for endpoint, url, method in _routes(app):
        if endpoint.startswith("admin.") and method == "GET" and "1" not in url:
            assert client.get(url).status_code == 200, url
