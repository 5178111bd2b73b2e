"""``flask queue status``: the queue page's figures in a terminal, from the same monitor."""

import json

import click
from flask.cli import AppGroup

from app.jobs import monitor
from app.overview import names_of
from tasks import huey

queue_cli = AppGroup("queue", help="Look at the task queue.")


@queue_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the whole status as JSON.")
def status(as_json):
    """Consumers, queued, scheduled, running and dead tasks, paused or not, and each upstream."""
    report = monitor.status(huey, names_of)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    consumer = report["consumer"]
    beat = consumer["heartbeat_age_s"]
    click.echo(
        f"consumers: {'alive' if consumer['alive'] else 'NONE ALIVE'}"
        f" (last heartbeat {'never' if beat is None else f'{beat} s ago'})"
    )
    queue = report["queue"]
    click.echo(
        f"queue: {queue['pending']} pending, {queue['scheduled']} scheduled, "
        f"{queue['running']} running, {queue['dead']} dead"
    )
    if report["paused"]:
        click.echo(f"PAUSED by {report['paused_by']}")
    for name, row in report["by_task"].items():
        click.echo(f"  {name}: {row['pending']} pending")
    for name, upstream in report["upstreams"].items():
        click.echo(
            f"upstream {name}: {upstream['state']}, {upstream['rate_per_s']}/s, "
            f"backoff level {upstream['backoff_level']}"
        )
    click.echo(f"locks held: {report['locks_held']}")
