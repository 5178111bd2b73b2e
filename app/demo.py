"""``flask demo seed``: the demo data ``make run`` starts with (idempotent).

The demo universe is the sandbox's (sandbox/demo.py): the same ids, names and first refresh tokens.
"""

import os
import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import crypto, devmumble
from app.accounts.models import User
from app.compliance.models import TrackingToken
from app.corps.models import Alliance, Character, Corporation
from app.extensions import db
from app.keys.models import Key
from app.oidc.clients import ensure_client
from app.oidc.models import digest
from app.services.models import Service
from sandbox import demo as universe

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_ADMIN = "admin"
TRACKED_ALLIANCES = {"Stellar Vanguard": "member", "Crimson Accord": "blue"}


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
    path.write_text(
        f"admin login: {DEMO_ADMIN} / {password}\n"
        "members: 'Log in with EVE Online' and pick a character in the sandbox "
        "(Aria Vex directs Vanguard Logistics; Borin Kade already has a key)\n"
        f"OpenID Connect forum client: {universe.FORUM_CLIENT_ID} / {universe.FORUM_CLIENT_SECRET}"
        f" (its demo site: http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '8025')}/forum)\n"
    )
    path.chmod(0o600)
    return password


def seed_universe():
    """Track the demo alliances and give the demo members their users, characters and keys."""
    for alliance_id, name, ticker in universe.alliance_rows():
        if db.session.get(Alliance, alliance_id) is None:
            db.session.add(
                Alliance(id=alliance_id, name=name, ticker=ticker, tracked_as=TRACKED_ALLIANCES.get(name))
            )
    for corporation_id, name, ticker, alliance_id in universe.corporation_rows():
        if db.session.get(Corporation, corporation_id) is None:
            db.session.add(Corporation(id=corporation_id, name=name, ticker=ticker, alliance_id=alliance_id))
    db.session.flush()
    corporations = {row[1]: row for row in universe.corporation_rows()}
    made = 0
    for name in universe.MEMBERS_WITH_KEYS:
        character_id = universe.character_id_of(name)
        if db.session.get(Character, character_id) is not None:
            continue
        corp_index = next(c[1] for c in universe.CHARACTERS if c[0] == name)
        corporation_name = universe.CORPORATIONS[corp_index][0]
        corporation_id, _, _, alliance_id = corporations[corporation_name]
        user = User(role="member", state="guest")
        db.session.add(user)
        db.session.flush()
        character = Character(
            id=character_id,
            name=name,
            user_id=user.id,
            corporation_id=corporation_id,
            alliance_id=alliance_id,
            owner_hash=universe.demo_owner_hash(character_id),
        )
        db.session.add(character)
        db.session.flush()
        db.session.add(
            Key(
                user=user,
                character_id=character_id,
                owner_hash=character.owner_hash,
                scopes=" ".join(universe.demo_scopes(name)),
                refresh_token_encrypted=crypto.encrypt(universe.demo_refresh_token(character_id)),
            )
        )
        user.main_character_id = character_id
        made += 1
    db.session.flush()
    seed_tracking_token()
    db.session.commit()
    return made


def seed_tracking_token():
    """Vanguard Logistics' tracking token, so its compliance view has in-game members to show."""
    character_id = universe.character_id_of(universe.TRACKING_MEMBER)
    key = db.session.scalar(db.select(Key).filter_by(character_id=character_id))
    if key is None or db.session.scalar(db.select(TrackingToken).filter_by(key_id=key.id)) is not None:
        return
    corporation_id = db.session.get(Character, character_id).corporation_id
    db.session.add(TrackingToken(corporation_id=corporation_id, key_id=key.id, tracks_members=False))


DEMO_SERVICES = [
    # slug, name, kind, auto states, requires approval, strict, settings
    ("wiki", "Alliance wiki", "forward_auth", "member,blue", False, False, {}),
    (
        "comms",
        "Vanguard Comms (Discord)",
        "discord",
        "member",
        False,
        True,
        {"guild_id": universe.DEMO_GUILD_ID, "role_ids": ["900000000000000002"]},
    ),
    ("leadership", "Leadership wiki", "forward_auth", "", True, True, {}),
    (
        "voice",
        "Fleet voice (Mumble)",
        "mumble",
        "member",
        False,
        False,
        {"ice_host": "127.0.0.1", "server_id": 1, "groups": ["fleet"]},  # and voice_settings()
    ),
    ("forum", "Alliance forum (OpenID Connect)", "oidc", "member,blue", False, False, {}),
]


def voice_settings():
    """Where this demo's Murmur listens, and its Ice secret (app/devmumble.py)."""
    port, ice_port = devmumble.ports()
    return {"ice_port": ice_port, "ice_secret": devmumble.ice_secret(), "address": f"127.0.0.1:{port}"}


def seed_services():
    """The demo's services, unless they exist; the voice service follows this demo's Murmur."""
    made = 0
    voice = db.session.scalars(db.select(Service).filter_by(slug="voice", kind="mumble")).first()
    if voice is not None:
        voice.settings = {**voice.settings, **voice_settings()}
    for slug, name, kind, auto, approval, strict, settings in DEMO_SERVICES:
        if db.session.scalars(db.select(Service).filter_by(slug=slug)).first() is not None:
            continue
        service = Service(
            slug=slug,
            name=name,
            kind=kind,
            auto_states=auto,
            requires_approval=approval,
            strict=strict,
            # Leadership is asked for by members and given by directors; the others by policy only.
            request_states="member" if approval else "",
            directors_may_grant=approval,
        )
        service.settings = {**settings, **voice_settings()} if kind == "mumble" else settings
        db.session.add(service)
        if kind == "oidc":  # a fixed client for the demo; a real one's secret is random and shown once
            port = os.environ.get("SANDBOX_PORT", "8025")
            service.settings = {"url": f"http://127.0.0.1:{port}/forum"}
            client, _ = ensure_client(service, [f"http://127.0.0.1:{port}/forum/callback"])
            client.client_id, client.secret_hash = (
                universe.FORUM_CLIENT_ID,
                digest(universe.FORUM_CLIENT_SECRET),
            )
        made += 1
    db.session.commit()
    return made


@demo_cli.command("seed")
def seed():
    """Create the demo data unless it exists."""
    created = seed_admin()
    members = seed_universe()
    seed_services()
    if created:
        click.echo(f"Demo admin created: {DEMO_ADMIN} / {created}")
    click.echo(
        f"Demo universe ready ({members} new members with keys)." if members else "Demo data already present."
    )


@demo_cli.command("logins")
def logins():
    """Print the demo logins."""
    path = logins_file()
    if path.exists():
        click.echo(path.read_text().rstrip())
    else:
        click.echo("No demo logins yet: run `flask demo seed`.")
