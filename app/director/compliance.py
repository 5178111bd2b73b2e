"""The compliance view: who is in the corporation in game but not in Bastion, read with a
director's tracking token; coverage, filters, CSV export and reminders."""

import csv
import io
import time

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.auth import director_required
from app.accounts.sso_views import start_flow
from app.audit import record
from app.clock import timestamp
from app.compliance import nudge, report
from app.compliance import tokens as tracking
from app.compliance.models import TrackingToken
from app.director import bp
from app.director.views import _corporation
from app.extensions import db
from app.forms import ActionForm, page_number, require_action_form
from tasks.compliance import queue_nudges, queue_roster

PER_PAGE = 100
# What makes a spreadsheet read a cell as a formula (OWASP, CSV injection): a trigger as the first
# character that is not blank (" =cmd", "\t=...", "\n=..." too), or a cell starting with a control.
FORMULA = ("=", "+", "-", "@")
CSV_INJECTION = (*FORMULA, "\t", "\r", "\n")


FOLLOW_S = 120  # how long a page follows a reading it asked for


def _reading(roster):
    """True while a reading this page asked for ("Read now") has not come in yet."""
    try:
        asked = float(request.args.get("asked", ""))
    except ValueError:
        return False
    if not 0 <= time.time() - asked <= FOLLOW_S:
        return False
    return roster is None or roster.refreshed_at is None or timestamp(roster.refreshed_at) < asked


def _chosen():
    chosen = request.args.get("filter", "")
    return chosen if chosen in report.FILTERS else ""


@bp.get("/director/corporations/<int:corporation_id>/compliance")
@login_required
@director_required
def compliance(corporation_id):
    """Every in-game member, registered or not, with filters, coverage and the tracking tokens."""
    corp = _corporation(corporation_id)
    chosen = _chosen()
    tokens = tracking.tokens_of(corp.id)
    roster = report.roster_of(corp.id)
    page = report.page_of_members(corp.id, chosen, page_number(), PER_PAGE)
    return render_template(
        "director/compliance.html",
        corp=corp,
        chosen=chosen,
        filters=report.FILTERS,
        page=page,
        tokens=[(t, *tracking.health(t)) for t in tokens],
        roster=roster,
        freshness=report.freshness(roster, tokens),
        absent=report.not_in_list(roster) if roster and roster.refreshed_at else ([], []),
        reading=_reading(roster),
        list_as_of=report.list_as_of(roster) if roster and roster.refreshed_at else None,
        reach=nudge.reach(corp.id) if chosen == "unregistered" else None,
        registration_link=nudge.registration_link(),
        action=ActionForm(),
        **_coverage_context(corp),
    )


def _coverage_context(corp):
    return {"coverage": report.coverage(corp.id), "spark": report.sparkline(corp.id)}


@bp.get("/director/corporations/<int:corporation_id>/compliance/coverage")
@login_required
@director_required
def coverage(corporation_id):
    """The coverage figures (polled, so they rise as members register)."""
    corp = _corporation(corporation_id)
    return render_template("director/_coverage.html", corp=corp, **_coverage_context(corp))


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    first = text.lstrip(" \t\r\n\f\v")[:1]
    return "'" + text if first in FORMULA or text.startswith(CSV_INJECTION) else text


@bp.get("/director/corporations/<int:corporation_id>/compliance.csv")
@login_required
@director_required
def export(corporation_id):
    """The in-game members as CSV, with the filter chosen on the page."""
    corp = _corporation(corporation_id)
    chosen = _chosen()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["character_id", "name", "key", "bastion_user", "key_reason", "last_logon", "joined"])
    for row in db.session.execute(report.member_query(corp.id, chosen)):
        writer.writerow(
            [
                row.character_id,
                _cell(row.name),
                report.describe(row),
                _cell(row.main_name or ""),
                _cell(row.key_reason or ""),
                f"{row.logon_at:%Y-%m-%d %H:%M}" if row.logon_at else "",
                f"{row.joined_at:%Y-%m-%d}" if row.joined_at else "",
            ]
        )
    record(
        "compliance.export",
        current_user,
        target_type="corporation",
        target_id=corp.id,
        detail=chosen or "all",
    )
    db.session.commit()
    name = f"{corp.ticker or corp.id}-{chosen or 'members'}.csv".replace(" ", "_")
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/director/corporations/<int:corporation_id>/compliance/read")
@login_required
@director_required
def read_now(corporation_id):
    """Read the member list again now (ESI may still answer from its hour-long cache)."""
    corp = _corporation(corporation_id)
    require_action_form()
    if not tracking.tokens_of(corp.id):
        flash("Add a tracking token first.", "warning")
    elif queue_roster(corp.id, force=True):
        flash("The member list is being read again.", "info")
    else:
        flash("The member list is already being read.", "info")
    # The page follows the reading: its table is drawn again once the list is newer than this.
    return redirect(url_for("director.compliance", corporation_id=corp.id, asked=int(time.time())))


@bp.post("/director/corporations/<int:corporation_id>/compliance/nudge")
@login_required
@director_required
def send_nudges(corporation_id):
    """Remind by Discord the unregistered whose holder Bastion knows (once a day each)."""
    corp = _corporation(corporation_id)
    require_action_form()
    queued, reached = queue_nudges(corp.id)
    record(
        "compliance.nudge",
        current_user,
        target_type="corporation",
        target_id=corp.id,
        detail=f"{queued} sent",
    )
    db.session.commit()
    skipped = len(reached.users) - queued
    parts = [f"{queued} member{'s' if queued != 1 else ''} will get a Discord message"]
    if skipped:
        parts.append(f"{skipped} already had one in the last day")
    if reached.unreachable:
        parts.append(
            f"{reached.unreachable} unregistered character{'s' if reached.unreachable != 1 else ''} "
            "cannot be reached through Bastion: send them the registration link in game"
        )
    flash("; ".join(parts) + ".", "info")
    return redirect(url_for("director.compliance", corporation_id=corp.id, filter="unregistered"))


@bp.get("/director/corporations/<int:corporation_id>/tracking/add")
@login_required
@director_required
def add_tracking(corporation_id):
    """Send the director to EVE to grant the membership scopes with one of their characters (a
    link, like "Add character": the SSO flow's state protects the callback)."""
    corp = _corporation(corporation_id)
    scopes = [tracking.MEMBERSHIP_SCOPE]
    if request.args.get("track_members"):
        scopes.append(tracking.TRACKING_SCOPE)
    return start_flow("tracking", extra_scopes=scopes, corporation_id=corp.id)


@bp.post("/director/corporations/<int:corporation_id>/tracking/<int:token_id>/remove")
@login_required
@director_required
def remove_tracking(corporation_id, token_id):
    """Stop using a key as the corporation's tracking token (the key itself stays)."""
    corp = _corporation(corporation_id)
    require_action_form()
    token = db.session.get(TrackingToken, token_id)
    if token is None or token.corporation_id != corp.id:
        abort(404)
    name = token.key.character.name
    tracking.remove_token(token, current_user)
    db.session.commit()
    flash(f"{name} is no longer a tracking token of {corp.name}.", "success")
    return redirect(url_for("director.compliance", corporation_id=corp.id))
