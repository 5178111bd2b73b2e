"""Bastion as an OpenID Connect provider, driven by a real client library (Authlib's requests
client) and a real browser: discovery, sign-in, the code with PKCE, the ID token checked against the
JWKS, userinfo with the groups; a member without the grant is told why; a revoked grant stops the
refresh and userinfo."""

import secrets
from pathlib import Path

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from app.access.grants import grant_manually, revoke_manually
from app.accounts.models import User
from app.oidc.clients import ensure_client
from app.services.models import Service
from app.services.sync import sync_grant
from tests.browser.test_access_journeys import PASSWORD, _member
from tests.support import grant_of

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CALLBACK = "http://127.0.0.1:9/oidc/callback"  # never reached: the browser's request is caught


@pytest.fixture()
def wiki(db):
    """An OpenID Connect service given to members, with its client; (service id, client id, secret)."""
    service = Service(slug="wiki", name="Alliance wiki", kind="oidc", directors_may_grant=True)
    db.session.add(service)
    client, secret = ensure_client(service, [CALLBACK])
    db.session.commit()
    return service.id, client.client_id, secret


def _sign_in_through(page, authorize_url, username):
    """Open the client's sign-in link; Bastion asks for the password first, then sends the browser on."""
    caught = []
    page.route(f"{CALLBACK}**", lambda route: (caught.append(route.request.url), route.fulfill(body="ok")))
    page.goto(authorize_url)
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return caught


def test_a_site_signs_a_granted_member_in_and_stops_when_the_grant_is_revoked(
    page, live_server, db, key_factory, make_user, wiki, redis_client
):
    service_id, client_id, secret = wiki
    user_id, _ = _member(db, key_factory, "pilot")
    admin = db.session.get(User, make_user(role="admin", username="boss", password=PASSWORD).id)
    grant, _ = grant_manually(db.session.get(User, user_id), db.session.get(Service, service_id), admin)
    assert sync_grant(grant.id).action == "done"

    meta = requests.get(f"{live_server}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == live_server and "S256" in meta["code_challenge_methods_supported"]
    site = OAuth2Session(
        client_id,
        secret,
        scope="openid profile groups",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, _ = site.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    caught = _sign_in_through(page, url, "pilot")
    page.wait_for_function("() => document.body && document.body.innerText === 'ok'")
    assert len(caught) == 1
    token = site.fetch_token(meta["token_endpoint"], authorization_response=caught[0], code_verifier=verifier)

    jwks = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], jwks).claims
    assert claims["iss"] == live_server and claims["aud"] == [client_id] and claims["nonce"] == nonce
    assert claims["sub"] == str(user_id) and claims["eve_character_name"] == "Val Pilot"
    info = site.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == str(user_id)
    assert "wiki" in info["groups"] and "member" in info["groups"]
    assert info["eve_corporation"]["ticker"] == "VAL"
    refreshed = site.refresh_token(meta["token_endpoint"])  # turns the refresh token over
    assert refreshed["access_token"] != token["access_token"]

    revoke_manually(grant_of(db, user_id, service_id), admin, reason="left the wiki team")
    assert sync_grant(grant.id).action == "done"  # the connector revokes the member's tokens
    assert site.get(meta["userinfo_endpoint"]).status_code == 401
    with pytest.raises(OAuthError) as refused:
        site.refresh_token(meta["token_endpoint"])
    assert refused.value.error == "invalid_grant"


def test_a_member_without_the_grant_reads_why_and_the_site_gets_nothing(
    page, live_server, db, key_factory, wiki, redis_client
):
    service_id, client_id, secret = wiki
    user_id, _ = _member(db, key_factory, "outsider")
    assert grant_of(db, user_id, service_id) is None

    site = OAuth2Session(
        client_id, secret, scope="openid", redirect_uri=CALLBACK, code_challenge_method="S256"
    )
    url, _ = site.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=secrets.token_urlsafe(48)
    )
    caught = _sign_in_through(page, url, "outsider")
    refused = page.get_by_test_id("oidc-refused")
    refused.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "oidc-refused.png"), full_page=True)
    assert page.get_by_test_id("oidc-back").is_visible()
    assert "You cannot sign in to Alliance wiki" in refused.inner_text()
    assert "Only a director or an admin can give it" in page.get_by_test_id("why-remedy").inner_text()
    assert caught == []


def _demo_forum(db, sandbox, live_server):
    """The sandbox's demo forum as an OpenID Connect service for members, pointed at this Bastion."""
    from app.oidc.models import digest
    from sandbox.demo import FORUM_CLIENT_ID, FORUM_CLIENT_SECRET

    service = Service(slug="forum", name="Alliance forum", kind="oidc", auto_states="member")
    db.session.add(service)
    client, _ = ensure_client(service, [f"{sandbox.url}/forum/callback"])
    client.client_id, client.secret_hash = FORUM_CLIENT_ID, digest(FORUM_CLIENT_SECRET)
    db.session.commit()
    sandbox.app.config.update(BASTION_URL=live_server, FORUM_PORT=sandbox.port)
    return service


def test_the_demo_forum_signs_a_member_in_through_bastion(
    page, live_server, sandbox, db, key_factory, make_user, redis_client
):
    service = _demo_forum(db, sandbox, live_server)
    user_id, _ = _member(db, key_factory, "poster")
    assert grant_of(db, user_id, service.id).status == "active"

    page.goto(f"{sandbox.url}/forum")
    page.get_by_role("button", name="Sign in with Bastion").click()
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill("poster")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Val Pilot of [VAL] Validation Corp.").wait_for()
    assert "forum" in page.locator("code").all_inner_texts()


def test_a_new_pilot_who_meets_bastion_through_a_site_is_signed_in_once_their_key_is_checked(
    page, live_server, sandbox, db, redis_client, consumer
):
    """A pilot's first visit: the forum's "Sign in with Bastion", then "Log in with EVE Online" with a
    new character in a member corporation, EVE answering slowly. The authorize step waits for the
    new key's check (it is explained as being checked, never as a key to renew), then goes on to the
    forum, which is told who signed in."""
    from app.corps.models import Corporation

    _demo_forum(db, sandbox, live_server)
    sandbox.configure(latency_ms=1500)
    consumer(periodic=False)

    page.goto(f"{sandbox.url}/forum")
    page.get_by_role("button", name="Sign in with Bastion").click()
    page.get_by_test_id("login-eve").click()
    corporation = page.get_by_label("Corporation").input_value()
    db.session.add(Corporation(id=int(corporation), name="Starter Corp", ticker="STRT", tracked_as="member"))
    db.session.commit()
    page.get_by_label("New character name").fill("Fresh Recruit")
    page.get_by_role("button", name="Create and authorize").click()
    checking = page.get_by_test_id("oidc-checking")
    checking.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "oidc-checking.png"), full_page=True)
    assert "Checking your character" in checking.inner_text()
    page.get_by_text("Signed in as Fresh Recruit").wait_for(timeout=30_000)
    assert page.url.startswith(f"{sandbox.url}/forum")


def test_a_member_signs_out_everywhere_from_my_services(page, db, key_factory, redis_client):
    """The card on My services asks first, then ends this browser's session (and every other one)."""
    from tests.support import sign_in

    _member(db, key_factory, "traveller")
    sign_in(page, "traveller", PASSWORD, "/services")
    button = page.get_by_test_id("sign-out-everywhere")
    button.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "sign-out-everywhere.png"), full_page=True)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    button.click()
    page.wait_for_url("**/login**")
    assert asked and "Sign out everywhere?" in asked[0]
    assert page.get_by_text("You are signed out everywhere").is_visible()
    page.goto("/services")
    assert "/login" in page.url
