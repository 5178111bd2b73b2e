"""How far the keys imported from Alliance Auth have come: checked, valid, waiting for the member."""

from sqlalchemy import case, func, select

from app.audit import AuditEntry
from app.extensions import db
from app.keys.models import Key

SOURCE = "allianceauth"


def progress():
    """Counts of the imported keys, or None when nothing was imported."""
    row = db.session.execute(
        select(
            func.count(),
            func.count(Key.last_checked_at),
            func.sum(case((Key.status == "valid", 1), else_=0)),
            func.sum(case((Key.needs_reauth.is_(True), 1), else_=0)),
            func.sum(case((Key.status == "invalid", 1), else_=0)),
            func.sum(case((Key.held_reason.is_not(None), 1), else_=0)),
        ).where(Key.source == SOURCE)
    ).one()
    if not row[0]:
        return None
    users = db.session.scalar(
        select(func.count(func.distinct(AuditEntry.target_id))).where(AuditEntry.action == "user.imported")
    )
    keys, checked, valid, reauth, invalid, held = (int(value or 0) for value in row)
    return {
        "users": users or 0,
        "keys": keys,
        "checked": checked,
        "waiting": keys - checked,
        "valid": valid,
        "needs_reauth": reauth,
        "invalid": invalid,
        "held": held,
    }
