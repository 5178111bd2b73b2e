"""``flask mumble ...``: the authenticator process, and a check of each Mumble service."""

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.extensions import db
from app.services.connectors.base import ConnectorError
from app.services.models import Service
from app.services.mumble import authenticator, ice

mumble_cli = AppGroup("mumble", help="Mumble services: the authenticator and checks.")


@mumble_cli.command("authenticator")
@click.option("--interval", type=click.IntRange(1, 3600), default=None, help="Seconds between registrations.")
@click.option(
    "--optional", is_flag=True, help="Without ZeroC Ice, say so and wait instead of failing (the demo)."
)
@with_appcontext
def run_authenticator(interval, optional):
    """Answer every Mumble service's logins until stopped (SIGTERM or Ctrl-C)."""
    try:
        ice.modules()
    except ConnectorError as exc:
        if not optional:
            raise click.ClickException(str(exc)) from None
        click.echo(f"mumble authenticator: not running: {exc}")
        authenticator.stop_on_signals().wait()
        return
    config = current_app.config
    app = current_app._get_current_object()
    click.echo(
        f"mumble authenticator: serving the Mumble services, called back on {config['MUMBLE_CALLBACK_HOST']}"
    )
    authenticator.run(
        app,
        authenticator.stop_on_signals(),
        interval or config["MUMBLE_REFRESH_S"],
        config["MUMBLE_CALLBACK_HOST"],
    )


@mumble_cli.command("check")
@with_appcontext
def check():
    """Say whether each Mumble service's server answers over Ice with its secret."""
    services = db.session.scalars(db.select(Service).filter_by(kind="mumble")).all()
    if not services:
        click.echo("No Mumble service is set up.")
        return
    failed = 0
    for service in services:
        try:
            with ice.open_server(service.settings) as server:
                running = server.isRunning()
            click.echo(f"{service.slug}: reachable, virtual server {'running' if running else 'stopped'}")
        except ConnectorError as exc:
            failed += 1
            click.echo(f"{service.slug}: {exc}")
    if failed:
        raise SystemExit(1)
