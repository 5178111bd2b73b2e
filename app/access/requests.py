"""Members' requests for services, and a director's decision on them; audited."""

from app.access import FollowUp
from app.access.grants import AccessRefused, grant_manually, grant_of
from app.access.models import AccessRequest
from app.admin.models import record
from app.clock import utcnow
from app.extensions import db


def request_access(user, service, note=None):
    """A member asks for a service; granted at once when it needs no approval; (request, follow-up)."""
    if not service.enabled:
        raise AccessRefused(f"{service.name} is not available.")
    if user.state == "guest":
        raise AccessRefused(
            "Only members and blues can ask for services: "
            "your main character is not in a tracked corporation."
        )
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
    request = AccessRequest(user=user, service=service, note=note or None)
    db.session.add(request)
    db.session.flush()
    record(
        "request.created", user, target=request, detail=f"{service.slug} for {user.display_name}", reason=note
    )
    if not service.requires_approval:
        request.status = "approved"
        request.decided_at = utcnow()
        request.decision_reason = "No approval needed."
        db.session.flush()
        _, follow_up = grant_manually(user, service, user, reason="Requested; no approval needed.")
        return request, follow_up
    db.session.commit()
    return request, FollowUp()


def decide(request, actor, approve, reason=None, expires_at=None):
    """Approve (granting the service) or deny a pending request; (request, follow-up)."""
    if request.status != "pending":
        raise AccessRefused(f"That request was {request.status} already.")
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
    if not approve:
        db.session.commit()
        return request, FollowUp()
    _, follow_up = grant_manually(
        request.user, request.service, actor, expires_at=expires_at, reason=reason or "Request approved."
    )
    return request, follow_up
