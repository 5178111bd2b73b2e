"""A real nginx (Debian's package) with auth_request in front of a page: Bastion's forward-auth check
lets a member holding the service through and stops everyone else."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from app.access.grants import grant_manually
from app.accounts.models import User
from app.services.models import Service
from tests.fixtures.browser import fresh_tab
from tests.support import IN_CI, free_port, free_ports, wait_for

PASSWORD = "fly safe o7 always"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# What every nginx of these tests needs, running as an unprivileged process in its own folder.
PRELUDE = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
"""

CONFIG = (
    PRELUDE
    + """
  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_bastion;
      auth_request_set $bastion_character $upstream_http_x_bastion_character;
      add_header X-Seen-As $bastion_character always;
      root {root}/site;
    }}
    location = /_bastion {{
      internal;
      proxy_pass {bastion}/auth/forward/wiki;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }}
  }}
}}
"""
)


@pytest.fixture()
def nginx(tmp_path, live_server):
    """nginx on a free port, asking Bastion before serving its one page."""
    _require_nginx()
    root = tmp_path / "nginx"
    (root / "site").mkdir(parents=True)
    (root / "site" / "index.html").write_text("<h1>Fleet doctrines</h1><p>For members only.</p>")
    port = free_port()
    process = _start(root, CONFIG.format(root=root, port=port, bastion=live_server, user=_user()), port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def _require_nginx():
    if not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("nginx is missing: CI must install Debian's nginx")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")


def _user():
    return "user root;" if os.geteuid() == 0 else ""


def _start(root, config, port, host="localhost"):
    """nginx with this configuration, once it answers on the port."""
    (root / "nginx.conf").write_text(config)
    process = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def answers():
        try:
            requests.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, timeout=1)
            return True
        except requests.ConnectionError:
            return False

    wait_for(answers, timeout=10, message=lambda: f"nginx to start: {_read(root / 'error.log')}")
    return process


def _read(path):
    return path.read_text() if path.exists() else "no log"


def _granted_member(db, make_user, key_factory):
    """A member holding the wiki (given by a director), who signs in as "granted"."""
    from app.keys.models import Key

    service = Service(slug="wiki", name="Alliance wiki", kind="forward_auth", directors_may_grant=True)
    db.session.add(service)
    db.session.commit()
    key_id, made, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    member.username = "granted"
    member.set_password(PASSWORD)
    director = make_user(role="director", username="granter", password=PASSWORD)
    grant_manually(member, service, director, reason="Doctrine writer")
    return member, made


def _sign_in(page, username):
    page.goto("/login")
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_nginx_auth_request_lets_a_granted_member_through_and_stops_everyone_else(
    page, db, make_user, key_factory, nginx, redis_client
):
    member, made = _granted_member(db, make_user, key_factory)
    outsider = make_user(username="outsider", password=PASSWORD, state="member")

    anonymous = requests.get(f"{nginx}/", timeout=5)
    assert anonymous.status_code == 401 and "Fleet doctrines" not in anonymous.text

    _sign_in(page, "outsider")
    refused = page.goto(f"{nginx}/")
    assert refused.status == 403
    assert "Fleet doctrines" not in page.content()

    page.context.clear_cookies()  # a different person at the same browser
    _sign_in(page, "granted")
    allowed = page.goto(f"{nginx}/")
    assert allowed.status == 200
    assert page.get_by_role("heading", name="Fleet doctrines").is_visible()
    assert allowed.headers["x-seen-as"] == made["name"]
    assert db.session.get(User, outsider.id).state == "member"  # a member, but without the grant


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_nginx(port, app_port, bastion):
    """The README's nginx example as an admin would copy it, on the test's host names and ports."""
    found = re.search(r"```nginx\n(.*?)```", README.read_text(), re.S)
    assert found, "the README has no ```nginx block"
    block = "\n".join(line.removeprefix("  ") for line in found.group(1).splitlines())
    block = block.replace("server {", f"server {{\n      listen 127.0.0.1:{port};")
    return (
        block.replace("auth.example.org", "auth.bastion.test")
        .replace("wiki.example.org", "wiki.bastion.test")
        .replace("http://bastion:8000", bastion)
        .replace("http://wiki-backend", f"http://127.0.0.1:{app_port}")
    )


# The README's two servers, and the app behind the proxy, which shows what reached it.
TWO_HOSTS = (
    PRELUDE
    + """
{readme}
  server {{
    listen 127.0.0.1:{app_port};
    location / {{
      default_type text/plain;
      set $seen "user=$http_x_bastion_user|character=$http_x_bastion_character";
      return 200 "$seen|cookie=$http_cookie|path=$request_uri";
    }}
  }}
}}
"""
)


@pytest.fixture()
def proxied_bastion(suite_config):
    """A second Bastion, as deployed behind nginx: one proxy trusted, the session cookie on the
    parent domain, its public address on auth.bastion.test."""
    import threading

    from werkzeug.serving import make_server

    from app import create_app

    # nginx's port, the demo site's behind it and this Bastion's, chosen together: none is
    # bound until later, so choosing them one by one could hand out one port twice.
    port, app_port, bastion_port = free_ports(3)

    class Proxied(suite_config):
        TRUSTED_PROXIES = 1
        SESSION_COOKIE_DOMAIN = ".bastion.test"
        REMEMBER_COOKIE_DOMAIN = ".bastion.test"
        PUBLIC_URL = f"http://auth.bastion.test:{port}"

    application = create_app(Proxied)
    server = make_server("127.0.0.1", bastion_port, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, app_port, f"http://127.0.0.1:{bastion_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture()
def two_hosts(tmp_path, proxied_bastion):
    _require_nginx()
    port, app_port, bastion = proxied_bastion
    root = tmp_path / "nginx"
    root.mkdir()
    readme = readme_nginx(port, app_port, bastion).replace("{", "{{").replace("}", "}}")
    config = TWO_HOSTS.replace("{readme}", readme).format(root=root, app_port=app_port, user=_user())
    process = _start(root, config, port, host="auth.bastion.test")
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_forward_auth_on_its_own_host_name_sends_visitors_to_log_in_and_back(
    browser, db, make_user, key_factory, two_hosts, redis_client
):
    port = two_hosts
    member, made = _granted_member(db, make_user, key_factory)

    anonymous_is_sent_to_log_in(port, member)

    with fresh_tab(browser) as page:
        sign_in_through_the_proxy(page, port)
        seen = dict(part.split("=", 1) for part in page.locator("body").inner_text().split("|"))
        assert seen["user"] == str(member.id)
        assert seen["character"] == made["name"]
        assert seen["path"] == "/doctrines?fleet=armor"
        assert "bastion_" not in seen["cookie"]  # Bastion's cookies were stripped
        cookies = page.context.cookies()
        assert {c["domain"] for c in cookies if c["name"] == "bastion_session"} == {".bastion.test"}

        # The signed-in member spoofs another user's header: the proxy overwrites it.
        spoofed = requests.get(
            f"http://127.0.0.1:{port}/",
            headers={
                "Host": f"wiki.bastion.test:{port}",
                "X-Bastion-User": "1",
                "Cookie": f"theme=dark; bastion_session={_cookie(cookies, 'bastion_session')}",
                "User-Agent": page.evaluate("navigator.userAgent"),
            },
            timeout=5,
        )
        seen = dict(part.split("=", 1) for part in spoofed.text.split("|"))
        assert seen["user"] == str(member.id)
        assert seen["cookie"].strip(" ;") == "theme=dark"


def anonymous_is_sent_to_log_in(port, member):
    """An anonymous visitor of the wiki, spoofing a member's identity header, is sent to Bastion's
    login page with the wiki's address to come back to: the spoofed header gets it nowhere."""
    anonymous = requests.get(
        f"http://127.0.0.1:{port}/doctrines?fleet=armor",
        headers={"Host": f"wiki.bastion.test:{port}", "X-Bastion-User": str(member.id)},
        allow_redirects=False,
        timeout=5,
    )
    assert anonymous.status_code == 302, anonymous.text
    assert anonymous.headers["Location"].startswith(f"http://auth.bastion.test:{port}/login?rd=http")


def sign_in_through_the_proxy(page, port):
    """Visit the wiki, sign in as "granted" on Bastion's page, and land back where the visit began,
    on the other host name."""
    wiki = f"http://wiki.bastion.test:{port}"
    page.goto(f"{wiki}/doctrines?fleet=armor")
    page.wait_for_url(lambda url: url.startswith(f"http://auth.bastion.test:{port}/login"))
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill("granted")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{wiki}/doctrines?fleet=armor")


def _cookie(cookies, name):
    return next(c["value"] for c in cookies if c["name"] == name)


@pytest.mark.parametrize(
    "rd",
    [
        "https://evil.example/steal",
        "http://bastion.test.evil.example/",
        "javascript:alert(1)",
        "http://user@wiki.bastion.test/",
        "//wiki.bastion.test/",
    ],
)
def test_the_return_address_must_be_on_an_allowed_domain(app, client, make_user, monkeypatch, rd):
    from tests.support import csrf_token_from

    monkeypatch.setitem(app.config, "FORWARD_AUTH_DOMAINS", ["bastion.test"])
    make_user(username="reader", password=PASSWORD)
    page = client.get("/login", query_string={"rd": rd}).get_data(as_text=True)
    data = {"username": "reader", "password": PASSWORD, "csrf_token": csrf_token_from(page), "rd": rd}
    answer = client.post("/login", data=data)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    page = client.get("/login").get_data(as_text=True)
    good = "https://wiki.bastion.test/page?x=1"
    data = {"username": "reader", "password": PASSWORD, "csrf_token": csrf_token_from(page), "rd": good}
    assert client.post("/login", data=data).headers["Location"] == good
