"""``python -m bench signin``: a sign-in storm through Bastion's OpenID Connect provider and its
Mumble authenticator, as before a fleet: many members at once.

Seeds M members holding an OpenID Connect service and a Mumble service; serves the app with
gunicorn; signs each member in to Bastion (untimed), then times, with C members at a time, the
site's whole code flow (authorize, token, userinfo). With Debian's mumble-server and ZeroC Ice
installed, it also starts a Mumble server and the authenticator process and times K Mumble
clients logging in together (connection to ready, which includes the authenticator's answer).
"""

import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests

from bench.dashboard import _env as dashboard_env
from bench.dashboard import _p, prepare, serve
from bench.harness import migrated_app
from bench.servers import stop_process

PASSWORD = "bench member password"  # noqa: S105  (throwaway accounts of the run)
MUMBLE_PASSWORD = "bench-mumble-password"  # noqa: S105
CALLBACK = "http://127.0.0.1:9/callback"


def _env(tmp, redis_url, database_url):
    """The dashboard benchmark's settings, with sign-in limits out of the way of the storm."""
    return {
        **dashboard_env(tmp, redis_url, database_url),
        "LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
        "LOGIN_LIMIT_PER_USERNAME": "100000 per minute",
    }


def _seed(app, members, mumble_settings):
    """M members with one password, each holding both services; the client's (id, secret)."""
    from werkzeug.security import generate_password_hash

    from app.access.models import Grant
    from app.accounts.models import User
    from app.extensions import db
    from app.oidc.clients import ensure_client
    from app.services.models import MumbleAccount, Service
    from app.services.mumble.accounts import HASH_METHOD

    with app.app_context():
        forum = Service(slug="forum", name="Forum", kind="oidc")
        voice = Service(slug="voice", name="Voice", kind="mumble")
        voice.settings = mumble_settings or {}
        db.session.add_all([forum, voice])
        client, secret = ensure_client(forum, [CALLBACK])
        db.session.flush()
        password_hash = generate_password_hash(PASSWORD)  # once: the same for everyone
        mumble_hash = generate_password_hash(MUMBLE_PASSWORD, method=HASH_METHOD)
        for n in range(members):
            user = User(username=f"member{n}", role="member", state="member", password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
            for service in (forum, voice):
                db.session.add(
                    Grant(user_id=user.id, service_id=service.id, status="active", sync_status="synced")
                )
            db.session.add(
                MumbleAccount(
                    service_id=voice.id,
                    user_id=user.id,
                    username=f"Pilot {n}",
                    username_folded=f"pilot {n}",
                    display_name=f"Pilot {n}",
                    password_hash=mumble_hash,
                )
            )
        db.session.commit()
        return client.client_id, secret, voice.id


def _signed_in(base, n):
    from tests.support import csrf_token_from

    session = requests.Session()
    token = csrf_token_from(session.get(f"{base}/login", timeout=30).text)
    answer = session.post(
        f"{base}/login",
        data={"username": f"member{n}", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"member{n} could not sign in: {answer.status_code}")
    return session


def _code_flow(base, session, client_id, secret):
    """One site's sign-in for a signed-in member: (authorize, token, userinfo) in ms."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = generate_token(48)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile groups",
        "state": generate_token(16),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    started = time.perf_counter()
    page = session.get(f"{base}/oauth/authorize", params=query, timeout=30).text
    target = page.split('http-equiv="refresh" content="0;url=')[1].split('"')[0].replace("&amp;", "&")
    code = parse_qs(urlparse(target).query)["code"][0]
    authorized = time.perf_counter()
    tokens = requests.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
        timeout=30,
    ).json()
    swapped = time.perf_counter()
    info = requests.get(
        f"{base}/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=30
    ).json()
    done = time.perf_counter()
    if "forum" not in info.get("groups", []) and "sub" not in info:
        raise RuntimeError(f"userinfo without the member: {info}")
    return (authorized - started) * 1000, (swapped - authorized) * 1000, (done - swapped) * 1000


def _oidc(base, members, concurrency, client_id, secret):
    with ThreadPoolExecutor(concurrency) as pool:
        sessions = list(pool.map(lambda n: _signed_in(base, n), range(members)))
        _code_flow(base, sessions[0], client_id, secret)  # warm both workers
        started = time.perf_counter()
        steps = list(pool.map(lambda s: _code_flow(base, s, client_id, secret), sessions))
        elapsed = time.perf_counter() - started
    result = {"oidc_signins": members, "oidc_signins_per_s": round(members / elapsed, 1)}
    for index, name in enumerate(("authorize", "token", "userinfo")):
        timings = [s[index] for s in steps]
        result[f"oidc_{name}_p50_ms"] = _p(timings, 0.5)
        result[f"oidc_{name}_p95_ms"] = _p(timings, 0.95)
    totals = [sum(s) for s in steps]
    result["oidc_flow_p50_ms"] = _p(totals, 0.5)
    result["oidc_flow_p95_ms"] = _p(totals, 0.95)
    return result


def _mumble_available():
    if not Path("/usr/sbin/murmurd").exists():
        return False
    try:
        from app.services.mumble import ice

        ice.modules()
    except Exception:
        return False
    return True


def _mumble(server, clients, database_url, tmp):
    """K Mumble clients logging in at once through the authenticator process."""
    from tests.fixtures.mumble import AuthenticatorProcess, mumble_client

    env = {"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret-key", "LOG_LEVEL": "INFO"}
    authenticator = AuthenticatorProcess(env, tmp)  # INFO: it says when it is attached
    try:
        authenticator.wait_attached("voice")
        barrier = threading.Barrier(clients)

        def log_in(n):
            barrier.wait()
            started = time.perf_counter()
            client = mumble_client(server.settings["address"], f"Pilot {n}", MUMBLE_PASSWORD)
            took = (time.perf_counter() - started) * 1000
            accepted = client.connected == 2
            client.stop()
            return took, accepted

        with ThreadPoolExecutor(clients) as pool:
            started = time.perf_counter()
            outcomes = list(pool.map(log_in, range(clients)))
            elapsed = time.perf_counter() - started
    finally:
        authenticator.stop()
    timings = [t for t, _ in outcomes]
    return {
        "mumble_logins": clients,
        "mumble_accepted": sum(1 for _, ok in outcomes if ok),
        "mumble_login_p50_ms": _p(timings, 0.5),
        "mumble_login_p95_ms": _p(timings, 0.95),
        "mumble_all_in_s": round(elapsed, 2),
    }


def _decide_timings(app, voice_id, count):
    """The authenticator's answer alone (database read and password check), in this process."""
    from app.extensions import db
    from app.services.mumble.accounts import decide

    timings = []
    with app.app_context():
        for n in range(count):
            started = time.perf_counter()
            login = decide(voice_id, f"Pilot {n}", MUMBLE_PASSWORD)
            timings.append((time.perf_counter() - started) * 1000)
            if login.user_id < 0:
                raise RuntimeError(f"Pilot {n} was refused: {login.why}")
            db.session.remove()
    return {"mumble_decide_p50_ms": _p(timings, 0.5), "mumble_decide_p95_ms": _p(timings, 0.95)}


def run(args):
    """Seed, serve, storm; one dict of figures."""
    tmp, redis_server, database_url, env = prepare("bastion-bench-signin-", _env)
    server = mumble = None
    try:
        with_mumble = _mumble_available() and args.mumble_clients > 0
        if with_mumble:
            from tests.fixtures.mumble import MumbleServer

            mumble = MumbleServer(tempfile.mkdtemp(prefix="bastion-bench-murmur-")).start()
        app = migrated_app()
        client_id, secret, voice_id = _seed(app, args.members, mumble.settings if mumble else None)
        server, base = serve({**os.environ, **env}, Path(tmp.name) / "gunicorn.log")
        result = {
            "members": args.members,
            "concurrency": args.concurrency,
            "database": database_url.split(":", 1)[0],
        }
        result.update(_oidc(base, args.members, args.concurrency, client_id, secret))
        result.update(_decide_timings(app, voice_id, min(args.members, 200)))
        if with_mumble:
            result.update(_mumble(mumble, min(args.mumble_clients, args.members), database_url, tmp.name))
        else:
            result["mumble"] = "skipped: mumble-server or python3-zeroc-ice is not installed"
        return result
    finally:
        if server is not None:
            stop_process(server)
        if mumble is not None:
            mumble.stop()
            shutil.rmtree(mumble.root, ignore_errors=True)
        redis_server.stop()
        tmp.cleanup()
        sys.stdout.flush()
