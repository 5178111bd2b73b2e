"""``flask oidc ...``: the OpenID Connect provider's signing keys."""

import click
from flask.cli import AppGroup

from app.oidc import keys

oidc_cli = AppGroup("oidc", help="The OpenID Connect provider.")


@oidc_cli.command("rotate-key")
def rotate_key():
    """Sign ID tokens with a new key from now on (the old one stays in the JWKS a while)."""
    click.echo(f"New signing key {keys.rotate()}; removed {keys.forget_old()} keys past their keep time.")


@oidc_cli.command("keys")
def list_keys():
    """The signing keys the JWKS publishes, newest first."""
    for key in keys.published():
        state = "signs now" if key.retired_at is None else f"retired {key.retired_at:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{key.kid}  made {key.created_at:%Y-%m-%d %H:%M} UTC  {state}")
