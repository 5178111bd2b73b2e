"""The sandbox's WSGI app: SSO at the root, ESI under /esi, the control API under /_sandbox."""

import secrets

from flask import Flask, g, request

import sandbox.esi_corp  # noqa: F401  (adds the corporation membership routes to esi.bp)
from sandbox import control, discord_api, discord_control, discord_state, discord_webhooks, esi, forum, sso
from sandbox.state import Universe
from sandbox.tokens import SigningKey


def create_sandbox_app(world=None, key=None, bastion_url="http://127.0.0.1:5000", port=8025):
    """Build the sandbox around a universe (a new, empty one when none is given)."""
    app = Flask(__name__)
    # The demo forum (sandbox/forum.py) keeps its visitors in a cookie of its own name: cookies
    # do not tell ports apart, and Bastion runs on the same host.
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_NAME="sandbox_forum",
        BASTION_URL=bastion_url,
        FORUM_PORT=port,
    )
    app.extensions["sandbox"] = {
        "universe": world or Universe(),
        "key": key or SigningKey(),
        "discord": discord_state.DiscordWorld(),
    }
    app.register_blueprint(sso.bp)
    app.register_blueprint(esi.bp, url_prefix="/esi")
    app.register_blueprint(control.bp, url_prefix="/_sandbox")
    app.register_blueprint(discord_api.bp, url_prefix="/discord")
    app.register_blueprint(discord_control.control, url_prefix="/_sandbox")
    app.register_blueprint(discord_webhooks.bp, url_prefix="/discord")
    app.register_blueprint(discord_webhooks.control, url_prefix="/_sandbox")
    app.register_blueprint(forum.bp)
    _count_calls(app)
    return app


def _count_calls(app):
    """Count calls per route and status, and the peak of calls in flight."""

    @app.before_request
    def enter():
        if request.path.startswith("/_sandbox"):
            return
        world = app.extensions["sandbox"]["universe"]
        with world.lock:
            counters = world.counters
            counters.in_flight += 1
            counters.peak_concurrency = max(counters.peak_concurrency, counters.in_flight)
        g.counted = True

    @app.after_request
    def record(response):
        if request.path.startswith("/_sandbox"):
            return response
        rule = request.url_rule.rule if request.url_rule else "unmatched"
        world = app.extensions["sandbox"]["universe"]
        with world.lock:
            world.counters.calls[f"{request.method} {rule} {response.status_code}"] += 1
        return response

    @app.teardown_request
    def leave(exc):
        if g.pop("counted", False):
            world = app.extensions["sandbox"]["universe"]
            with world.lock:
                world.counters.in_flight -= 1
