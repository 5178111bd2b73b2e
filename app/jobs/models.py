"""Task records: the durable history of background work, for throughput and the dashboard."""

from app.clock import utcnow
from app.extensions import db

TASK_OUTCOMES = ("done", "failed", "dead", "retried")


class TaskRecord(db.Model):
    """One finished attempt of a background task."""

    __tablename__ = "task_records"

    id = db.Column(db.Integer, primary_key=True)
    task_id = db.Column(db.String(64), nullable=False, index=True)
    name = db.Column(db.String(64), nullable=False, index=True)
    target = db.Column(db.String(64), nullable=True)
    outcome = db.Column(db.String(16), nullable=False)
    attempt = db.Column(db.Integer, nullable=False, default=1)
    worker = db.Column(db.String(128), nullable=True)
    error = db.Column(db.Text, nullable=True)
    started_at = db.Column(db.DateTime, nullable=True)
    finished_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    duration_ms = db.Column(db.Integer, nullable=True)

    __table_args__ = (
        db.CheckConstraint("outcome IN ('done', 'failed', 'dead', 'retried')", name="outcome_known"),
    )
