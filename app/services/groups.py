"""The groups a member holds, as OpenID Connect's `groups` claim and Mumble's groups name them.

A group is a service the member may use now (its short name), their state ("member", "blue",
"guest"), their role ("admin", "director") and, for directors, "director-<ticker>" per corporation.
"""

from app.access.models import Grant
from app.accounts.models import Directorship
from app.extensions import db
from app.services.models import Service


def held_services(user_id):
    """Short names of the enabled services the user's active grants give them, sorted."""
    return sorted(
        db.session.scalars(
            db.select(Service.slug)
            .join(Grant, Grant.service_id == Service.id)
            .where(Grant.user_id == user_id, Grant.status == "active", Service.enabled.is_(True))
        )
    )


def groups_of(user):
    """Every group the user holds, sorted, without repeats."""
    groups = set(held_services(user.id))
    groups.add(user.state)
    if user.role in ("admin", "director"):
        groups.add(user.role)
    directorships = db.session.scalars(db.select(Directorship).filter_by(user_id=user.id)).all()
    if directorships:
        groups.add("director")
    groups.update(f"director-{d.corporation.ticker}" for d in directorships if d.corporation.ticker)
    return sorted(groups)
