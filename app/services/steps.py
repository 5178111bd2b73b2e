"""What a member holds, has asked for and may ask for (My services), and what they still have to do
to use it (the home page's "What is left to do")."""

from app.access.models import AccessRequest, Grant
from app.access.requests import may_request
from app.extensions import db
from app.services.models import MumbleAccount, Service


def services_of(user):
    """(the user's grants that are not revoked, by service name; their pending requests; the
    enabled services they have neither and may ask for, by name): what My services lists."""
    grants = db.session.scalars(
        db.select(Grant)
        .where(Grant.user_id == user.id, Grant.status != "revoked")
        .join(Service)
        .order_by(Service.name)
    ).all()
    pending = db.session.scalars(
        db.select(AccessRequest).where(AccessRequest.user_id == user.id, AccessRequest.status == "pending")
    ).all()
    taken = {g.service_id for g in grants} | {r.service_id for r in pending}
    enabled = db.session.scalars(db.select(Service).where(Service.enabled.is_(True)).order_by(Service.name))
    available = [s for s in enabled if s.id not in taken and may_request(user, s)]
    return grants, pending, available


def next_steps(user):
    """[(what to do, the anchor on My services that does it)], most useful first."""
    grants, _, available = services_of(user)
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
    if available:
        names = ", ".join(s.name for s in available[:3])
        steps.append((f"Ask for {names}{' and more' if len(available) > 3 else ''}.", "available"))
    return steps
