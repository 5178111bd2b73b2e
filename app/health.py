"""``GET /healthz``: is the web app, its database, Redis and a consumer all fine."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import csrf, db
from app.jobs import heartbeat
from app.jobs.connection import get_redis

bp = Blueprint("health", __name__)


def check_health():
    """The state of each part as a dict, and whether all of them are fine."""
    report = {"web": {"ok": True, "version": current_app.config["VERSION"]}}
    try:
        db.session.execute(text("SELECT 1"))
        report["database"] = {"ok": True}
    except Exception as exc:  # any driver error means the database is not usable
        db.session.rollback()
        report["database"] = {"ok": False, "error": type(exc).__name__}
    redis_client = get_redis()
    try:
        redis_client.ping()
        report["redis"] = {"ok": True}
    except Exception as exc:  # connection refused, timeout, auth, ...
        report["redis"] = {"ok": False, "error": type(exc).__name__}
        report["consumer"] = {"ok": False, "heartbeat_age_s": None, "error": "redis unavailable"}
    else:
        age = heartbeat.age_seconds(redis_client)
        max_age = current_app.config["HEARTBEAT_MAX_AGE"]
        report["consumer"] = {
            "ok": age is not None and age <= max_age,
            "heartbeat_age_s": None if age is None else round(age, 1),
            "max_age_s": max_age,
        }
    ok = all(part["ok"] for part in report.values())
    return report, ok


@bp.route("/healthz")
@csrf.exempt
def healthz():
    """JSON health report; 200 when every part is fine, 503 otherwise."""
    report, ok = check_health()
    report["ok"] = ok
    return jsonify(report), 200 if ok else 503
