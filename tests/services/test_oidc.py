"""The OpenID Connect provider's edges, through the test client: the admin makes a client and sees
its secret once, bad requests never reach a site, PKCE is required, codes work once, keys rotate."""

import base64
from urllib.parse import parse_qs, urlparse

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.oidc import keys
from app.oidc.models import OidcClient, OidcToken, SigningKey
from app.services.models import Service
from tests.services.conftest import CALLBACK
from tests.support import csrf_token_from


def _new_oidc_service(client, uris, **extra):
    token = csrf_token_from(client.get("/admin/services/new").get_data(as_text=True))
    return client.post(
        "/admin/services/new",
        data={"csrf_token": token, "name": "Forum", "slug": "forum", "kind": "oidc", "redirect_uris": uris}
        | extra,
    )


def test_the_admin_makes_a_client_and_sees_its_secret_once(client, db, login_as, redis_client):
    login_as("admin")
    refused = _new_oidc_service(client, "http://forum.example.org/cb\njavascript:alert(1)")
    assert refused.status_code == 400
    assert "use https (http only for localhost)" in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(OidcClient)) == 0
    bad_logout = _new_oidc_service(client, CALLBACK, post_logout_redirect_uris="javascript:alert(1)")
    assert bad_logout.status_code == 400 and "javascript:alert(1):" in bad_logout.get_data(as_text=True)
    bad_groups = _new_oidc_service(client, CALLBACK, oidc_groups="leader ship, *")
    assert bad_groups.status_code == 400 and "a * may end one" in bad_groups.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(OidcClient)) == 0

    made = _new_oidc_service(client, f"{CALLBACK}\nhttp://localhost:3000/cb")
    html = made.get_data(as_text=True)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    secret = html.split('data-testid="client-secret">')[1].split("<")[0]
    found = db.session.scalars(db.select(OidcClient)).one()
    assert found.redirect_uri_list == [CALLBACK, "http://localhost:3000/cb"]
    assert found.check_client_secret(secret) and secret not in found.secret_hash
    service = db.session.scalars(db.select(Service)).one()
    page = client.get(f"/admin/services/{service.id}").get_data(as_text=True)
    assert found.client_id in page and secret not in page

    token = csrf_token_from(page)
    renewed = client.post(f"/admin/services/{service.id}/client-secret", data={"csrf_token": token})
    fresh = renewed.get_data(as_text=True).split('data-testid="client-secret">')[1].split("<")[0]
    db.session.expire_all()
    assert fresh != secret and found.check_client_secret(fresh) and not found.check_client_secret(secret)


def _authorize(client, client_id, **extra):
    verifier = generate_token(48)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email groups",
        "state": "xyz",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        **extra,
    }
    query = {k: v for k, v in query.items() if v is not None}
    return client.get("/oauth/authorize", query_string=query), verifier


def _code_of(answer):
    target = answer.get_data(as_text=True).split('http-equiv="refresh" content="0;url=')[1].split('"')[0]
    return parse_qs(urlparse(target.replace("&amp;", "&")).query)


def test_bad_requests_never_go_to_an_unregistered_address(client, db, auth, forum, redis_client):
    client_id, _, _ = forum
    assert auth.login("reader").status_code == 302
    wrong, _ = _authorize(client, client_id, redirect_uri="https://evil.example.net/cb")
    assert wrong.status_code == 400 and "http-equiv" not in wrong.get_data(as_text=True)
    assert "is not supported by client" in wrong.get_data(as_text=True)
    unknown, _ = _authorize(client, "no-such-client")
    assert unknown.status_code == 400 and 'data-testid="oidc-error"' in unknown.get_data(as_text=True)
    plain, _ = _authorize(client, client_id, code_challenge=None, code_challenge_method=None)
    assert _code_of(plain)["error"] == ["invalid_request"]  # PKCE is required: told to the site
    weak, _ = _authorize(client, client_id, code_challenge_method="plain")
    assert _code_of(weak)["error"] == ["invalid_request"]
    db.session.scalars(db.select(OidcClient)).one().require_pkce = False  # a site that cannot send it
    db.session.commit()
    assert "code" in _code_of(
        _authorize(client, client_id, code_challenge=None, code_challenge_method=None)[0]
    )


def test_a_code_is_swapped_once_with_its_verifier_and_secret(client, db, auth, forum, redis_client):
    client_id, secret, member = forum
    auth.login("reader")
    answer, verifier = _authorize(client, client_id)
    code = _code_of(answer)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}

    def swap(**changes):
        data = {**form, "client_id": client_id, "client_secret": secret, "code_verifier": verifier, **changes}
        return client.post("/oauth/token", data=data)

    assert swap(client_secret="wrong").status_code == 401
    assert swap(code_verifier=generate_token(48)).get_json()["error"] == "invalid_grant"
    tokens = swap().get_json()
    assert tokens["token_type"] == "Bearer" and tokens["id_token"] and tokens["refresh_token"]
    stored = db.session.scalars(db.select(OidcToken)).one()
    assert tokens["access_token"] not in stored.access_hash and stored.user_id == member.id
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = client.get("/oauth/userinfo", headers=bearer)
    assert info.get_json()["groups"] == ["forum", "member"]
    assert info.get_json()["email"] == f"user{member.id}@bastion.invalid"  # a placeholder, never mail
    assert info.get_json()["email_verified"] is False
    assert swap().get_json()["error"] == "invalid_grant"  # used once; coming back, it revokes
    assert client.get("/oauth/userinfo", headers=bearer).status_code == 401  # what it gave (RFC 6749 4.1.2)


def test_a_refresh_token_that_comes_back_after_it_was_turned_over_revokes_its_family(
    client, db, auth, forum, redis_client
):
    """Someone holds a copy of a refresh token (RFC 9700, 4.14.2): whoever uses it second, thief or
    site, every token of that sign-in stops working, and an admin can read why."""
    from app.audit import AuditEntry
    from app.oidc.clients import prune

    client_id, secret, member = forum
    auth.login("reader")

    def sign_in():
        answer, verifier = _authorize(client, client_id)
        data = {
            "grant_type": "authorization_code",
            "code": _code_of(answer)["code"][0],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        }
        return client.post("/oauth/token", data=data, headers=_basic(client_id, secret)).get_json()

    def refresh(token):
        data = {"grant_type": "refresh_token", "refresh_token": token}
        return client.post("/oauth/token", data=data, headers=_basic(client_id, secret)).get_json()

    def userinfo(tokens):
        return client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})

    first = sign_in()
    other_device = sign_in()  # another sign-in of the same member: a family of its own
    second = refresh(first["refresh_token"])
    third = refresh(second["refresh_token"])
    assert userinfo(third).status_code == 200
    prune()  # the turned-over tokens are kept, to know them if they come back
    assert refresh(first["refresh_token"])["error"] == "invalid_grant"
    assert refresh(third["refresh_token"])["error"] == "invalid_grant"
    assert userinfo(third).status_code == 401
    assert userinfo(other_device).status_code == 200  # the other sign-in is left alone
    assert "refresh_token" in refresh(other_device["refresh_token"])
    entry = db.session.scalars(db.select(AuditEntry).filter_by(action="oidc.refresh_reused")).one()
    assert entry.target_id == str(member.id) and "1 live token(s) revoked" in entry.detail


def _basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_a_new_key_is_published_before_it_signs_and_a_retired_one_stays_a_while(app, db, redis_client):
    """Sites cache the JWKS: a new key is in it OIDC_KEY_PUBLISH_S before it signs (a leaked key is
    replaced at once with now=True), and a retired key stays in it OIDC_KEY_KEEP_S after."""
    from datetime import timedelta

    from app.clock import utcnow

    first = keys.current().kid
    assert [k["kid"] for k in keys.jwks()["keys"]] == [first]
    second = keys.rotate()
    assert [k["kid"] for k in keys.jwks()["keys"]] == [second, first]
    assert keys.current().kid == first  # published, not signing yet
    waiting = db.session.scalars(db.select(SigningKey).filter_by(kid=second)).one()
    assert waiting.signs_at - utcnow() > timedelta(seconds=app.config["OIDC_KEY_PUBLISH_S"] - 60)
    waiting.signs_at = utcnow() - timedelta(seconds=1)  # its time has come
    db.session.commit()
    assert keys.current().kid == second and all("d" not in k for k in keys.jwks()["keys"])
    assert [k["kid"] for k in keys.jwks()["keys"]] == [second, first]  # the old one still published
    third = keys.rotate(now=True)
    assert keys.current().kid == third
    old = db.session.scalars(db.select(SigningKey).filter_by(kid=first)).one()
    old.retired_at = old.retired_at.replace(year=old.retired_at.year - 1)
    db.session.commit()
    assert [k["kid"] for k in keys.jwks()["keys"]] == [third, second]
    assert keys.forget_old() == 1


def test_the_cli_rotates_the_key_and_lists_what_is_published(runner, db):
    first = keys.current().kid
    made = runner.invoke(args=["oidc", "rotate-key"])
    assert made.exit_code == 0 and "New signing key" in made.output and "signs in 86400 s" in made.output
    listed = runner.invoke(args=["oidc", "keys"]).output.splitlines()
    assert len(listed) == 2 and "published; signs from" in listed[0] and listed[1].startswith(first)
    assert "signs now" in listed[1]
    leaked = runner.invoke(args=["oidc", "rotate-key", "--now"])
    assert leaked.exit_code == 0 and "(signs now)" in leaked.output
    listed = runner.invoke(args=["oidc", "keys"]).output.splitlines()
    assert "signs now" in listed[0] and "retired" in listed[2]


def test_discovery_names_the_endpoints(client, db):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["authorization_endpoint"].endswith("/oauth/authorize")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert client.get("/oauth/jwks").get_json()["keys"][0]["alg"] == "RS256"


def test_spent_codes_and_tokens_are_forgotten_and_live_ones_kept(db, forum):
    from datetime import timedelta

    from app.clock import utcnow
    from app.oidc.clients import prune
    from app.oidc.models import OidcCode

    client_id, _, member = forum
    now = utcnow()
    common = {"client_id": client_id, "user_id": member.id, "scope": "openid", "expires_in": 3600}
    db.session.add_all(
        [
            OidcCode(code_hash="a" * 64, client_id=client_id, user_id=member.id, auth_time=0, expires_at=now),
            OidcToken(access_hash="1" * 64, issued_at=0, **common),  # expired, no refresh
            OidcToken(access_hash="2" * 64, refresh_hash="r2", issued_at=0, revoked=True, **common),
            OidcToken(
                access_hash="3" * 64,
                refresh_hash="r3",
                issued_at=0,
                **common,
                refresh_expires_at=now + timedelta(days=1),
            ),  # fmt: skip
            OidcToken(access_hash="4" * 64, issued_at=int(now.timestamp()), **common),
        ]
    )
    db.session.commit()
    assert prune(now + timedelta(seconds=1))[:2] == (1, 2)
    assert sorted(t.access_hash[0] for t in db.session.scalars(db.select(OidcToken))) == ["3", "4"]


def test_the_token_and_userinfo_endpoints_refuse_anonymous_callers(client, db, forum):
    assert (
        client.post("/oauth/token", data={"grant_type": "authorization_code", "code": "x"}).status_code == 401
    )
    refused = client.get("/oauth/userinfo")
    assert refused.status_code == 401 and refused.get_json()["error"] == "missing_authorization"
    forged = client.get("/oauth/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401 and forged.get_json()["error"] == "invalid_token"
