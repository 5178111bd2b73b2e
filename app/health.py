"""``GET /healthz``: is the web app, its database, Redis and a consumer all fine."""

from flask import Blueprint, jsonify

from app.extensions import csrf
from app.jobs import monitor

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@csrf.exempt
def healthz():
    """JSON health report; 200 when every part is fine, 503 otherwise."""
    report, ok = monitor.health()
    report["ok"] = ok
    return jsonify(report), 200 if ok else 503
