"""Members' requests for services, and a director's decision on them; audited."""

from app.access import FollowUp, notices
from app.access.grants import AccessRefused, give, grant_of
from app.access.models import AccessRequest
from app.accounts.models import User
from app.audit import record
from app.clock import utcnow
from app.corps.directors import directs
from app.corps.models import Character
from app.extensions import db


def may_request(user, service):
    """True when the service's policy lets the user's state ask for it."""
    return service.enabled and user.is_active_account and user.state in service.request_state_list


def needs_approval(user, service):
    """True when a request must wait for a director: by policy, or because a person revoked it."""
    grant = grant_of(user, service)
    return service.requires_approval or (
        grant is not None and grant.status == "revoked" and grant.revoked_by_id is not None
    )


def request_access(user, service, note=None):
    """A member asks for a service; granted at once when no approval is needed; (request, follow-up)."""
    if not service.enabled:
        raise AccessRefused(f"{service.name} is not available.")
    if not may_request(user, service):
        if user.state == "guest":
            raise AccessRefused(
                f"Guests cannot ask for {service.name}: your main character is not in a corporation "
                "or alliance that counts here."
            )
        raise AccessRefused(f"{service.name} is not open to requests from {user.state}s.")
    grant = grant_of(user, service)
    if grant is not None and grant.status in ("active", "suspended"):
        raise AccessRefused(f"You have {service.name} already.")
    waiting = db.session.scalars(
        db.select(AccessRequest).where(
            AccessRequest.user_id == user.id,
            AccessRequest.service_id == service.id,
            AccessRequest.status == "pending",
        )
    ).first()
    if waiting is not None:
        raise AccessRefused(f"Your request for {service.name} is waiting for a director already.")
    approval = needs_approval(user, service)
    request = AccessRequest(user=user, service=service, note=note or None)
    db.session.add(request)
    db.session.flush()
    record(
        "request.created", user, target=request, detail=f"{service.slug} for {user.display_name}", reason=note
    )
    if not approval:
        request.status = "approved"
        request.decided_at = utcnow()
        request.decision_reason = "No approval needed."
        db.session.flush()
        _, follow_up = give(
            user, service, "request", reason="Requested; no approval needed.", action="grant.requested"
        )
        return request, follow_up
    db.session.commit()
    return request, FollowUp()


def withdraw(request, user):
    """The member takes back their own request while it waits; audited and committed."""
    if request.user_id != user.id:
        raise AccessRefused("That is not your request.")
    if request.status != "pending":
        raise AccessRefused(f"That request was {request.status} already.")
    request.status = "withdrawn"
    request.decided_at = utcnow()
    record("request.withdrawn", user, target=request, detail=request.service.slug)
    db.session.commit()
    return request


def decide(request, actor, approve, reason=None, expires_at=None):
    """Approve (granting the service) or deny a pending request; (request, follow-up).

    Nobody decides their own request.
    """
    if request.status != "pending":
        raise AccessRefused(f"That request was {request.status} already.")
    if actor.id == request.user_id:
        raise AccessRefused("You cannot decide your own request; another director or an admin must.")
    request.status = "approved" if approve else "denied"
    request.decided_by = actor
    request.decided_at = utcnow()
    request.decision_reason = reason
    who = request.user.display_name
    record(
        f"request.{request.status}",
        actor,
        target=request,
        detail=f"{request.service.slug} for {who}",
        reason=reason,
    )
    notices.decided(request)
    if not approve:
        db.session.commit()
        return request, FollowUp()
    _, follow_up = give(
        request.user,
        request.service,
        "request",
        by=actor,
        expires_at=expires_at,
        reason=reason or "Request approved.",
        action="grant.approved",
    )
    return request, follow_up


def waiting_for(user):
    """How many pending requests this director (or admin) may decide: those of members whose main
    is in a corporation they direct (every one, for an admin), their own left out."""
    query = (
        db.select(db.func.count())
        .select_from(AccessRequest)
        .join(User, User.id == AccessRequest.user_id)
        .join(Character, Character.id == User.main_character_id)
        .where(AccessRequest.status == "pending", AccessRequest.user_id != user.id)
    )
    if not user.is_admin:
        directed = [d.corporation_id for d in user.directorships if directs(user, d.corporation_id)]
        if not directed:
            return 0
        query = query.where(Character.corporation_id.in_(directed))
    return db.session.scalar(query)
