"""The audit log: below every area, which each writes to; it imports no area.

An audited object says what the log calls it through an ``audit_name`` attribute (a user's main,
a key's character, a grant's service and user); anything else is called by its ``name``.
"""

from app.clock import utcnow
from app.extensions import db


class AuditEntry(db.Model):
    """Who did what to whom, when and why; the actor is empty for the system itself."""

    __tablename__ = "audit_entries"

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    action = db.Column(db.String(64), nullable=False, index=True)
    target_type = db.Column(db.String(32), nullable=True)
    target_id = db.Column(db.String(64), nullable=True)
    # What the target was called when it happened (a user's main, a key's character, a service).
    target_name = db.Column(db.String(255), nullable=True)
    detail = db.Column(db.Text, nullable=True)
    reason = db.Column(db.String(255), nullable=True)

    actor = db.relationship("User")


def target_name(target):
    """A person's name for an audit target: its own ``audit_name``, or the name it has."""
    if hasattr(target, "audit_name"):
        return target.audit_name
    return getattr(target, "name", None)


def record(action, actor=None, target=None, detail=None, reason=None, target_type=None, target_id=None):
    """Add an audit entry to the session; the caller commits it with the change it describes."""
    name = None
    if target is not None:
        target = getattr(target, "_get_current_object", lambda: target)()  # current_user is a proxy
        if target.id is None:
            db.session.flush()  # a target made in this transaction gets its id now
        target_type = type(target).__name__.lower()
        target_id = target.id
        name = target_name(target)
    actor = getattr(actor, "_get_current_object", lambda: actor)()
    target_id = None if target_id is None else str(target_id)[:64]
    entry = AuditEntry(
        action=action[:64],
        actor_id=getattr(actor, "id", None),
        target_type=target_type[:32] if target_type else None,
        target_id=target_id,
        target_name=name[:255] if name else None,
        detail=detail,
        reason=reason[:255] if reason else None,  # a request's note may be longer than a reason
    )
    db.session.add(entry)
    return entry
