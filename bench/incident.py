"""``python -m bench incident``: a misbehaving EVE during a sweep, and what the incident guard does.

Default: SSO answers invalid_grant to every refresh for --storm-s seconds while every grant stays
live, then recovers. --real: every grant is truly revoked at SSO; the bench, as an admin through
HTTP, presses Apply once the guard holds everything. --wrong-affiliation: ESI reports every
character in one untracked corporation.
"""

import re
import threading
import time

import requests
from werkzeug.serving import make_server

from bench.harness import Harness, wait_until
from bench.servers import free_port

ADMIN_PASSWORD = "bench admin password"  # noqa: S105  (a throwaway bench account)


def _sql(harness, statement, **params):
    from app.extensions import db

    with harness.app.app_context():
        result = db.session.execute(db.text(statement), params)
        rows = result.all() if result.returns_rows else None
        db.session.commit()
    return rows


def _scalar(harness, statement, **params):
    return _sql(harness, statement, **params)[0][0]


def _share_keys(harness, users):
    """Keep `users` users; the other keys and characters become their alts, round robin."""
    ids = [row[0] for row in _sql(harness, "SELECT id FROM users ORDER BY id")]
    keep, extra = ids[:users], ids[users:]
    for index, user_id in enumerate(extra):
        owner = keep[index % len(keep)]
        _sql(harness, "UPDATE keys SET user_id = :o WHERE user_id = :u", o=owner, u=user_id)
        _sql(harness, "UPDATE characters SET user_id = :o WHERE user_id = :u", o=owner, u=user_id)
    if extra:
        _sql(harness, f"DELETE FROM users WHERE id IN ({','.join(str(i) for i in extra)})")  # noqa: S608
    return len(keep)


def _service(harness):
    from app.extensions import db
    from app.services.models import Service

    with harness.app.app_context():
        db.session.add(Service(slug="comms", name="Comms", kind="forward_auth", auto_states="member"))
        db.session.commit()


def _guard(harness):
    from app.access import guard

    with harness.app.app_context():
        return guard.status()


def _lost(harness):
    """(members who lost a grant, grants removed, members who lost member state) from the audit log."""
    removed = _scalar(
        harness, "SELECT COUNT(*) FROM audit_entries WHERE action IN ('grant.suspended', 'grant.revoked')"
    )
    members = _scalar(
        harness,
        "SELECT COUNT(DISTINCT g.user_id) FROM audit_entries a "
        "JOIN grants g ON a.target_id = CAST(g.id AS VARCHAR(64)) "
        "WHERE a.action IN ('grant.suspended', 'grant.revoked') AND a.target_type = 'grant'",
    )
    demoted = _scalar(
        harness,
        "SELECT COUNT(DISTINCT target_id) FROM audit_entries "
        "WHERE action = 'user.state' AND detail = 'member -> guest'",
    )
    return members, removed, demoted


def _settle(harness, users, timeout):
    """The first sweep: every key valid, every user reconciled, every grant active."""
    return wait_until(
        lambda: _scalar(harness, "SELECT COUNT(*) FROM keys WHERE status = 'valid'") == harness.keys
        and _scalar(harness, "SELECT COUNT(*) FROM grants WHERE status = 'active'") == users,
        timeout,
    )


def _sweep_again(harness):
    _sql(harness, "UPDATE keys SET next_check_at = :now", now=_now())
    harness.kick_sweep()


def _now():
    from app.clock import utcnow

    return utcnow()


def run(args):
    """Run the incident benchmark; returns the result as a dict."""
    env = {"GUARD_RECHECK": str(args.recheck_s), "ACCESS_GRACE": str(args.grace_s)}
    harness = Harness(args.keys, workers=args.workers, known_limit=args.sso_limit, extra_env=env)
    result = {"benchmark": "incident", "mode": _mode(args), "keys": args.keys}
    try:
        harness.start()
        harness.seed()
        users = _share_keys(harness, args.users)
        _service(harness)
        harness.sandbox.control(
            "POST",
            "/config",
            json={
                "sso_rate_limit": args.sso_limit,
                "latency_ms": args.latency_ms,
                "fault_rate": args.fault_rate,
            },
        )
        for index in range(args.consumers):
            harness.start_consumer(periodic=index == 0)
        harness.kick_sweep()
        result["users"] = users
        result["settled"] = _settle(harness, users, args.timeout)
        harness.sandbox.control("POST", "/stats/reset")
        if args.wrong_affiliation:
            result.update(_wrong_affiliation(harness, args))
        elif args.real:
            result.update(_real(harness, args, users))
        else:
            result.update(_storm(harness, args))
        lost_members, removed, demoted = _lost(harness)
        result.setdefault("members_who_lost_a_grant", lost_members)
        result.setdefault("grants_removed", removed)
        result["members_who_lost_member_state"] = demoted
        result["guard_at_end"] = {k: v for k, v in _guard(harness).items() if k != "kinds"}
        result["audit"] = dict(_sql(harness, "SELECT action, COUNT(*) FROM audit_entries GROUP BY action"))
        if removed:
            result["removals"] = [
                f"{row[0]}: {row[1]}"
                for row in _sql(
                    harness,
                    "SELECT action, detail FROM audit_entries "
                    "WHERE action IN ('grant.suspended', 'grant.revoked') LIMIT 5",
                )
            ]
        return result
    finally:
        harness.stop()


def _mode(args):
    return "wrong-affiliation" if args.wrong_affiliation else "real" if args.real else "storm"


def _storm(harness, args):
    """SSO refuses every refresh for storm_s seconds mid-sweep; nothing is revoked."""
    _sweep_again(harness)
    time.sleep(args.storm_delay_s)
    storm_started = time.time()
    harness.sandbox.control("POST", "/config", json={"spurious_invalid_grant_rate": 1.0})
    opened_after, held_peak = None, 0
    while time.time() - storm_started < args.storm_s:
        state = _guard(harness)
        held_peak = max(held_peak, state["held_keys"])
        if opened_after is None and "verdicts" in state["kinds"]:
            opened_after = round(state["kinds"]["verdicts"]["since"] - storm_started, 2)
        time.sleep(0.5)
    harness.sandbox.control("POST", "/config", json={"spurious_invalid_grant_rate": 0.0})
    recovered = time.time()
    invalid_after = None
    all_valid_after = None
    while time.time() - recovered < args.timeout:
        state = _guard(harness)
        held_peak = max(held_peak, state["held_keys"])
        valid = _scalar(harness, "SELECT COUNT(*) FROM keys WHERE status = 'valid' AND held_at IS NULL")
        if invalid_after is None:
            invalid_after = _scalar(harness, "SELECT COUNT(*) FROM keys WHERE status = 'invalid'")
        if valid == harness.keys:
            all_valid_after = round(time.time() - recovered, 1)
            break
        time.sleep(1.0)
    stats = harness.sandbox.control("GET", "/stats")
    return {
        "storm_s": args.storm_s,
        "guard_opened_after_s": opened_after,
        "held_keys": held_peak,
        "invalid_after_recovery": _scalar(harness, "SELECT COUNT(*) FROM keys WHERE status = 'invalid'"),
        "invalid_right_after_recovery": invalid_after,
        "seconds_to_all_valid": all_valid_after,
        "spurious_invalid_grants": stats["spurious_invalid_grants"],
        "recheck_s": args.recheck_s,
    }


def _real(harness, args, users):
    """Every grant truly revoked at SSO: held until an admin presses Apply over HTTP."""
    for row in harness.made:
        harness.sandbox.control("POST", "/grants/revoke", json={"character_id": row["character_id"]})
    _sweep_again(harness)
    held_all = wait_until(lambda: _guard(harness)["held_keys"] == harness.keys, args.timeout, interval=1.0)
    _, removed_before, _ = _lost(harness)
    state = _guard(harness)
    pressed = _press_apply(harness)
    # An applied removal ends access now (ACCESS_GRACE 0), or starts the grace period members get
    # to add their characters again (the default): either way it is under way, and counted.
    under_way = "SELECT COUNT(*) FROM grants WHERE status = 'revoked' OR ends_at IS NOT NULL"
    applied = wait_until(
        lambda: _scalar(harness, "SELECT COUNT(*) FROM keys WHERE status = 'invalid'") == harness.keys
        and _scalar(harness, under_way) == users,
        args.timeout,
        interval=1.0,
    )
    _, removed_total, _ = _lost(harness)
    return {
        "affected": users,
        "held_keys_before_apply": state["held_keys"],
        "all_held_before_apply": held_all,
        "removed_before_apply": removed_before,
        "apply_answer": pressed,
        "all_applied": applied,
        "removed_after_apply": _scalar(harness, under_way),
        "revoked_after_apply": _scalar(harness, "SELECT COUNT(*) FROM grants WHERE status = 'revoked'"),
        "ending_after_apply": _scalar(harness, "SELECT COUNT(*) FROM grants WHERE ends_at IS NOT NULL"),
        "invalid_keys_after_apply": _scalar(harness, "SELECT COUNT(*) FROM keys WHERE status = 'invalid'"),
        "grace_s": args.grace_s,
        "grants_removed": removed_total,
    }


def _press_apply(harness):
    """Sign in as an admin over HTTP and press Apply on the guard page; the HTTP status."""
    from app.accounts.models import User
    from app.extensions import db

    with harness.app.app_context():
        admin = User(username="bench-admin", role="admin", state="guest")
        admin.set_password(ADMIN_PASSWORD)
        db.session.add(admin)
        db.session.commit()
    port = free_port()
    harness.app.config.update(SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False)
    server = make_server("127.0.0.1", port, harness.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        web = requests.Session()
        token = _csrf(web.get(f"{base}/login", timeout=10).text)
        web.post(
            f"{base}/login",
            data={"username": "bench-admin", "password": ADMIN_PASSWORD, "csrf_token": token},
            timeout=10,
        )
        token = _csrf(web.get(f"{base}/admin/guard", timeout=10).text)
        answer = web.post(
            f"{base}/admin/guard/apply", data={"csrf_token": token}, timeout=30, allow_redirects=False
        )
        return answer.status_code
    finally:
        server.shutdown()


def _csrf(html):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else ""


def _wrong_affiliation(harness, args):
    """ESI reports every character in one untracked corporation."""
    from app.corps import affiliation
    from tasks.corps import schedule_affiliation

    nowhere = harness.sandbox.control("POST", "/corporations", json={"name": "Nowhere", "ticker": "NONE"})
    harness.sandbox.control(
        "POST", "/config", json={"affiliation_corporation_override": nowhere["corporation_id"]}
    )
    started = time.time()
    with harness.app.app_context():
        ids = [row[0] for row in _sql(harness, "SELECT id FROM characters")]
        affiliation.gather(ids)
        schedule_affiliation()
    held = wait_until(lambda: _guard(harness)["held_characters"] > 0, args.timeout, interval=0.5)
    opened_after = round(time.time() - started, 1)
    moved = _scalar(
        harness, "SELECT COUNT(*) FROM characters WHERE corporation_id = :c", c=nowhere["corporation_id"]
    )
    return {
        "guard_held_the_round": held,
        "guard_opened_after_s": opened_after,
        "held_characters": _guard(harness)["held_characters"],
        "characters_moved": moved,
        "members_now": _scalar(harness, "SELECT COUNT(*) FROM users WHERE state = 'member'"),
    }
