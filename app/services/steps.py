"""What a member still has to do to use what they hold, and what they may ask for: the home page's
"What is left to do"."""

from app.access.models import AccessRequest, Grant
from app.access.requests import may_request
from app.extensions import db
from app.services.models import MumbleAccount, Service


def next_steps(user):
    """[(what to do, the anchor on My services that does it)], most useful first."""
    grants = db.session.scalars(
        db.select(Grant).where(Grant.user_id == user.id, Grant.status != "revoked").join(Service)
    ).all()
    active = [g for g in grants if g.status == "active"]
    steps = []
    if user.discord is None and any(g.service.kind == "discord" for g in active):
        steps.append(("Link your Discord account to get your roles.", "discord"))
    passwords = {
        a.service_id
        for a in db.session.scalars(db.select(MumbleAccount).filter_by(user_id=user.id))
        if a.password_hash
    }
    for grant in active:
        if grant.service.kind == "mumble" and grant.service_id not in passwords:
            steps.append((f"Make your password for {grant.service.name} (voice).", "my-services"))
    pending = db.session.scalars(
        db.select(AccessRequest.service_id).where(
            AccessRequest.user_id == user.id, AccessRequest.status == "pending"
        )
    ).all()
    taken = {g.service_id for g in grants} | set(pending)
    askable = [
        s.name
        for s in db.session.scalars(
            db.select(Service).where(Service.enabled.is_(True)).order_by(Service.name)
        )
        if s.id not in taken and may_request(user, s)
    ]
    if askable:
        steps.append(
            (f"Ask for {', '.join(askable[:3])}{' and more' if len(askable) > 3 else ''}.", "available")
        )
    return steps
