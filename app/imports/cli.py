"""``flask import ...``: carry an Alliance Auth installation over (dry run unless --apply)."""

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.imports.allianceauth import ImportProblem, client_id_from_settings, engine_for, read, safe_url
from app.imports.plan import COUNTS, make_plan, parse_states, read_mapping
from app.imports.progress import progress
from app.imports.write import apply, plural

import_cli = AppGroup("import", help="Move members in from another system.")


@import_cli.command("allianceauth")
@click.argument("database_url")
@click.option("--apply", "do_apply", is_flag=True, help="Write the import (without it: a dry run).")
@click.option("--client-id", help="Alliance Auth's EVE application (ESI_SSO_CLIENT_ID in its local.py).")
@click.option(
    "--aa-settings",
    type=click.Path(dir_okay=False),
    help="Alliance Auth's settings file (local.py), to read ESI_SSO_CLIENT_ID from.",
)
@click.option("--skip-keys", is_flag=True, help="Carry users and characters over without their keys.")
@click.option(
    "--groups", type=click.Path(dir_okay=False), help="JSON file: Alliance Auth group name -> service slug."
)
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="NAME=member|blue|none",
    help="What an Alliance Auth state other than Member, Blue and Guest means here (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def import_allianceauth(database_url, do_apply, client_id, aa_settings, skip_keys, groups, states, as_json):
    """Carry Alliance Auth's users, characters, keys, states, Discord links and groups over.

    DATABASE_URL is Alliance Auth's database: mysql://user:password@host/alliance_auth,
    postgresql://..., or the path of a SQLite file. Nothing is written without --apply.
    """
    try:
        state_map = parse_states(states)
        mapping = read_mapping(groups)
        refused = _keys_refused(client_id, aa_settings, skip_keys)
        started = time.perf_counter()
        snap = read(engine_for(database_url))
        plan = make_plan(snap, state_map, mapping, keys_refused=refused)
    except ImportProblem as exc:
        raise click.ClickException(str(exc)) from None
    read_s = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps(_as_json(plan, database_url), indent=2))
    else:
        _print_plan(plan, database_url, do_apply)
    if not do_apply:
        if not as_json:
            click.echo("\nThis was a dry run: nothing was written. Add --apply to import.")
        return
    if refused and not skip_keys:
        raise click.ClickException(f"{refused}. Nothing was imported.")
    if plan.is_empty:
        click.echo("\nNothing to change: everything this Alliance Auth database holds is here already.")
        return
    started = time.perf_counter()

    def shown(done, total):
        if not as_json:
            click.echo(f"  {done} of {total} users written")

    try:
        written = apply(plan, progress=shown)
    except Exception as exc:  # a broken connection or a change made here meanwhile
        raise click.ClickException(
            f"the import stopped: {str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]}. "
            "Each batch of users is written whole or not at all; run the same command again to finish."
        ) from None
    click.echo(
        f"\nImported {written} users in {read_s + time.perf_counter() - started:.1f} s. Their keys are due "
        "now: the sweep checks them at EVE's pace. Follow it with `flask import status` or on the dashboard."
    )


def _keys_refused(client_id, aa_settings, skip_keys):
    """Why keys cannot be carried over, or None: refresh tokens work only for the EVE application
    that issued them, so Alliance Auth's must be Bastion's."""
    if skip_keys:
        return "--skip-keys was given"
    ours = current_app.config.get("EVE_CLIENT_ID", "")
    if client_id is None and aa_settings is not None:
        client_id = client_id_from_settings(aa_settings)
    if not client_id:
        return (
            "Alliance Auth's EVE application is not known: give --client-id (ESI_SSO_CLIENT_ID in "
            "Alliance Auth's local.py) or --aa-settings, or --skip-keys to carry users over without keys"
        )
    if client_id.strip() != ours:
        return (
            f"Alliance Auth's EVE application ({client_id.strip()}) is not Bastion's (EVE_CLIENT_ID "
            f"{ours or 'is not set'}): EVE accepts a refresh token only from the application that "
            "issued it. Set Bastion's EVE_CLIENT_ID and EVE_CLIENT_SECRET to Alliance Auth's "
            "application (and add Bastion's callback URL to it), or give --skip-keys"
        )
    return None


def _print_plan(plan, url, applying):
    snap = plan.snapshot
    say = click.echo
    say(f"Alliance Auth database: {safe_url(url)} ({snap.version})")
    say(
        f"Read: {len(snap.users)} users, {len(snap.characters)} characters, "
        f"{len(snap.tokens)} tokens with a refresh token, {len(snap.states)} states, "
        f"{len(snap.groups)} groups."
    )
    say("\nWill import:" if applying else "\nWould import:")
    rows = [
        ("new users", plan.count("new_users")),
        ("users already here (characters added)", plan.count("joined_users")),
        ("characters", plan.count("characters")),
        ("keys", plan.count("keys")),
        ("keys replaced (imported before, never checked)", plan.count("keys_replaced")),
        ("Discord links", plan.count("discord_links")),
        ("grants from the group mapping", plan.count("grants")),
        ("corporations and alliances tracked", plan.count("tracking")),
    ]
    for label, number in rows:
        say(f"  {label:<50} {number:>7}")
    if plan.keys_refused:
        say(f"\nKeys are not imported: {plan.keys_refused}.")
    if plan.skipped_users or plan.skipped_keys:
        say("\nNot imported:")
        for reason, number in sorted(plan.skipped_users.items()):
            say(f"  users: {number} ({reason})")
        for reason, number in sorted(plan.skipped_keys.items()):
            say(f"  keys: {number} ({reason})")
        if not snap.has_discord:
            say("  Discord links: Alliance Auth's Discord service is not installed there")
    if plan.conflicts:
        say(f"\nConflicts ({len(plan.conflicts)}):")
        for line in plan.conflicts[:50]:
            say(f"  - {line}")
        if len(plan.conflicts) > 50:
            say(f"  ... and {len(plan.conflicts) - 50} more (--json lists them all)")
    say("\nStates:")
    for state in snap.states:
        say(
            f"  {state['name']} (priority {state['priority']}): "
            f"{plural(len(state['corporations']), 'corporation')}, "
            f"{plural(len(state['alliances']), 'alliance')}"
        )
    for line in plan.unmapped_states:
        say(f'  no counterpart here: {line}; give --state "NAME=member|blue|none" to carry it')
    for line in plan.tracking_kept:
        say(f"  kept: {line}")
    say(
        "\nGroups (members)"
        + (
            ":"
            if plan.mapping
            else ": map them to services with --groups FILE, a JSON object of group -> service slug:"
        )
    )
    for name, size in plan.groups.items():
        target = plan.mapping.get(name)
        mapped = f"  -> {target}" if target else ("  (not mapped)" if plan.mapping else "")
        say(f"  {name:<40} {size:>6}{mapped}")
    for name in sorted(set(plan.mapping) - set(plan.groups)):
        say(f"  {name}: in the mapping but not a group in Alliance Auth")
    if plan.is_empty:
        say("\nNothing to change: everything this Alliance Auth database holds is here already.")


def _as_json(plan, url):
    counts = {what: plan.count(what) for what in COUNTS}
    return {
        "source": safe_url(url),
        "version": plan.snapshot.version,
        "counts": counts,
        "keys_refused": plan.keys_refused,
        "skipped_users": dict(plan.skipped_users),
        "skipped_keys": dict(plan.skipped_keys),
        "conflicts": plan.conflicts,
        "unmapped_states": plan.unmapped_states,
        "groups": plan.groups,
        "nothing_to_change": plan.is_empty,
    }


@import_cli.command("status")
def import_status():
    """How far the keys imported from Alliance Auth have come."""
    counts = progress()
    if counts is None:
        click.echo("Nothing has been imported.")
        return
    click.echo(
        f"Imported: {counts['users']} users, {counts['keys']} keys. Checked: {counts['checked']} "
        f"(waiting: {counts['waiting']}). Valid: {counts['valid']}. Needing re-authorisation: "
        f"{counts['needs_reauth']}. Invalid: {counts['invalid']}. "
        f"Held by the incident guard: {counts['held']}."
    )
