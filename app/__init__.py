"""Bastion: access management for EVE Online corporations and alliances.

create_app is the one place that knows every area. Its register_* steps import the areas inside
the functions, on purpose: ``import app.clock`` (say, in a consumer or a migration) must not load
every view, and the views import the tasks, which import logic from app.
"""

import logging
from pathlib import Path

from flask import Flask, abort, request

from config import INSTANCE_DIR, Config, check_production_config

__version__ = "0.1.0"


def create_app(config_class=Config):
    """Build the Flask application: extensions, blueprints, error pages, CLI and logging."""
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_object(config_class)
    app.config["VERSION"] = __version__
    problems = check_production_config(app.config)
    if problems:
        raise RuntimeError("refusing to start: " + "; ".join(problems))
    register_logging(app)
    register_proxies(app)
    register_url_converters(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_guards(app)
    register_security_headers(app)
    register_template_context(app)
    register_cli(app)
    return app


def register_logging(app):
    """Log to stderr at the configured level."""
    level = app.config.get("LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    huey_logger = logging.getLogger("huey")
    if huey_logger.handlers:  # the consumer logs huey's own lines already
        huey_logger.propagate = False
    if app.config["ENV"] == "production" and app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.logger.warning("running in production on SQLite; PostgreSQL is recommended")


def register_proxies(app):
    """Trust X-Forwarded-For, -Proto, -Host and -Port from exactly TRUSTED_PROXIES proxies."""
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops < 0:
        raise RuntimeError("refusing to start: TRUSTED_PROXIES must be 0 or more")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def register_url_converters(app):
    """Ids in URLs are 64-bit: a larger number matches no route (404), never reaching the database."""
    from werkzeug.routing import IntegerConverter

    class Id64Converter(IntegerConverter):
        def __init__(self, url_map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):  # noqa: A002
            super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    app.url_map.converters["int"] = Id64Converter


def register_extensions(app):
    """Bind the extensions to this app."""
    from app import crypto, eve
    from app.accounts import limits
    from app.extensions import csrf, db, login_manager, migrate
    from app.jobs import connection
    from app.jobs import setup as jobs_setup
    from app.oidc import server as oidc_server

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        connect_args = dict(options.get("connect_args", {}))
        # sqlite3's timeout is SQLite's busy timeout: writers wait instead of failing at once.
        connect_args.setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        connect_args.setdefault("check_same_thread", False)
        options["connect_args"] = connect_args
        # A connection per worker thread, kept: opening SQLite connections is not free.
        options.pop("pool_pre_ping", None)
        if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
            options.setdefault("pool_size", 32)
            options.setdefault("max_overflow", 32)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    _import_all_models()
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, directory=str(_root() / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.session_protection = "strong"
    connection.init_app(app)
    limits.init_app(app)
    crypto.init_app(app)
    jobs_setup.init_app(app)
    eve.init_app(app)
    oidc_server.init_app(app)
    from app.accounts import auth  # noqa: F401  (user loader and unauthorized handler)
    from app.services.mumble import accounts as _mumble  # noqa: F401  (forgets passwords on sign-out)


def register_blueprints(app):
    """Mount each area's blueprint (importing its views attaches the routes)."""
    from app.accounts import bp as accounts_bp
    from app.accounts import sso_views as _sso_views  # noqa: F401
    from app.accounts import views as _account_views  # noqa: F401
    from app.admin import audit as _audit  # noqa: F401
    from app.admin import bp as admin_bp
    from app.admin import corporations as _corporations  # noqa: F401
    from app.admin import dashboard as _dashboard  # noqa: F401
    from app.admin import guard as _guard  # noqa: F401
    from app.admin import keys as _admin_keys  # noqa: F401
    from app.admin import queue as _queue  # noqa: F401
    from app.admin import services as _admin_services  # noqa: F401
    from app.admin import users as _users  # noqa: F401
    from app.admin import watchlist as _watchlist  # noqa: F401
    from app.director import bp as director_bp
    from app.director import compliance as _compliance_views  # noqa: F401
    from app.director import views as _director_views  # noqa: F401
    from app.health import bp as health_bp
    from app.keys import bp as keys_bp
    from app.keys import views as _key_views  # noqa: F401
    from app.main import bp as main_bp
    from app.metrics import bp as metrics_bp
    from app.oidc import bp as oidc_bp
    from app.oidc import views as _oidc_views  # noqa: F401
    from app.services import bp as services_bp
    from app.services import views as _service_views  # noqa: F401

    app.register_blueprint(main_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(health_bp)
    app.register_blueprint(keys_bp)
    app.register_blueprint(services_bp)
    app.register_blueprint(director_bp)
    app.register_blueprint(oidc_bp)


def register_errorhandlers(app):
    """Error pages for browsers and JSON bodies for JSON callers."""
    from app.errors import register

    register(app)


def register_request_guards(app):
    """Refuse paths holding control characters (an id or a name in a URL never has one)."""

    @app.before_request
    def refuse_control_characters():
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in request.path):
            abort(404)


def register_security_headers(app):
    """Send the headers that keep a browser from being turned against the user."""

    # Signing in may end in a redirect to a forward-auth app's host name (its ``rd``), which the
    # browser checks against form-action.
    from app.accounts.auth import return_domains

    form_action = " ".join(["'self'", *(f"{d}:* *.{d}:*" for d in return_domains(app.config))])
    policy = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"frame-ancestors 'none'; form-action {form_action}; base-uri 'self'"
    )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def register_template_context(app):
    """Values every template may use."""

    from app.accounts.auth import public_url
    from app.templating import action_name, clock, relative, seconds, when

    app.add_template_global(public_url)

    for template_filter in (when, seconds, relative, clock, action_name):
        app.add_template_filter(template_filter)

    def my_notices():
        """The signed-in member's notices (access about to end, or ended), for every page."""
        from flask_login import current_user

        from app.access.notices import shown_to

        if not current_user.is_authenticated:
            return []
        try:
            return shown_to(current_user.id)
        except Exception:  # an error page must render even when the database cannot
            return []

    def requests_waiting():
        """Pending requests the signed-in director may decide (0 for anyone else); counted once
        per request, however many parts of the page show it."""
        from flask import g
        from flask_login import current_user

        from app.access.requests import waiting_for

        if not (current_user.is_authenticated and current_user.has_role("director")):
            return 0
        if "requests_waiting" not in g:
            try:
                g.requests_waiting = waiting_for(current_user)
            except Exception:  # an error page must render even when the database cannot
                g.requests_waiting = 0
        return g.requests_waiting

    @app.context_processor
    def inject_globals():
        return {
            "bastion_version": app.config["VERSION"],
            "demo_mode": app.config.get("DEMO", False),
            "my_notices": my_notices,
            "requests_waiting": requests_waiting,
        }


def register_cli(app):
    """Add each area's flask commands."""
    from app.accounts.cli import users_cli
    from app.admin.cli import queue_cli
    from app.demo import demo_cli
    from app.imports.cli import import_cli
    from app.oidc.cli import oidc_cli
    from app.services.mumble.cli import mumble_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(queue_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(mumble_cli)
    app.cli.add_command(oidc_cli)


def _import_all_models():
    """Import every area's models so that db.metadata holds the whole schema (Alembic reads it)."""
    from app import audit as _audit  # noqa: F401
    from app.access import models as _access  # noqa: F401
    from app.accounts import models as _accounts  # noqa: F401
    from app.compliance import models as _compliance  # noqa: F401
    from app.corps import models as _corps  # noqa: F401
    from app.jobs import models as _jobs  # noqa: F401
    from app.keys import models as _keys  # noqa: F401
    from app.oidc import models as _oidc  # noqa: F401
    from app.services import models as _services  # noqa: F401


def _root():
    """The project's top folder."""
    return Path(__file__).resolve().parent.parent
