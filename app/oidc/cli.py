"""``flask oidc ...``: the OpenID Connect provider's signing keys."""

import click
from flask import current_app
from flask.cli import AppGroup

from app.oidc import keys

oidc_cli = AppGroup("oidc", help="The OpenID Connect provider.")


@oidc_cli.command("rotate-key")
@click.option("--now", "at_once", is_flag=True, help="Sign with it at once: for a key that leaked.")
def rotate_key(at_once):
    """Publish a new signing key; it signs after OIDC_KEY_PUBLISH_S, when sites' cached JWKS know it
    (with --now, at once). The old key stays in the JWKS a while after."""
    kid = keys.rotate(now=at_once)
    when = "signs now" if at_once else f"signs in {current_app.config['OIDC_KEY_PUBLISH_S']} s"
    click.echo(f"New signing key {kid} ({when}); removed {keys.forget_old()} keys past their keep time.")


@oidc_cli.command("keys")
def list_keys():
    """The signing keys the JWKS publishes, newest first."""
    signing = keys.current().kid
    for key in keys.published():
        if key.kid == signing:
            state = "signs now"
        elif key.retired_at is not None:
            state = f"retired {key.retired_at:%Y-%m-%d %H:%M} UTC"
        else:
            state = f"published; signs from {key.signs_from:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{key.kid}  made {key.created_at:%Y-%m-%d %H:%M} UTC  {state}")
