"""The authorization request as OpenID Connect Core 1.0 and RFC 6749 describe it, through the test
client: by GET or POST, prompt=none, prompt=login and max_age against a true auth_time, access_denied
back to the site, codes and refresh tokens used at most once even at the same moment, and a
family of tokens that ends however often it is refreshed."""

import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import jwt
import requests

from app.clock import utcnow
from app.oidc.models import OidcToken
from tests.services.test_oidc import CALLBACK, _authorize, _basic, _code_of


def _back_at_site(answer):
    """The query a site receives when Bastion answers the request with a plain redirect to it."""
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    target = urlparse(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == CALLBACK
    return parse_qs(target.query)


def _swap(client, client_id, secret, answer, verifier):
    data = {
        "grant_type": "authorization_code",
        "code": _code_of(answer)["code"][0],
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    return client.post("/oauth/token", data=data, headers=_basic(client_id, secret))


def test_an_authorization_request_may_come_as_a_form(client, db, auth, forum):
    """OIDC Core 3.1.2.1: GET and POST. The form goes on as the same request in the address."""
    client_id, _, _ = forum
    auth.login("reader")
    fields = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "by-post",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    posted = client.post("/oauth/authorize", data=fields)  # no CSRF token: the site's page sends it
    assert posted.status_code == 303
    target = urlparse(posted.headers["Location"])
    assert target.path == "/oauth/authorize" and parse_qs(target.query) == {k: [v] for k, v in fields.items()}
    onwards = client.get(posted.headers["Location"])
    assert _code_of(onwards)["state"] == ["by-post"] and "code" in _code_of(onwards)
    huge = client.post("/oauth/authorize", data={**fields, "x": "y" * 5000})
    assert huge.status_code == 400


def test_prompt_none_never_shows_a_page(client, db, auth, forum, make_user):
    """OIDC Core 3.1.2.6: without a session, login_required; without the grant, access_denied; with
    both, the code; each a redirect to the site with its state, never a page of Bastion's."""
    client_id, _, _ = forum
    nobody, _ = _authorize(client, client_id, prompt="none")
    assert _back_at_site(nobody)["error"] == ["login_required"]
    assert _back_at_site(nobody)["state"] == ["xyz"] and "code" not in _back_at_site(nobody)
    make_user(username="outsider", state="guest")
    auth.login("outsider")
    refused, _ = _authorize(client, client_id, prompt="none")
    assert _back_at_site(refused)["error"] == ["access_denied"]
    assert _back_at_site(refused)["state"] == ["xyz"]
    auth.logout()
    auth.login("reader")
    granted, _ = _authorize(client, client_id, prompt="none")
    assert "code" in _back_at_site(granted) and _back_at_site(granted)["state"] == ["xyz"]
    with client.session_transaction() as session:
        session["signed_in_at"] -= 600
    stale, _ = _authorize(client, client_id, prompt="none", max_age="300")
    assert _back_at_site(stale)["error"] == ["login_required"]  # a new sign-in needs a page


def test_bad_prompt_and_max_age_values_are_the_sites_error(client, db, auth, forum):
    client_id, _, _ = forum
    auth.login("reader")
    for extra in ({"prompt": "sometimes"}, {"max_age": "soon"}, {"max_age": "-5"}, {"prompt": "none login"}):
        answer, _ = _authorize(client, client_id, **extra)
        query = _back_at_site(answer) if "none" in extra.get("prompt", "") else _code_of(answer)
        assert query["error"] == ["invalid_request"], extra
        assert query["state"] == ["xyz"] and "code" not in query


def test_auth_time_is_the_sign_in_and_max_age_and_prompt_login_ask_for_a_new_one(
    client,
    db,
    auth,
    forum,
):
    """OIDC Core 3.1.2.1 and 2: auth_time is when the member signed in, not when the code was made;
    a sign-in older than max_age, or prompt=login, signs the member in again first."""
    client_id, secret, _ = forum
    auth.login("reader")
    with client.session_transaction() as session:
        session["signed_in_at"] -= 600  # signed in ten minutes ago
        signed_in = session["signed_in_at"]
    answer, verifier = _authorize(client, client_id)
    claims = jwt.decode(
        _swap(client, client_id, secret, answer, verifier).get_json()["id_token"],
        options={"verify_signature": False},
    )
    assert claims["auth_time"] == signed_in

    fresh_enough, _ = _authorize(client, client_id, max_age="3600")
    assert "code" in _code_of(fresh_enough)
    too_old, _ = _authorize(client, client_id, max_age="300")
    assert too_old.status_code == 302 and too_old.headers["Location"].startswith("/login?next=")
    back = parse_qs(urlparse(too_old.headers["Location"]).query)["next"][0]
    assert "max_age" not in back and "state=xyz" in back
    assert client.get("/", follow_redirects=False).status_code == 302  # signed out of this browser
    assert auth.login("reader", next_path=back).headers["Location"] == back
    again = client.get(back)
    assert "code" in _code_of(again)

    relogin, _ = _authorize(client, client_id, prompt="login")
    assert relogin.headers["Location"].startswith("/login?next=")
    back = parse_qs(urlparse(relogin.headers["Location"]).query)["next"][0]
    assert "prompt" not in back
    before = int(time.time())
    auth.login("reader", next_path=back)
    answer, verifier = _authorize(client, client_id)
    claims = jwt.decode(
        _swap(client, client_id, secret, answer, verifier).get_json()["id_token"],
        options={"verify_signature": False},
    )
    assert claims["auth_time"] >= before  # the new sign-in


def test_the_refusal_page_offers_the_way_back_with_access_denied(client, db, auth, forum, make_user):
    """RFC 6749 4.1.2.1: the member reads why; the site, when they go back, hears access_denied."""
    client_id, _, _ = forum
    make_user(username="outsider", state="guest")
    auth.login("outsider")
    page, _ = _authorize(client, client_id)
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and 'data-testid="oidc-refused"' in html
    back = html.split('data-testid="oidc-back"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    query = parse_qs(urlparse(back).query)
    assert back.startswith(CALLBACK) and query["error"] == ["access_denied"] and query["state"] == ["xyz"]


def test_a_code_sent_several_times_at_once_gives_tokens_once_and_revokes_them(
    live_server,
    app,
    db,
    forum,
    sandbox_server,
):
    """RFC 6749 4.1.2: one code, five exchanges at the same moment over HTTP: one gets tokens, the
    rest invalid_grant (no 500), and those tokens are revoked since the code came back."""
    client_id, secret, _ = forum
    session = requests.Session()
    _sign_in_over_http(session, live_server, "reader")
    answer = session.get(f"{live_server}/oauth/authorize", params=_request_params(client_id), timeout=10)
    code = parse_qs(urlparse(_refresh_target(answer.text)).query)["code"][0]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    results = _at_once(
        5,
        lambda: requests.post(f"{live_server}/oauth/token", data=data, auth=(client_id, secret), timeout=20),
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400, 400, 400, 400], [r.text[:200] for r in results]
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)
    won = next(r.json() for r in results if r.status_code == 200)
    info = requests.get(
        f"{live_server}/oauth/userinfo",
        timeout=10,
        headers={"Authorization": f"Bearer {won['access_token']}"},
    )
    assert info.status_code == 401


def test_one_refresh_token_refreshed_twice_at_once_succeeds_once(live_server, app, db, forum):
    """RFC 9700 4.14: two refreshes with one token at the same moment: one succeeds, the other is
    a reuse and revokes the family."""
    client_id, secret, _ = forum
    session = requests.Session()
    _sign_in_over_http(session, live_server, "reader")
    answer = session.get(f"{live_server}/oauth/authorize", params=_request_params(client_id), timeout=10)
    code = parse_qs(urlparse(_refresh_target(answer.text)).query)["code"][0]
    first = requests.post(
        f"{live_server}/oauth/token",
        auth=(client_id, secret),
        timeout=10,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        },
    ).json()
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    results = _at_once(
        2,
        lambda: requests.post(f"{live_server}/oauth/token", data=data, auth=(client_id, secret), timeout=20),
    )
    assert sorted(r.status_code for r in results) == [200, 400], [r.text[:200] for r in results]
    won = next(r.json() for r in results if r.status_code == 200)
    again = requests.post(
        f"{live_server}/oauth/token",
        auth=(client_id, secret),
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": won["refresh_token"]},
    )
    assert again.json()["error"] == "invalid_grant"  # the family went with the reuse


def test_a_family_of_tokens_ends_a_fixed_time_after_the_sign_in(app, client, db, auth, forum):
    client_id, secret, _ = forum
    auth.login("reader")
    answer, verifier = _authorize(client, client_id)
    tokens = _swap(client, client_id, secret, answer, verifier).get_json()
    stored = db.session.scalars(db.select(OidcToken)).one()
    days = app.config["OIDC_FAMILY_DAYS"]
    assert abs(stored.family_expires_at - (utcnow() + timedelta(days=days))) < timedelta(minutes=1)
    stored.family_expires_at = utcnow() + timedelta(days=2)  # the sign-in was long ago
    db.session.commit()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    renewed = client.post("/oauth/token", data=refresh, headers=_basic(client_id, secret)).get_json()
    newest = db.session.scalars(db.select(OidcToken).order_by(OidcToken.id.desc())).first()
    assert newest.refresh_expires_at <= utcnow() + timedelta(days=2)  # not a fresh 30 days
    newest.family_expires_at = newest.refresh_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    late = {"grant_type": "refresh_token", "refresh_token": renewed["refresh_token"]}
    assert client.post("/oauth/token", data=late, headers=_basic(client_id, secret)).get_json()["error"] == (
        "invalid_grant"
    )


VERIFIER = "a" * 50


def _request_params(client_id):
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "s",
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }


def _refresh_target(html):
    return html.split('http-equiv="refresh" content="0;url=')[1].split('"')[0].replace("&amp;", "&")


def _sign_in_over_http(session, base, username):
    from tests.support import csrf_token_from

    token = csrf_token_from(session.get(f"{base}/login", timeout=10).text)
    signed = session.post(
        f"{base}/login",
        timeout=10,
        allow_redirects=False,
        data={"username": username, "password": "correct horse battery", "csrf_token": token},
    )
    assert signed.status_code == 302


def _at_once(count, call):
    """Run call count times in threads released together; the answers."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(i):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_a_site_sees_only_the_groups_it_may(client, db, auth, forum):
    """A wiki never learns of leadership channels: by default a site sees its own service and the
    member's state; the admin may let it see more, by name or prefix."""
    from app.access.grants import grant_manually
    from app.accounts.models import User
    from app.oidc.models import OidcClient
    from app.services.models import Service

    client_id, secret, member = forum
    leadership = Service(slug="leadership", name="Leadership", kind="webhook", directors_may_grant=True)
    db.session.add(leadership)
    admin = db.session.scalars(db.select(User).filter_by(username="giver")).one()
    grant_manually(db.session.get(User, member.id), leadership, admin)
    db.session.commit()
    auth.login("reader")

    def groups():
        answer, verifier = _authorize(client, client_id)
        tokens = _swap(client, client_id, secret, answer, verifier).get_json()
        claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
        info = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.get_json()["groups"] == claims["groups"]
        return claims["groups"]

    assert groups() == ["forum", "member"]
    db.session.scalars(db.select(OidcClient)).one().visible_groups = "leader*"
    db.session.commit()
    assert groups() == ["forum", "leadership", "member"]


def _tokens(client, client_id, secret):
    answer, verifier = _authorize(client, client_id)
    return _swap(client, client_id, secret, answer, verifier).get_json()


def _userinfo(client, tokens):
    return client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})


def test_a_site_revokes_its_own_tokens_and_nobody_elses(client, db, auth, forum, make_user):
    """RFC 7009: a refresh token ends with its family, an access token alone; another site's
    token is left alone; an unknown token answers 200; a bad request is named."""
    from app.oidc.clients import ensure_client
    from app.services.models import Service

    client_id, secret, _ = forum
    wiki = Service(slug="wiki", name="Wiki", kind="oidc")
    db.session.add(wiki)
    other, other_secret = ensure_client(wiki, [CALLBACK])
    db.session.commit()
    auth.login("reader")
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["revocation_endpoint"].endswith("/oauth/revoke")
    tokens = _tokens(client, client_id, secret)

    def revoke(token, who=(client_id, secret), **extra):
        return client.post("/oauth/revoke", data={"token": token, **extra}, headers=_basic(*who))

    assert revoke(tokens["access_token"], who=(other.client_id, other_secret)).status_code == 400
    assert _userinfo(client, tokens).status_code == 200  # another site cannot end it
    assert revoke("no-such-token").status_code == 200
    assert revoke(tokens["access_token"], token_type_hint="id_token").get_json()["error"] == (
        "unsupported_token_type"
    )
    assert client.post("/oauth/revoke", data={}, headers=_basic(client_id, secret)).status_code == 400
    assert client.post("/oauth/revoke", data={"token": tokens["access_token"]}).status_code == 401
    assert revoke(tokens["access_token"]).status_code == 200
    assert _userinfo(client, tokens).status_code == 401
    refreshed = _tokens(client, client_id, secret)
    assert revoke(refreshed["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert _userinfo(client, refreshed).status_code == 401  # the family went with it
    again = {"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]}
    assert client.post("/oauth/token", data=again, headers=_basic(client_id, secret)).status_code == 400


def test_a_site_signs_its_member_out_of_bastion_and_back_to_a_registered_address(client, db, auth, forum):
    """RP-Initiated Logout 1.0: with the member's id_token_hint the browser is signed out at once
    and sent to a registered post_logout_redirect_uri with the state; an unregistered address or
    a forged hint is refused with a page; without a hint the member is asked."""
    from app.oidc.models import OidcClient

    client_id, secret, _ = forum
    registered = "https://forum.example.org/goodbye"
    db.session.scalars(db.select(OidcClient)).one().post_logout_redirect_uris = registered
    db.session.commit()
    auth.login("reader")
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["end_session_endpoint"].endswith("/oauth/logout")
    id_token = _tokens(client, client_id, secret)["id_token"]

    elsewhere = client.get(
        "/oauth/logout",
        query_string={"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example.net/"},
    )
    assert elsewhere.status_code == 400 and "not registered" in elsewhere.get_data(as_text=True)
    forged = client.get("/oauth/logout", query_string={"id_token_hint": id_token[:-4] + "AAAA"})
    assert forged.status_code == 400
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in

    asked = client.get(
        "/oauth/logout", query_string={"client_id": client_id, "post_logout_redirect_uri": registered}
    )
    assert asked.status_code == 200 and 'data-testid="oidc-logout"' in asked.get_data(as_text=True)
    assert client.get("/", follow_redirects=False).status_code == 200  # nothing happened yet

    done = client.get(
        "/oauth/logout",
        query_string={"id_token_hint": id_token, "state": "bye", "post_logout_redirect_uri": registered},
    )
    assert done.status_code == 302 and done.headers["Location"] == f"{registered}?state=bye"
    assert client.get("/", follow_redirects=False).status_code == 302  # signed out


def test_signing_out_everywhere_ends_what_sessions_minted_and_a_plain_logout_does_not(
    client, db, auth, forum, make_user
):
    """Sign out everywhere (the member's own, the admin's) and a new password revoke the member's
    tokens at every site and forget their Mumble password; a plain logout keeps both."""
    from app.services.models import MumbleAccount, Service
    from app.services.mumble.accounts import ensure_account, new_password
    from tests.support import csrf_token_from

    client_id, secret, member = forum
    voice = Service(slug="voice", name="Voice", kind="mumble")
    db.session.add(voice)
    db.session.flush()
    account = ensure_account(voice, member.id, "Reader")
    new_password(account)
    db.session.commit()

    def has_mumble_password():
        db.session.expire_all()
        return db.session.scalars(db.select(MumbleAccount)).one().password_hash is not None

    auth.login("reader")
    tokens = _tokens(client, client_id, secret)
    auth.logout()
    assert _userinfo(client, tokens).status_code == 200 and has_mumble_password()

    auth.login("reader")
    page = client.get("/services").get_data(as_text=True)
    assert 'data-testid="sign-out-everywhere"' in page
    out = client.post("/sign-out-everywhere", data={"csrf_token": csrf_token_from(page)})
    assert out.status_code == 302 and out.headers["Location"].startswith("/login")
    assert _userinfo(client, tokens).status_code == 401 and not has_mumble_password()

    new_password(db.session.scalars(db.select(MumbleAccount)).one())
    db.session.commit()
    auth.login("reader")
    tokens = _tokens(client, client_id, secret)
    user = db.session.get(type(member), member.id)
    user.set_password("another long password")
    db.session.commit()
    assert _userinfo(client, tokens).status_code == 401 and not has_mumble_password()
