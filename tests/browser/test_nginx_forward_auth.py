"""A real nginx (Debian's package) with auth_request in front of a page: Bastion's forward-auth check
lets a member holding the service through and stops everyone else."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from app.access.grants import grant_manually
from app.accounts.models import User
from app.services.models import Service
from tests.support import IN_CI, free_port, wait_for

PASSWORD = "fly safe o7 always"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
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


@pytest.fixture()
def nginx(tmp_path, live_server):
    """nginx on a free port, asking Bastion before serving its one page."""
    if not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("nginx is missing: CI must install Debian's nginx")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    root = tmp_path / "nginx"
    (root / "site").mkdir(parents=True)
    (root / "site" / "index.html").write_text("<h1>Fleet doctrines</h1><p>For members only.</p>")
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(CONFIG.format(root=root, port=port, bastion=live_server, user=user))
    process = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def answers():
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return True
        except requests.ConnectionError:
            return False

    wait_for(
        answers,
        timeout=10,
        message=lambda: f"nginx to start: {_read(root / 'error.log')}",
    )
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def _read(path):
    return path.read_text() if path.exists() else "no log"


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
    from app.keys.models import Key

    service = Service(slug="wiki", name="Alliance wiki", kind="forward_auth", directors_may_grant=True)
    db.session.add(service)
    db.session.commit()
    key_id, made, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    member.username = "granted"
    member.set_password(PASSWORD)
    outsider = make_user(username="outsider", password=PASSWORD, state="member")
    director = make_user(role="director", username="granter", password=PASSWORD)
    grant_manually(member, service, director, reason="Doctrine writer")

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
