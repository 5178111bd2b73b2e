"""``flask users ...``: manage local accounts from the shell."""

import click
from flask.cli import AppGroup

from app.accounts.models import User
from app.extensions import db

users_cli = AppGroup("users", help="Manage Bastion users.")

MIN_PASSWORD_LENGTH = 12


def _check_password(password):
    """Raise a clear error for a password too short to be safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="password")


@users_cli.command("create-admin")
@click.argument("username")
@click.password_option(help="The new admin's password (asked for when not given).")
def create_admin(username, password):
    """Create an admin with a local password."""
    username = username.strip()
    if not username or len(username) > 64:
        raise click.BadParameter("must be 1 to 64 characters", param_hint="username")
    _check_password(password)
    if db.session.scalar(db.select(User).filter_by(username=username)) is not None:
        raise click.ClickException(f"a user named {username!r} exists already")
    user = User(username=username, role="admin", state="guest")
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Admin {username!r} created.")


@users_cli.command("set-password")
@click.argument("username")
@click.password_option(help="The new password (asked for when not given).")
def set_password(username, password):
    """Set a local user's password."""
    user = db.session.scalar(db.select(User).filter_by(username=username.strip()))
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    _check_password(password)
    user.set_password(password)
    db.session.commit()
    click.echo(f"Password of {username!r} changed.")
