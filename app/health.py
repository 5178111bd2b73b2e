"""``GET /healthz``: is the web app, its database, Redis and a consumer all fine.

Anyone may ask whether each part is fine; versions, ages and error names are for admins and for
callers with the ``/metrics`` bearer token.
"""

import logging

from flask import Blueprint, jsonify
from flask_login import current_user

from app import alerts
from app.extensions import csrf
from app.jobs import monitor
from app.metrics import bearer_authorised

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.route("/healthz")
@csrf.exempt
def healthz():
    """JSON health report; 200 when every part is fine, 503 otherwise."""
    report, ok = monitor.health()
    if report["redis"]["ok"] and report["database"]["ok"] and not report["consumer"]["ok"]:
        try:  # nobody runs the alert task: whoever polls this tells the admins
            alerts.evaluate_without_consumer()
        except Exception:  # an alert must never break the health answer
            log.exception("alerts not evaluated")
    detailed = bearer_authorised() or (current_user.is_authenticated and current_user.is_admin)
    if not detailed:
        report = {part: {"ok": facts["ok"]} for part, facts in report.items()}
    report["ok"] = ok
    return jsonify(report), 200 if ok else 503
