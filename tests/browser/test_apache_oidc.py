"""Apache httpd with mod_auth_openidc (Debian's packages) signs members in through Bastion, configured
with the README's example (read from the README): the code flow with PKCE by GET and by POST,
prompt=none, RP-initiated logout with token revocation, and a signing key turned over."""

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from app.access.grants import grant_manually
from app.accounts.models import User
from app.oidc.clients import ensure_client
from app.oidc.models import OidcToken
from app.services.models import Service
from tests.support import IN_CI, free_port, sign_in, wait_for

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
PASSWORD = "correct horse battery"

README = Path(__file__).resolve().parents[2] / "README.md"

# What the test adds to the README's example: mod_auth_openidc's view of its session, and a path that
# asks silently (prompt=none).
TEST_ONLY = """
OIDCInfoHook userinfo id_token
<Location /silent>
  AuthType openid-connect
  OIDCPathAuthRequestParams prompt=none
  Require valid-user
</Location>
"""


def readme_apache(bastion, site, client_id, secret, method):
    """The README's mod_auth_openidc example as an admin would copy it, with the test's values."""
    found = re.search(r"```apache\n(.*?)```", README.read_text(), re.S)
    assert found, "the README has no ```apache block"
    return (
        found.group(1)
        .replace("https://auth.example.org", bastion)
        .replace("https://wiki.example.org", site)
        .replace("OIDCClientID wiki-…", f"OIDCClientID {client_id}")
        .replace("OIDCClientSecret …", f"OIDCClientSecret {secret}")
        .replace("<a long random string>", secrets.token_hex(16))
        .replace("OIDCProviderAuthRequestMethod GET", f"OIDCProviderAuthRequestMethod {method}")
    )


SERVER = """
ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn auth_openidc:info
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
{user}
TypesConfig /etc/mime.types
DocumentRoot {docroot}
DirectoryIndex index.html
<Directory {docroot}>
  Require all granted
</Directory>
"""


def _require_apache():
    if not (Path(APACHE).exists() and (MODULES / "mod_auth_openidc.so").exists()):
        if IN_CI:
            pytest.fail("Apache with mod_auth_openidc is missing: CI must install apache2 and its module")
        pytest.skip("apache2 and libapache2-mod-auth-openidc are not installed")


class Apache:
    """One Apache httpd in a folder of its own, stopped by stop()."""

    def __init__(self, root, port, process):
        self.root, self.port, self.process = root, port, process
        self.url = f"http://127.0.0.1:{port}"

    def log(self):
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture()
def wiki(db, live_server, sandbox_server):
    """An OpenID Connect service "wiki" whose site is an Apache; a member holds it.

    Returns start(method): an Apache asking Bastion by GET or POST; its client is made once.
    """
    _require_apache()
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    service = Service(slug="wiki", name="Wiki", kind="oidc", directors_may_grant=True)
    db.session.add(service)
    client, secret = ensure_client(service, [f"{site}/oidc/redirect_uri"])
    client.post_logout_redirect_uris = f"{site}/loggedout.html"
    member = User(username="reader", role="member", state="member")
    member.set_password(PASSWORD)
    admin = User(username="giver", role="admin", state="guest")
    db.session.add_all([member, admin])
    db.session.flush()
    grant_manually(member, service, admin)
    db.session.commit()
    started = []

    def start(method="GET"):
        # Apache's children run as www-data: their folder must be theirs to read.
        root = Path(tempfile.mkdtemp(prefix="bastion-apache-"))
        root.chmod(0o755)
        docroot = root / "site"
        for folder in ("protected", "silent"):
            (docroot / folder).mkdir(parents=True)
            (docroot / folder / "index.html").write_text(f"<h1>The {folder} wiki page</h1>")
        (docroot / "loggedout.html").write_text("<h1>Signed out of the wiki</h1>")
        for path in [docroot, *docroot.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        config = SERVER.format(root=root, port=port, modules=MODULES, docroot=docroot, user=user)
        config += readme_apache(live_server, site, client.client_id, secret, method) + TEST_ONLY
        (root / "httpd.conf").write_text(config)
        process = subprocess.Popen(  # noqa: S603
            [APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        apache = Apache(root, port, process)
        started.append(apache)
        wait_for(
            lambda: _answers(site) or process.poll() is not None,
            timeout=20,
            message=lambda: f"Apache to start; log:\n{apache.log()[-2000:]}",
        )
        assert process.poll() is None, apache.log()[-2000:]
        return apache

    yield start, member, client
    for apache in started:
        apache.stop()


def _answers(site):
    try:
        requests.get(f"{site}/loggedout.html", timeout=2)
    except requests.RequestException:
        return False
    return True


def _info(page, apache):
    """mod_auth_openidc's own view of its session (OIDCInfoHook): the claims it accepted."""
    answer = page.request.get(f"{apache.url}/oidc/redirect_uri?info=json")
    assert answer.status == 200, answer.text()
    return json.loads(answer.text())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_apache_signs_a_member_in_through_bastion(page, live_server, wiki, method):
    """OIDC Core 3.1.2.1: mod_auth_openidc sends the authorization request by GET or POST (as a form
    the browser posts); the member signs in at Bastion and reads the protected page; the ID
    token and userinfo it checked carry the member and the wiki's group."""
    start, member, _ = wiki
    apache = start(method)
    page.goto(f"{apache.url}/protected/")
    page.wait_for_url(lambda url: "/login" in url)
    assert page.url.startswith(live_server)
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{apache.url}/protected/**")
    assert page.get_by_role("heading").inner_text() == "The protected wiki page", apache.log()[-2000:]
    info = _info(page, apache)
    assert info["id_token"]["sub"] == str(member.id) and info["id_token"]["iss"] == live_server
    assert info["userinfo"]["groups"] == ["member", "wiki"]


def test_prompt_none_returns_to_apache_without_a_page_of_bastions(page, live_server, wiki):
    """OIDC Core 3.1.2.6: a silent request from a browser signed in nowhere comes straight back to
    the site with login_required; Bastion shows no page. Signed in, the same request goes through."""
    start, _, _ = wiki
    apache = start()
    seen = []
    page.on("framenavigated", lambda frame: seen.append(frame.url))
    page.goto(f"{apache.url}/silent/")
    back = f"{apache.url}/oidc/redirect_uri?error=login_required"
    wait_for(lambda: any(url.startswith(back) for url in seen), timeout=15, message=lambda: str(seen))
    assert not [url for url in seen if url.startswith(f"{live_server}/login")]
    page.wait_for_load_state()
    assert page.url.startswith(apache.url)  # mod_auth_openidc's own answer, not Bastion's page

    sign_in(page, "reader", PASSWORD, "/")
    page.goto(f"{apache.url}/silent/")
    page.wait_for_url(f"{apache.url}/silent/**")
    assert page.get_by_role("heading").inner_text() == "The silent wiki page"


def test_apache_signs_the_member_out_of_bastion_and_its_tokens_are_revoked(page, live_server, wiki, db):
    """RP-Initiated Logout and RFC 7009: the wiki's logout revokes what it held at Bastion's
    revocation endpoint, ends Bastion's session in this browser through the end_session_endpoint
    with its id_token_hint, and lands on the wiki's registered page."""
    start, member, client = wiki
    apache = start()
    sign_in(page, "reader", PASSWORD, "/")
    page.goto(f"{apache.url}/protected/")
    page.wait_for_url(f"{apache.url}/protected/**")
    db.session.expire_all()
    held = db.session.scalars(db.select(OidcToken).filter_by(client_id=client.client_id)).all()
    assert held and not any(token.revoked for token in held)

    page.goto(f"{apache.url}/oidc/redirect_uri?logout={apache.url}/loggedout.html")
    page.wait_for_url(f"{apache.url}/loggedout.html**")
    assert page.get_by_role("heading").inner_text() == "Signed out of the wiki"
    db.session.expire_all()
    assert all(token.revoked for token in db.session.scalars(db.select(OidcToken)))
    page.goto(f"{live_server}/services")
    assert "/login" in page.url  # Bastion's session in this browser ended too


def test_apache_accepts_tokens_from_a_new_key_once_it_signs(page, live_server, wiki, db, app):
    """A key turned over is published before it signs: the wiki, which fetched the JWKS before, still
    signs members in once the new key signs."""
    from datetime import timedelta

    from app.clock import utcnow
    from app.oidc import keys
    from app.oidc.models import SigningKey

    start, _, _ = wiki
    apache = start()
    first = keys.current().kid
    sign_in(page, "reader", PASSWORD, "/")
    page.goto(f"{apache.url}/protected/")
    page.wait_for_url(f"{apache.url}/protected/**")
    assert _info(page, apache)["id_token"]["sub"]

    second = keys.rotate()
    fresh = db.session.scalars(db.select(SigningKey).filter_by(kid=second)).one()
    fresh.signs_at = utcnow() - timedelta(seconds=1)  # the publish delay has passed
    db.session.commit()
    assert keys.current().kid == second != first
    other = page.context.browser.new_context(base_url=live_server)
    try:
        tab = other.new_page()
        sign_in(tab, "reader", PASSWORD, "/")
        tab.goto(f"{apache.url}/protected/")
        tab.wait_for_url(f"{apache.url}/protected/**")
        assert tab.get_by_role("heading").inner_text() == "The protected wiki page", apache.log()[-2000:]
    finally:
        other.close()
