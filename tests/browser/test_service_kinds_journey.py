"""The new kinds of service in a real browser: an admin writes a name template with its live preview
and makes an OpenID Connect client (its secret shown once); a member makes a Mumble password."""

import re

from app.access.grants import grant_manually
from app.accounts.models import User
from app.oidc.models import OidcClient
from app.services.models import MumbleAccount, Service
from tests.browser.test_new_user_edges import ARTIFACTS, PASSWORD, _member_with_password
from tests.support import sign_in


def test_an_admin_previews_a_name_template_and_makes_an_openid_connect_client(
    page, db, make_user, redis_client
):
    make_user(role="admin", username="editor", password=PASSWORD)
    sign_in(page, "editor", PASSWORD, "/admin/services/new")
    kind = page.get_by_label("Kind")
    template, preview = page.get_by_test_id("name-template"), page.get_by_test_id("name-preview")
    kind.select_option("discord")
    preview.get_by_text("[VAL] Val Pilot").wait_for()  # the default, before anything is typed
    template.fill("{name.__class__}")
    preview.get_by_text("{name.__class__} is not a field here").wait_for()
    template.fill("{name} ({alliance_ticker})")
    preview.get_by_text("Val Pilot (VALK)").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "service-editor-name-template.png"), full_page=True)

    kind.select_option("oidc")
    uris = page.get_by_label("Redirect URIs")
    assert uris.is_visible() and not template.is_visible()
    page.get_by_label("Name", exact=True).fill("Alliance forum")
    page.get_by_label("Short name").fill("forum")
    uris.fill("http://forum.example.org/callback")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("use https (http only for localhost)").wait_for()
    page.get_by_label("Redirect URIs").fill("https://forum.example.org/callback")
    page.get_by_role("button", name="Save").click()
    secret = page.get_by_test_id("client-secret").inner_text()
    page.get_by_test_id("client-secret").click()  # one click selects the whole secret for copying
    assert page.evaluate("() => window.getSelection().toString()") == secret
    page.screenshot(path=str(ARTIFACTS / "oidc-client-secret.png"), full_page=True)
    client = db.session.scalars(db.select(OidcClient)).one()
    assert (
        client.check_client_secret(secret)
        and page.get_by_test_id("client-id").inner_text() == client.client_id
    )
    page.get_by_role("link", name="Done").click()
    assert secret not in page.content()


def test_a_member_makes_a_mumble_password_on_my_services(page, db, key_factory, make_user, redis_client):
    member, _ = _member_with_password(db, key_factory, "voicepilot")
    voice = Service(slug="voice", name="Fleet voice", kind="mumble", directors_may_grant=True)
    voice.settings = {"ice_host": "127.0.0.1", "ice_port": 6502, "address": "voice.example.org:64738"}
    db.session.add(voice)
    db.session.commit()
    admin = db.session.get(User, make_user(role="admin", username="giver").id)
    grant_manually(member, voice, admin)
    sign_in(page, "voicepilot", PASSWORD, "/services")
    row = page.get_by_test_id("mumble-login")
    assert "voice.example.org:64738" in row.inner_text() and "Make a password to log in." in row.inner_text()
    page.get_by_test_id("mumble-new-password").click()
    password = page.get_by_test_id("mumble-secret").inner_text()
    assert re.fullmatch(r"[2-9a-km-zA-HJ-NP-Z]{6}(-[2-9a-km-zA-HJ-NP-Z]{6}){3}", password)
    assert page.get_by_test_id("mumble-username").inner_text() == "[VAL] Val Pilot"
    page.get_by_test_id("mumble-secret").click()  # one click takes all of it, dashes and all
    assert page.evaluate("() => window.getSelection().toString()") == password
    page.screenshot(path=str(ARTIFACTS / "mumble-password.png"), full_page=True)
    db.session.expire_all()
    account = db.session.scalars(db.select(MumbleAccount)).one()
    assert password and password not in account.password_hash
    page.get_by_role("link", name="Back to My services").click()
    assert "Username [VAL] Val Pilot; password made" in page.get_by_test_id("mumble-login").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())  # a new password asks first
    page.get_by_test_id("mumble-new-password").click()
    assert page.get_by_test_id("mumble-secret").inner_text() != password
