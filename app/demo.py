"""``flask demo seed``: the demo data that ``make run`` starts with (idempotent)."""

import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.accounts.models import User
from app.extensions import db

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_ADMIN = "admin"


def logins_file():
    """Where the demo logins are kept, readable only by their owner."""
    return Path(current_app.instance_path) / "demo-logins.txt"


def seed_admin():
    """Create the demo admin once, with a random password written to the logins file."""
    if db.session.scalar(db.select(User).filter_by(username=DEMO_ADMIN)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    user = User(username=DEMO_ADMIN, role="admin", state="guest")
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    path = logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"admin login: {DEMO_ADMIN} / {password}\n")
    path.chmod(0o600)
    return password


@demo_cli.command("seed")
def seed():
    """Create the demo data unless it exists."""
    created = seed_admin()
    if created:
        click.echo(f"Demo admin created: {DEMO_ADMIN} / {created}")
    else:
        click.echo("Demo data already present.")


@demo_cli.command("logins")
def logins():
    """Print the demo logins."""
    path = logins_file()
    if path.exists():
        click.echo(path.read_text().rstrip())
    else:
        click.echo("No demo logins yet: run `flask demo seed`.")
