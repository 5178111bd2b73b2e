"""Reading a corporation's in-game members with a director's tracking token, through the sandbox
over real HTTP: the routes as the ESI contract has them, the reading, names in batches, tokens
that stop working, the compliance view, its export, and the "every character registered" rule."""

import csv
import io
from datetime import timedelta

import requests
from jsonschema import Draft202012Validator

from app import crypto
from app.access.policy import desired, facts_about
from app.accounts.models import Directorship
from app.clock import utcnow
from app.compliance import report
from app.compliance import roster as rosters
from app.compliance.models import Roster, RosterMember, TrackingToken
from app.compliance.nudge import missing_characters
from app.compliance.tokens import MEMBERSHIP_SCOPE, TRACKING_SCOPE, access_token
from app.corps.models import Character
from app.jobs import redis_keys
from app.keys.models import Key
from app.keys.validation import validate_key
from app.services.models import Service
from sandbox.contract import esi_spec
from tests.support import SCOPE, TEST_CLIENT_ID, csrf_token_from, direct_messages, link_discord, wait_for

OPENAPI = esi_spec()
SCOPES = (SCOPE, MEMBERSHIP_SCOPE, TRACKING_SCOPE)


def _check(key_id):
    verdict = validate_key(key_id, "tests")
    while verdict.action == "wait" and verdict.message == "slot":
        verdict = validate_key(key_id, "tests", slot=verdict.slot, now_ts=verdict.slot)
    return verdict


def _tracked(db, sandbox, key_factory, members=10, director=True, scopes=SCOPES):
    """A member corporation with a director whose key is its tracking token, and `members` more
    characters in it in game (none registered)."""
    key_id, made, _ = key_factory(scopes=scopes, granted=scopes, status="valid")
    corporation_id = made["corporation_id"]
    if director:
        sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    added = sandbox.control(
        "POST",
        f"/corporations/{corporation_id}/members",
        json={
            "members": [
                {
                    "name": f"Zz Line Pilot {n}",
                    "logon_date": "2026-11-30T20:00:00Z",
                    "start_date": f"2025-01-0{1 + n % 9}T00:00:00Z",
                }
                for n in range(members)
            ]
        },
    )
    key = db.session.get(Key, key_id)
    db.session.add(
        TrackingToken(
            corporation_id=corporation_id, key_id=key_id, added_by_id=key.user_id, tracks_members=True
        )
    )
    db.session.commit()
    assert _check(key_id).action == "done"
    return key_id, made, added["characters"]


def _bearer(sandbox, character_id, scopes):
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": character_id, "client_id": TEST_CLIENT_ID, "scopes": list(scopes)},
    )
    return grant["refresh_token"]


def _access(db, key_id):
    token = access_token(key_id)
    assert token, "a valid check keeps the tracking token's access token"
    return token


def test_the_member_routes_keep_the_esi_contract(db, sandbox, key_factory, app):
    key_id, made, _ = _tracked(db, sandbox, key_factory, members=3, director=False)
    corporation_id = made["corporation_id"]
    base = app.config["EVE_ESI_URL"]
    headers = {"Authorization": f"Bearer {_access(db, key_id)}", "X-Compatibility-Date": "2020-01-01"}
    contract = OPENAPI["paths"]["/corporations/{corporation_id}/members"]["get"]
    assert contract["security"] == [{"OAuth2": [MEMBERSHIP_SCOPE]}]

    answer = requests.get(f"{base}/corporations/{corporation_id}/members", headers=headers, timeout=10)
    assert answer.status_code == 200
    assert sorted(answer.json()) == answer.json() and len(answer.json()) == 4
    group = contract["x-rate-limit"]
    assert answer.headers["X-Ratelimit-Group"] == group["group"] == "corp-member"
    assert answer.headers["X-Ratelimit-Limit"] == f"{group['max-tokens']}/{group['window-size']}"
    assert answer.headers["X-Ratelimit-Used"] == "2" and answer.headers["X-Ratelimit-Remaining"] == "298"
    assert "X-ESI-Error-Limit-Remain" not in answer.headers  # bucket headers, never both
    assert answer.headers["Cache-Control"] == f"public, max-age={contract['x-cache-age']}"
    again = requests.get(
        f"{base}/corporations/{corporation_id}/members",
        headers={**headers, "If-None-Match": answer.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304 and again.headers["X-Ratelimit-Used"] == "3"  # a 3xx costs 1

    # Member tracking needs the Director role in game (x-required-roles).
    tracking = OPENAPI["paths"]["/corporations/{corporation_id}/membertracking"]["get"]
    assert tracking["x-required-roles"] == ["Director"]
    refused = requests.get(
        f"{base}/corporations/{corporation_id}/membertracking", headers=headers, timeout=10
    )
    assert refused.status_code == 403 and "required role" in refused.json()["error"]
    assert refused.headers["X-Ratelimit-Used"] == "8"  # a 4xx costs 5

    # Another corporation's list: the token's character is not in it.
    other = sandbox.control("POST", "/corporations", json={"name": "Other Corp", "ticker": "OTH"})
    elsewhere = requests.get(
        f"{base}/corporations/{other['corporation_id']}/members", headers=headers, timeout=10
    )
    assert elsewhere.status_code == 403
    # No token at all, and names: public, 1..1000 unique ids, one unknown id fails the batch.
    assert requests.get(f"{base}/corporations/{corporation_id}/members", timeout=10).status_code == 401
    names = OPENAPI["paths"]["/universe/names"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert names["maxItems"] == 1000
    ok = requests.post(f"{base}/universe/names", json=[made["character_id"], corporation_id], timeout=10)
    assert ok.status_code == 200
    assert {r["category"] for r in ok.json()} == {"character", "corporation"}
    assert requests.post(f"{base}/universe/names", json=list(range(1, 1002)), timeout=10).status_code == 400
    assert (
        requests.post(f"{base}/universe/names", json=[made["character_id"], 5], timeout=10).status_code == 404
    )


def _valid(path, method, body):
    schema = OPENAPI["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    errors = list(Draft202012Validator({**schema, "components": OPENAPI["components"]}).iter_errors(body))
    assert errors == [], errors


def test_answers_match_the_openapi_schemas(db, sandbox, key_factory, app):
    key_id, made, _ = _tracked(db, sandbox, key_factory, members=2)
    base, corporation_id = app.config["EVE_ESI_URL"], made["corporation_id"]
    headers = {"Authorization": f"Bearer {_access(db, key_id)}"}
    members = requests.get(f"{base}/corporations/{corporation_id}/members", headers=headers, timeout=10)
    _valid("/corporations/{corporation_id}/members", "get", members.json())
    tracking = requests.get(
        f"{base}/corporations/{corporation_id}/membertracking", headers=headers, timeout=10
    )
    assert tracking.status_code == 200  # the token's character holds the Director role
    _valid("/corporations/{corporation_id}/membertracking", "get", tracking.json())
    assert {"logon_date", "start_date"} <= set(tracking.json()[-1])
    names = requests.post(f"{base}/universe/names", json=members.json(), timeout=10)
    _valid("/universe/names", "post", names.json())


def test_a_token_without_the_scope_is_refused(db, sandbox, key_factory, app):
    key_id, made, _ = key_factory(status="valid")
    token = _bearer(sandbox, made["character_id"], [SCOPE])
    tokens = requests.post(
        f"{app.config['EVE_SSO_URL']}/v2/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(TEST_CLIENT_ID, app.config["EVE_CLIENT_SECRET"]),
        timeout=10,
    ).json()
    answer = requests.get(
        f"{app.config['EVE_ESI_URL']}/corporations/{made['corporation_id']}/members",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert answer.status_code == 403 and MEMBERSHIP_SCOPE in answer.json()["error"]


def test_a_reading_stores_every_member_with_names_and_logons(db, sandbox, key_factory):
    key_id, made, added = _tracked(db, sandbox, key_factory, members=10)
    corporation_id = made["corporation_id"]
    outcome = rosters.refresh(corporation_id)
    assert outcome.action == "done", outcome
    members = {m.character_id: m for m in db.session.scalars(db.select(RosterMember)).all()}
    assert len(members) == 11
    assert members[added[0]["character_id"]].name == "Zz Line Pilot 0"
    assert members[added[0]["character_id"]].logon_at.hour == 20
    roster = db.session.get(Roster, corporation_id)
    assert roster.member_count == 11 and roster.error is None and roster.expires_at > utcnow()
    assert report.coverage(corporation_id) == {"in_game": 11, "registered": 1, "valid": 1, "share": 1 / 11}
    # Within Expires nothing is asked again.
    calls = sandbox.stats()["calls"]
    assert rosters.refresh(corporation_id).message == "the last reading is still fresh"
    assert sandbox.stats()["calls"] == calls
    # One leaves the corporation in game; a forced reading drops them.
    other = sandbox.control("POST", "/corporations", json={"name": "Elsewhere", "ticker": "ELSE"})
    sandbox.control(
        "POST",
        f"/characters/{added[0]['character_id']}/move",
        json={"corporation_id": other["corporation_id"]},
    )
    assert rosters.refresh(corporation_id, force=True).action == "done"
    db.session.expire_all()
    assert db.session.get(RosterMember, (corporation_id, added[0]["character_id"])) is None
    assert db.session.get(Roster, corporation_id).member_count == 10
    # Each reading left a coverage sample: the sparkline has a point per reading (1/11, then 1/10).
    points = report.sparkline(corporation_id).split()
    assert len(points) == 2 and points[0].startswith("0.0,") and points[1].startswith("160.0,")


def test_names_of_unknown_characters_come_in_batches_of_at_most_1000(db, sandbox, key_factory):
    key_id, made, _ = _tracked(db, sandbox, key_factory, members=0)
    sandbox.control(
        "POST",
        f"/corporations/{made['corporation_id']}/members",
        json={"count": 2500, "name_prefix": "Zz Bulk"},
    )
    sandbox.control("POST", "/stats/reset")
    assert rosters.refresh(made["corporation_id"]).action == "done"
    batches = sandbox.stats()["names_batches"]
    assert sorted(batches) == [500, 1000, 1000]  # the director's own character is known already
    named = db.session.scalar(
        db.select(db.func.count()).select_from(RosterMember).where(RosterMember.name != "")
    )
    assert named == 2501


def test_a_refused_or_invalid_token_is_shown_and_the_list_is_not_passed_off_as_fresh(
    db, sandbox, key_factory, client, auth, make_user
):
    key_id, made, added = _tracked(db, sandbox, key_factory, members=3)
    corporation_id = made["corporation_id"]
    assert rosters.refresh(corporation_id).action == "done"
    director = make_user(role="director", username="dirc")
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    db.session.commit()
    auth.login("dirc")
    page = client.get(f"/director/corporations/{corporation_id}/compliance").get_data(as_text=True)
    assert "working" in page and 'data-testid="stale"' not in page

    # The director's character leaves the corporation: ESI refuses the token for its list.
    other = sandbox.control("POST", "/corporations", json={"name": "Gone Corp", "ticker": "GONE"})
    sandbox.control(
        "POST", f"/characters/{made['character_id']}/move", json={"corporation_id": other["corporation_id"]}
    )
    outcome = rosters.refresh(corporation_id, force=True)
    assert outcome.message == "every tracking token was refused"
    page = client.get(f"/director/corporations/{corporation_id}/compliance").get_data(as_text=True)
    assert "refused by ESI" in page and "Character is not in the corporation" in page
    assert 'data-testid="stale"' in page and "may be out of date" in page

    # An invalid key: the token says so, to directors and to admins.
    key = db.session.get(Key, key_id)
    key.status, key.reason = "invalid", "EVE refused the refresh token: the grant was revoked or has expired."
    db.session.commit()
    for who in ("dirc", None):
        if who is None:
            make_user(role="admin", username="boss")
            auth.logout()
            auth.login("boss")
        page = client.get(f"/director/corporations/{corporation_id}/compliance").get_data(as_text=True)
        assert "invalid: EVE refused the refresh token" in page
        assert 'data-testid="stale"' in page
    # The admin's dashboard says so too.
    assert "The in-game member list of Validation Corp cannot be read" in client.get("/admin/").get_data(
        as_text=True
    )


def test_filters_and_the_csv_export(db, sandbox, key_factory, client, login_as):
    key_id, made, added = _tracked(db, sandbox, key_factory, members=3)
    corporation_id = made["corporation_id"]
    sandbox.control(
        "POST", f"/corporations/{corporation_id}/members", json={"members": [{"name": "=HYPERLINK(1)"}]}
    )
    assert rosters.refresh(corporation_id).action == "done"
    login_as("admin", username="root")
    page = client.get(f"/director/corporations/{corporation_id}/compliance?filter=unregistered").get_data(
        as_text=True
    )
    assert page.count('data-testid="in-game-row"') == 4
    answer = client.get(f"/director/corporations/{corporation_id}/compliance.csv?filter=unregistered")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert len(rows) == 4 and {r["key"] for r in rows} == {"unregistered"}
    assert "'=HYPERLINK(1)" in {r["name"] for r in rows}  # never a formula in a spreadsheet
    assert client.get(f"/director/corporations/{corporation_id}/compliance?filter=bogus").status_code == 200
    alt = client.get(f"/director/corporations/{corporation_id}/compliance?filter=alt").get_data(as_text=True)
    assert alt.count('data-testid="in-game-row"') == 0  # the director's main is in the corporation


def test_a_service_can_require_every_in_game_character_registered(db, sandbox, key_factory):
    key_id, made, added = _tracked(db, sandbox, key_factory, members=2)
    key = db.session.get(Key, key_id)
    user = key.user
    # One of the in-game characters is the user's (a key removed earlier): known, without a key.
    db.session.add(
        Character(
            id=added[0]["character_id"],
            name="Zz Line Pilot 0",
            user_id=user.id,
            corporation_id=made["corporation_id"],
        )
    )
    service = Service(
        slug="fc", name="FC chat", kind="forward_auth", auto_states="member", require_registered=True
    )
    db.session.add(service)
    db.session.commit()
    assert rosters.refresh(made["corporation_id"]).action == "done"
    user.state = "member"
    decision = desired(user, service, None, facts_about(user), utcnow())
    assert decision.status == "suspended" and decision.graceful
    assert "Zz Line Pilot 0 has no key" in decision.reason
    # A list that went stale (its token broke hours ago) takes nothing away on its own.
    roster = db.session.get(Roster, made["corporation_id"])
    roster.refreshed_at = utcnow() - timedelta(hours=4)
    db.session.commit()
    assert desired(user, service, None, facts_about(user), utcnow()).status == "active"
    roster.refreshed_at = utcnow()
    service.require_registered = False
    assert desired(user, service, None, facts_about(user), utcnow()).status == "active"


def test_no_token_says_so(db, sandbox, key_factory):
    key_id, made, _ = key_factory(status="valid")
    outcome = rosters.refresh(made["corporation_id"])
    assert outcome.message == "no tracking token"
    assert "director" in db.session.get(Roster, made["corporation_id"]).error


def test_reminders_reach_members_bastion_knows_by_discord_once_a_day(
    db, sandbox, key_factory, client, login_as, consumer, redis_client
):
    key_id, made, added = _tracked(db, sandbox, key_factory, members=3)
    user_id = db.session.get(Key, key_id).user_id
    # Zz Line Pilot 0 is the member's own character (its key was removed); the other two are nobody's.
    db.session.add(
        Character(
            id=added[0]["character_id"],
            name="Zz Line Pilot 0",
            user_id=user_id,
            corporation_id=made["corporation_id"],
        )
    )
    db.session.commit()
    discord_id = link_discord(db, sandbox, user_id)
    assert rosters.refresh(made["corporation_id"]).action == "done"
    login_as("admin", username="nudger")
    page = client.get(f"/director/corporations/{made['corporation_id']}/compliance?filter=unregistered")
    assert "Remind by Discord (1)" in page.get_data(as_text=True)
    csrf = csrf_token_from(page.get_data(as_text=True))
    url = f"/director/corporations/{made['corporation_id']}/compliance/nudge"
    answer = client.post(url, data={"csrf_token": csrf}, follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "1 member will get a Discord message" in text
    assert "2 unregistered characters cannot be reached through Bastion" in text
    process = consumer(workers=1, periodic=False, extra_env={"PUBLIC_URL": "https://auth.example.org"})
    wait_for(lambda: direct_messages(sandbox, discord_id), timeout=20, message=lambda: process.log()[-3000:])
    message = direct_messages(sandbox, discord_id)[0]
    assert "register Zz Line Pilot 0" in message and "https://auth.example.org/keys" in message
    again = client.post(url, data={"csrf_token": csrf}, follow_redirects=True).get_data(as_text=True)
    assert "0 members will get a Discord message; 1 already had one in the last day" in again
    # The member's own page names the missing character.
    assert [name for name, _ in missing_characters(user_id)] == ["Zz Line Pilot 0"]
    assert client.post(url, data={}).status_code == 400  # no CSRF token, nothing sent


def test_a_spare_token_reads_the_list_when_the_first_is_refused(db, sandbox, key_factory):
    key_id, made, added = _tracked(db, sandbox, key_factory, members=2)
    corporation_id = made["corporation_id"]
    # A second director's character in the corporation, with its own key as a spare token.
    spare = sandbox.control(
        "POST", "/characters", json={"name": "Zz Spare Director", "corporation_id": corporation_id}
    )
    grant = sandbox.control(
        "POST",
        "/grants",
        json={"character_id": spare["character_id"], "client_id": TEST_CLIENT_ID, "scopes": list(SCOPES)},
    )
    user = db.session.get(Key, key_id).user
    db.session.add(
        Character(
            id=spare["character_id"], name="Zz Spare Director", user_id=user.id, corporation_id=corporation_id
        )
    )
    db.session.flush()
    spare_key = Key(
        user_id=user.id,
        character_id=spare["character_id"],
        owner_hash=spare["owner_hash"],
        scopes=" ".join(SCOPES),
        refresh_token_encrypted=crypto.encrypt(grant["refresh_token"]),
        status="valid",
    )
    db.session.add(spare_key)
    db.session.flush()
    db.session.add(TrackingToken(corporation_id=corporation_id, key_id=spare_key.id))
    db.session.commit()
    assert _check(spare_key.id).action == "done"
    # The first token's character leaves: ESI refuses it, and the spare reads the list.
    elsewhere = sandbox.control("POST", "/corporations", json={"name": "Zz Elsewhere", "ticker": "ZZE"})
    sandbox.control(
        "POST",
        f"/characters/{made['character_id']}/move",
        json={"corporation_id": elsewhere["corporation_id"]},
    )
    outcome = rosters.refresh(corporation_id)
    assert outcome.action == "done" and outcome.message == "3 members"
    tokens = {t.key_id: t for t in db.session.scalars(db.select(TrackingToken)).all()}
    assert "not in the corporation" in tokens[key_id].error and tokens[spare_key.id].error is None
    assert db.session.get(Roster, corporation_id).error is None


def test_the_corp_member_bucket_is_respected(db, sandbox, key_factory, redis_client):
    key_id, made, _ = _tracked(db, sandbox, key_factory, members=1, director=False)
    sandbox.configure(bucket_limits={"corp-member": 4, "char-detail": 600, "status": 600})
    corporation_id = made["corporation_id"]
    assert (
        rosters.refresh(corporation_id, force=True).action == "done"
    )  # 2 tokens (members) + 5 (403 tracking)
    # The bucket is spent: Bastion waits without asking (no 429 is earned).
    calls = sandbox.stats()["calls"]
    outcome = rosters.refresh(corporation_id, force=True)
    assert outcome.action == "wait" and 0 < outcome.delay <= 60 and "corp-member" in outcome.message
    assert sandbox.stats()["calls"] == calls
    # Had Bastion forgotten (Redis flushed), ESI's 429 blocks that bucket until its Retry-After.
    character = db.session.get(Key, key_id).character_id
    redis_client.delete(redis_keys.bucket("corp-member", f"character:{character}"))
    outcome = rosters.refresh(corporation_id, force=True)
    assert outcome.action == "wait" and 800 < outcome.delay <= 900
    assert sandbox.stats()["esi_429"] == 1
    assert rosters.refresh(corporation_id, force=True).delay > 800  # asked no more
    assert sandbox.stats()["esi_429"] == 1
    assert db.session.get(Roster, corporation_id).refreshed_at is not None  # the last list stays


def test_a_key_added_again_without_the_membership_scope_is_named(db, sandbox, key_factory):
    key_id, made, _ = _tracked(db, sandbox, key_factory, members=1)
    key = db.session.get(Key, key_id)
    key.scopes = SCOPE  # added again through "Add character", with the login scopes only
    db.session.commit()
    assert rosters.refresh(made["corporation_id"]).message == "no tracking token"
    token = db.session.scalar(db.select(TrackingToken))
    assert "no longer grants the membership scope" in token.error
    assert "No working tracking token" in db.session.get(Roster, made["corporation_id"]).error


def test_reading_tasks_are_named_by_their_corporation_on_the_queue_pages(db, sandbox, key_factory):
    from app.overview import names_of

    _, made, _ = key_factory(status="valid")
    target = ("corporation", str(made["corporation_id"]))
    assert names_of([target, ("corporation", "99999999999999999999")]) == {target: "Validation Corp"}
