"""``GET /healthz``: is the web app, its database, Redis and a consumer all fine.

Anyone may ask whether each part is fine; versions, ages and error names are for admins and for
callers with the ``/metrics`` bearer token.
"""

from flask import Blueprint, jsonify
from flask_login import current_user

from app.extensions import csrf
from app.jobs import monitor
from app.metrics import bearer_authorised

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@csrf.exempt
def healthz():
    """JSON health report; 200 when every part is fine, 503 otherwise."""
    report, ok = monitor.health()
    detailed = bearer_authorised() or (current_user.is_authenticated and current_user.is_admin)
    if not detailed:
        report = {part: {"ok": facts["ok"]} for part, facts in report.items()}
    report["ok"] = ok
    return jsonify(report), 200 if ok else 503
