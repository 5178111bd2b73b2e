"""``python -m bench roster``: a corporation of N members in game read with its tracking token, and
the compliance view served over real HTTP.

Seeds R registered members (users, characters and keys, as the sweep benchmark does) and N - R
characters in the corporation that nobody registered (their names come from /universe/names), makes
the first member's key a tracking token with member tracking, then times three readings: the first
(every member new), an unchanged one, and one after 1 % left and 1 % joined. Then serves the app
with gunicorn, signs in as an admin and times the compliance page (all, the unregistered filter,
a later page), the coverage panel and the CSV export.
"""

import os
import sys
import time
from pathlib import Path

from bench.dashboard import ADMIN, _login, _p, _time, serve
from bench.harness import CLIENT_ID, SCOPES, Harness
from bench.servers import stop_process

ROOT = Path(__file__).resolve().parents[1]
TRACKING_SCOPES = [
    *SCOPES,
    "esi-corporations.read_corporation_membership.v1",
    "esi-corporations.track_members.v1",
]


def _tracking_token(harness, corporation_id):
    """The first seeded member becomes a Director whose key is the corporation's tracking token;
    its check keeps a fresh access token."""
    from app import crypto
    from app.accounts.models import User
    from app.compliance.models import TrackingToken
    from app.extensions import db
    from app.keys.models import Key
    from app.keys.validation import validate_key

    first = harness.made[0]
    sandbox = harness.sandbox
    sandbox.control("POST", f"/characters/{first['character_id']}/roles", json={"roles": ["Director"]})
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": first["character_id"], "client_id": CLIENT_ID, "scopes": TRACKING_SCOPES},
    )
    with harness.app.app_context():
        key = db.session.scalar(db.select(Key).filter_by(character_id=first["character_id"]))
        key.scopes = " ".join(TRACKING_SCOPES)
        key.refresh_token_encrypted = crypto.encrypt(grant["refresh_token"])
        db.session.add(TrackingToken(corporation_id=corporation_id, key_id=key.id, tracks_members=True))
        admin = User(username=ADMIN[0], role="admin", state="guest")
        admin.set_password(ADMIN[1])
        db.session.add(admin)
        db.session.commit()
        verdict = validate_key(key.id, "bench")
        while verdict.action == "wait":
            time.sleep(max(verdict.delay, 0.01))
            verdict = validate_key(key.id, "bench", slot=verdict.slot)
        if verdict.action != "done":
            raise RuntimeError(f"the tracking token's check failed: {verdict.message}")


def _read(harness, corporation_id):
    from app.compliance import roster

    with harness.app.app_context():
        started = time.perf_counter()
        outcome = roster.refresh(corporation_id, force=True)
        took = time.perf_counter() - started
    if outcome.action != "done":
        raise RuntimeError(f"the reading did not finish: {outcome}")
    return round(took, 3), outcome.message


def run(args):
    """Seed, read, serve, measure; one dict of figures."""
    registered = min(args.members, max(1, int(args.members * args.registered)))
    harness = Harness(keys=registered)
    server = None
    try:
        harness.start()
        made = harness.seed()
        corporation_id = made[0]["corporation_id"]
        harness.sandbox.control(
            "POST",
            f"/corporations/{corporation_id}/members",
            json={"count": args.members - registered, "name_prefix": "Unregistered"},
        )
        _tracking_token(harness, corporation_id)
        harness.sandbox.control("POST", "/stats/reset")
        first_s, first = _read(harness, corporation_id)
        names = harness.sandbox.control("GET", "/stats")["names_batches"]
        unchanged_s, _ = _read(harness, corporation_id)
        churn = max(1, args.members // 100)
        away = harness.sandbox.control("POST", "/corporations", json={"name": "Elsewhere", "ticker": "ELSW"})
        for row in made[1 : churn + 1]:
            harness.sandbox.control(
                "POST",
                f"/characters/{row['character_id']}/move",
                json={"corporation_id": away["corporation_id"]},
            )
        harness.sandbox.control(
            "POST", f"/corporations/{corporation_id}/members", json={"count": churn, "name_prefix": "Recruit"}
        )
        churn_s, _ = _read(harness, corporation_id)
        server, base = serve({**os.environ, **harness.env()}, Path(harness.tmp.name) / "gunicorn.log")
        session = _login(base)
        page = f"{base}/director/corporations/{corporation_id}/compliance"
        pages = {
            "page": page,
            "unregistered": f"{page}?filter=unregistered",
            "page_50": f"{page}?page=50",
            "coverage": f"{page}/coverage",
            "csv": f"{base}/director/corporations/{corporation_id}/compliance.csv",
        }
        result = {
            "members": args.members,
            "registered": registered,
            "database": harness.database_url.split(":", 1)[0],
            "first_read_s": first_s,
            "first_read": first,
            "names_batches": names,
            "unchanged_read_s": unchanged_s,
            "churn": churn,
            "churn_read_s": churn_s,
        }
        for name, url in pages.items():
            count = max(5, args.requests // 5) if name == "csv" else args.requests
            _time(session, url, 3)
            timings = _time(session, url, count)
            result[f"{name}_p50_ms"] = _p(timings, 0.50)
            result[f"{name}_p95_ms"] = _p(timings, 0.95)
        return result
    except Exception:
        log = Path(harness.tmp.name) / "gunicorn.log"
        if log.exists():
            sys.stderr.write(log.read_text()[-4000:])
        raise
    finally:
        if server is not None:
            stop_process(server)
        harness.stop()
        sys.stdout.flush()
