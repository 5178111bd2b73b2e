"""Debian's Caddy in front of Bastion and an app, configured with the README's own Caddyfile block:
a visitor is sent to Bastion's login page and back, the app receives the member's identity and
never a client's spoofed one (in either spelling), nor Bastion's cookies."""

import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests

from tests.browser.test_nginx_forward_auth import (
    _cookie,
    _granted_member,
    anonymous_is_sent_to_log_in,
    sign_in_through_the_proxy,
)
from tests.fixtures.browser import fresh_tab
from tests.support import IN_CI, free_ports, wait_for

CADDY = shutil.which("caddy") or "/usr/bin/caddy"
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_caddyfile():
    """The Caddyfile block of the README, as an admin would copy it."""
    found = re.search(r"```caddy\n(.*?)```", README.read_text(), re.S)
    assert found, "the README has no ```caddy block"
    return "\n".join(line.removeprefix("  ") for line in found.group(1).splitlines()) + "\n"


class EchoApp:
    """The app behind the proxy: answers with the headers and cookies that reached it, as JSON."""

    def __init__(self, port):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (the http.server interface)
                body = json.dumps({"headers": [[k, v] for k, v in self.headers.items()], "path": self.path})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _seen(text):
    """What the app received: {lower-case header name: value}."""
    answer = json.loads(text)
    return {name.lower(): value for name, value in answer["headers"]} | {"path": answer["path"]}


@pytest.fixture()
def caddy(tmp_path, suite_config):
    """Caddy with the README's block on a free port, for auth.bastion.test (a Bastion behind it) and
    wiki.bastion.test (the echo app behind forward auth)."""
    if not Path(CADDY).exists():
        if IN_CI:
            pytest.fail("caddy is missing: CI must install Debian's caddy")
        pytest.skip("caddy is not installed (apt-get install caddy)")
    from werkzeug.serving import make_server

    from app import create_app

    port, app_port, bastion_port = free_ports(3)

    class Proxied(suite_config):
        TRUSTED_PROXIES = 1
        SESSION_COOKIE_DOMAIN = ".bastion.test"
        REMEMBER_COOKIE_DOMAIN = ".bastion.test"
        PUBLIC_URL = f"http://auth.bastion.test:{port}"

    bastion = make_server("127.0.0.1", bastion_port, create_app(Proxied), threaded=True)
    threading.Thread(target=bastion.serve_forever, daemon=True).start()
    app = EchoApp(app_port)
    config = "{\n    admin off\n    auto_https off\n}\n" + readme_caddyfile().replace(
        "auth.example.org", f"http://auth.bastion.test:{port}"
    ).replace("wiki.example.org", f"http://wiki.bastion.test:{port}").replace(
        "bastion:8000", f"127.0.0.1:{bastion_port}"
    ).replace("wiki-backend", f"127.0.0.1:{app_port}")
    (tmp_path / "Caddyfile").write_text(config)
    log = tmp_path / "caddy.log"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [CADDY, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def answers():
        try:
            requests.get(
                f"http://127.0.0.1:{port}/", headers={"Host": f"auth.bastion.test:{port}"}, timeout=1
            )
            return True
        except requests.ConnectionError:
            return process.poll() is not None

    wait_for(answers, timeout=20, message=lambda: f"Caddy to start: {log.read_text()[-2000:]}")
    assert process.poll() is None, log.read_text()[-2000:]
    yield port
    process.terminate()
    process.wait(timeout=10)
    app.stop()
    bastion.shutdown()


def test_caddy_sends_visitors_to_log_in_and_gives_the_app_only_bastions_word(
    browser, db, make_user, key_factory, caddy, redis_client
):
    port = caddy
    member, made = _granted_member(db, make_user, key_factory)

    anonymous_is_sent_to_log_in(port, member)

    with fresh_tab(browser) as page:
        sign_in_through_the_proxy(page, port)
        seen = _seen(page.locator("body").inner_text())
        assert seen["x-bastion-user"] == str(member.id)
        assert unquote(seen["x-bastion-character"]) == made["name"]
        assert seen["path"] == "/doctrines?fleet=armor"
        assert "bastion_" not in seen.get("cookie", "")
        cookies = page.context.cookies()

        # A signed-in member spoofs another user, in both spellings: only Bastion's word arrives.
        spoofed = requests.get(
            f"http://127.0.0.1:{port}/",
            headers={
                "Host": f"wiki.bastion.test:{port}",
                "X-Bastion-User": "1",
                "X_Bastion_User": "1",
                "X_Bastion_Character": "Someone Else",
                "Cookie": f"theme=dark; bastion_session={_cookie(cookies, 'bastion_session')}; lang=en",
                "User-Agent": page.evaluate("navigator.userAgent"),
            },
            timeout=5,
        )
        seen = _seen(spoofed.text)
        assert seen["x-bastion-user"] == str(member.id)
        assert not [name for name in seen if "_" in name]
        assert [part.strip() for part in seen["cookie"].split(";") if part.strip()] == [
            "theme=dark",
            "lang=en",
        ]
