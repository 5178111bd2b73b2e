"""The watchlist: users with characters in hostile corporations or alliances, or in ones that are
not tracked at all, naming the characters."""

from flask import render_template, request
from flask_login import login_required
from sqlalchemy import func, or_
from sqlalchemy.orm import aliased, selectinload

from app.accounts.auth import admin_required
from app.admin import bp
from app.corps.models import Alliance, Character, Corporation
from app.extensions import db
from app.forms import page_number

PER_PAGE = 50
FILTERS = {"hostile": "In a hostile corporation or alliance", "untracked": "Untracked"}


def watch_query(kind=""):
    """Characters of users that are in a hostile or untracked corporation and alliance."""
    corp, alliance = aliased(Corporation), aliased(Alliance)
    corp_tracking = func.coalesce(corp.tracked_as, "")
    alliance_tracking = func.coalesce(alliance.tracked_as, "")
    hostile = or_(corp_tracking == "hostile", alliance_tracking == "hostile")
    counted = or_(corp_tracking.in_(("member", "blue")), alliance_tracking.in_(("member", "blue")))
    untracked = ~hostile & ~counted
    condition = {"hostile": hostile, "untracked": untracked}.get(kind, hostile | untracked)
    return (
        db.select(Character)
        .outerjoin(corp, corp.id == Character.corporation_id)
        .outerjoin(alliance, alliance.id == Character.alliance_id)
        .where(Character.user_id.is_not(None), condition)
        .options(
            selectinload(Character.user),
            selectinload(Character.corporation),
            selectinload(Character.alliance),
        )
        .order_by(Character.user_id, Character.name)
    )


@bp.get("/watchlist")
@login_required
@admin_required
def watchlist():
    """Characters of users in hostile or untracked corporations and alliances, by user."""
    chosen = request.args.get("filter", "")
    chosen = chosen if chosen in FILTERS else ""
    page = db.paginate(watch_query(chosen), page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/watchlist.html", page=page, chosen=chosen, filters=FILTERS)
