"""Grace periods, notices and explanations: a removal a key or an alt causes waits a day and the
member is told (in the app, and by Discord DM through the sandbox's bot); fixing the cause keeps
access; leaving for a hostile or untracked corporation ends it at once; every decision explains
itself."""

from app.access import notices
from app.access.models import Grant, Notice
from app.access.reconcile import reconcile_user
from app.accounts.models import User
from app.audit import AuditEntry
from app.clock import utcnow
from app.corps.models import Alliance, Character, Corporation
from app.keys.logic import release_character, remove_key
from app.keys.models import Key
from app.services.models import Service
from tests.support import add_alt, csrf_token_from, direct_messages, end_grace_periods, link_discord

HOSTILE_CORP = 98990001


def _service(db, slug="comms", auto="member", **fields):
    service = Service(slug=slug, name=slug.title(), kind="forward_auth", auto_states=auto, **fields)
    db.session.add(service)
    db.session.commit()
    return service.id


def _member(db, key_factory, username="pilot"):
    key_id, made, _ = key_factory(status="valid", tracked="member")
    user = db.session.get(Key, key_id).user
    user.username = username
    user.set_password("correct horse battery")
    db.session.commit()
    reconcile_user(user.id)
    return user.id, made


def _grant(db, user_id, service_id):
    db.session.expire_all()
    return db.session.scalars(db.select(Grant).filter_by(user_id=user_id, service_id=service_id)).one()


def _reconcile(db, user_id):
    db.session.expire_all()
    return reconcile_user(user_id).follow_up


def _hostile_corp(db):
    db.session.add(Corporation(id=HOSTILE_CORP, name="Raiders", ticker="RAID", tracked_as="hostile"))
    db.session.commit()
    return HOSTILE_CORP


def _move(db, character_id, corporation_id, alliance_id=None):
    character = db.session.get(Character, character_id)
    character.corporation_id, character.alliance_id = corporation_id, alliance_id
    db.session.commit()


def _set_key(db, character_id, status):
    db.session.scalars(db.select(Key).filter_by(character_id=character_id)).one().status = status
    db.session.commit()


def test_an_invalid_key_gives_a_day_a_notice_and_a_direct_message_then_ends_access(
    db, sandbox, key_factory, redis_client
):
    service_id = _service(db, strict=True)
    user_id, made = _member(db, key_factory)
    alt = add_alt(db, sandbox, user_id, corporation_id=made["corporation_id"])
    discord_id = link_discord(db, sandbox, user_id)
    assert _grant(db, user_id, service_id).status == "active"

    _set_key(db, alt, "invalid")
    follow_up = _reconcile(db, user_id)
    grant = _grant(db, user_id, service_id)
    assert grant.status == "active" and grant.ending_reason == "The key of Alt Pilot is invalid."
    assert 23.9 * 3600 < (grant.ends_at - utcnow()).total_seconds() <= 24 * 3600
    assert follow_up.expiries == [(grant.id, grant.ends_at)] and follow_up.syncs == []
    (notice,) = notices.shown_to(user_id)
    assert (
        notice.kind == "ending"
        and "Comms ends at" in notice.message
        and "Renew the key of Alt Pilot" in notice.message
    )
    assert follow_up.messages == [notice.id]
    assert follow_up.reminders[0][1] < grant.ends_at  # the reminder goes before the end

    assert notices.deliver(notice.id, "first").action == "done"
    (dm,) = direct_messages(sandbox, discord_id)
    assert "Comms ends at" in dm and "Alt Pilot" in dm
    assert db.session.get(Notice, notice.id).dm_status.startswith("sent by DM (first)")

    assert notices.dismiss(user_id, notice.id) and not notices.dismiss(user_id + 1, notice.id)
    db.session.commit()
    assert notices.shown_to(user_id) == []
    assert notices.deliver(notice.id, "reminder").action == "done"
    assert [n.id for n in notices.shown_to(user_id)] == [notice.id]  # back on every page
    assert direct_messages(sandbox, discord_id)[-1].startswith("Reminder from Bastion: ")

    assert _reconcile(db, user_id).syncs == []  # nothing changes while the grace runs
    assert end_grace_periods(db) == 1
    follow_up = _reconcile(db, user_id)
    grant = _grant(db, user_id, service_id)
    assert (grant.status, grant.ends_at, grant.reason) == (
        "suspended",
        None,
        "The key of Alt Pilot is invalid.",
    )
    assert follow_up.syncs == [grant.id]
    (notice,) = notices.shown_to(user_id)
    assert notice.kind == "ended" and "access to Comms ended" in notice.message
    actions = db.session.scalars(
        db.select(AuditEntry.action)
        .where(AuditEntry.target_type == "grant", AuditEntry.target_id == str(grant.id))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["grant.active", "grant.ending", "grant.suspended"]
    ending = db.session.scalars(db.select(AuditEntry).filter_by(action="grant.ending")).one()
    assert "Every key must be valid: the key of Alt Pilot is invalid." in ending.detail  # the trace


def test_fixing_the_cause_in_time_keeps_access_and_clears_the_notice(db, sandbox, key_factory, redis_client):
    service_id = _service(db, qualify="every")
    user_id, made = _member(db, key_factory)
    alt = add_alt(db, sandbox, user_id, corporation_id=made["corporation_id"])
    discord_id = link_discord(db, sandbox, user_id)
    _move(db, alt, _hostile_corp(db))
    (notice_id,) = _reconcile(db, user_id).messages
    grant = _grant(db, user_id, service_id)
    assert (
        grant.ends_at is not None
        and "Alt Pilot is in Raiders [RAID], tracked as hostile" in grant.ending_reason
    )
    assert "Remove Alt Pilot from your account" in notices.shown_to(user_id)[0].message

    user = db.session.get(User, user_id)
    remove_key(user, db.session.scalars(db.select(Key).filter_by(character_id=alt)).one())
    release_character(user, alt)  # the member takes the hostile alt off their account
    db.session.commit()
    follow_up = _reconcile(db, user_id)
    grant = _grant(db, user_id, service_id)
    assert (grant.status, grant.ends_at, grant.ending_reason) == ("active", None, None)
    assert follow_up.syncs == [] and notices.shown_to(user_id) == []
    kept = db.session.scalars(db.select(AuditEntry).filter_by(action="grant.kept")).one()
    assert "cause is fixed" in kept.detail
    # The direct message, due NOTICE_DM_DELAY later, finds the cause fixed and sends nothing.
    assert notices.deliver(notice_id, "first").action == "nothing"
    assert direct_messages(sandbox, discord_id) == []


def test_leaving_for_a_hostile_corporation_ends_access_at_once(db, sandbox, key_factory, redis_client):
    service_id = _service(db, qualify="every")
    user_id, made = _member(db, key_factory)
    link_discord(db, sandbox, user_id)
    _move(db, made["character_id"], _hostile_corp(db))
    follow_up = _reconcile(db, user_id)
    grant = _grant(db, user_id, service_id)
    assert (grant.status, grant.ends_at) == ("revoked", None)
    assert db.session.get(User, user_id).state == "guest"
    assert follow_up.syncs == [grant.id] and follow_up.messages == []
    (notice,) = notices.shown_to(user_id)
    assert notice.kind == "ended"


def test_a_main_key_that_stops_proving_waits_but_leaving_tracked_corporations_does_not(
    db, key_factory, redis_client
):
    service_id = _service(db)
    user_id, made = _member(db, key_factory)
    _set_key(db, made["character_id"], "invalid")
    _reconcile(db, user_id)
    assert db.session.get(User, user_id).state == "guest"
    grant = _grant(db, user_id, service_id)
    assert grant.status == "active" and grant.ending_reason == "Not given automatically to guests."
    assert "Renew the key of your main character Val Pilot" in notices.shown_to(user_id)[0].message

    db.session.get(Corporation, made["corporation_id"]).tracked_as = None  # untracked meanwhile
    db.session.commit()
    _reconcile(db, user_id)
    grant = _grant(db, user_id, service_id)
    assert (grant.status, grant.ends_at) == ("revoked", None)


def test_a_hostile_alliance_of_the_main_ends_access_at_once_even_with_an_invalid_key(
    db, key_factory, redis_client
):
    service_id = _service(db)
    user_id, made = _member(db, key_factory)
    db.session.add(Alliance(id=99990001, name="Horde", ticker="HRD", tracked_as="hostile"))
    db.session.commit()
    _set_key(db, made["character_id"], "invalid")
    _move(db, made["character_id"], made["corporation_id"], 99990001)
    _reconcile(db, user_id)
    assert _grant(db, user_id, service_id).status == "revoked"


def test_direct_messages_respect_the_member_and_discord(db, sandbox, key_factory, redis_client):
    service_id = _service(db, strict=True)
    user_id, made = _member(db, key_factory)
    alt = add_alt(db, sandbox, user_id, corporation_id=made["corporation_id"])
    discord_id = link_discord(db, sandbox, user_id)
    db.session.get(User, user_id).notify_by_dm = False
    db.session.commit()
    _set_key(db, alt, "invalid")
    (notice_id,) = _reconcile(db, user_id).messages
    assert notices.deliver(notice_id, "first").message == "not sent by DM: turned off"
    assert direct_messages(sandbox, discord_id) == []

    db.session.get(User, user_id).notify_by_dm = True
    db.session.commit()
    sandbox.control("POST", f"/discord/users/{discord_id}/dms", json={"open": False})
    outcome = notices.deliver(notice_id, "first")
    assert outcome.action == "done" and "Cannot send messages to this user" in outcome.message
    assert direct_messages(sandbox, discord_id) == []
    assert _grant(db, user_id, service_id).ends_at is not None  # the notice still shows in the app
    assert len(notices.shown_to(user_id)) == 1


def test_a_guest_reads_why_they_lack_a_service_and_what_to_do(client, db, auth, make_user, redis_client):
    _service(db, slug="fleet", auto="member,blue")
    _service(db, slug="wiki", auto="", request_states="member", requires_approval=True)
    make_user(username="newbie")
    auth.login("newbie")
    page = client.get("/services").get_data(as_text=True)
    assert "No: not given to guests." in page
    assert "It is for members and blues: add a character in a corporation tracked as member or blue" in page
    assert "Members may ask, and a director approves." in page
    assert "State guest: no main character yet." in page


def test_admins_get_the_decision_as_json_and_others_do_not(
    client, db, auth, make_user, key_factory, redis_client
):
    service_id = _service(db, slug="fleet")
    user_id, _ = _member(db, key_factory)
    make_user(role="admin", username="boss")
    assert client.get(f"/admin/users/{user_id}/access.json").status_code in (302, 401)
    auth.login("pilot")
    assert client.get(f"/admin/users/{user_id}/access.json").status_code == 403
    auth.logout()
    auth.login("boss")
    answer = client.get(f"/admin/users/{user_id}/access.json").get_json()
    (fleet,) = answer["services"]
    assert (fleet["service"], fleet["access"], fleet["status"]) == ("fleet", True, "active")
    assert fleet["summary"] == "Yes: Given automatically to members."
    assert fleet["steps"][0]["text"].startswith(
        "State member: main character Val Pilot in Validation Corp [VAL]"
    )
    assert _grant(db, user_id, service_id).status == "active"
    assert client.get("/admin/users/999999/access.json").status_code == 404


def test_a_member_dismisses_a_notice_and_turns_direct_messages_off(
    client, db, sandbox, auth, key_factory, redis_client
):
    _service(db, strict=True)
    user_id, made = _member(db, key_factory)
    alt = add_alt(db, sandbox, user_id, corporation_id=made["corporation_id"])
    _set_key(db, alt, "invalid")
    _reconcile(db, user_id)
    auth.login("pilot")
    page = client.get("/keys").get_data(as_text=True)
    assert 'data-testid="notice"' in page and "Comms ends at" in page
    (notice,) = notices.shown_to(user_id)
    token = csrf_token_from(page)
    assert client.post(f"/notices/{notice.id}/dismiss", data={}).status_code == 400  # no CSRF token
    answer = client.post(
        f"/notices/{notice.id}/dismiss", data={"csrf_token": token, "next": "//evil.example"}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/services"
    assert 'data-testid="notice"' not in client.get("/keys").get_data(as_text=True)
    assert client.post("/notices/999999/dismiss", data={"csrf_token": token}).status_code == 302

    assert (
        client.post("/services/direct-messages", data={"csrf_token": token, "enabled": "0"}).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(User, user_id).notify_by_dm is False


def test_grace_periods_are_counted_and_grants_by_hand_keep_their_trace(
    app, client, db, sandbox, key_factory, make_user, redis_client
):
    from prometheus_client.parser import text_string_to_metric_families

    from app.access import grants
    from app.overview import overview

    service_id = _service(db, strict=True, directors_may_grant=True)
    wiki_id = _service(db, slug="wiki", auto="")
    user_id, made = _member(db, key_factory)
    alt = add_alt(db, sandbox, user_id, corporation_id=made["corporation_id"])
    _set_key(db, alt, "invalid")
    _reconcile(db, user_id)
    assert overview()["grants_ending"] == 1
    app.config["METRICS_TOKEN"] = "scrape"
    try:
        text = client.get("/metrics", headers={"Authorization": "Bearer scrape"}).get_data(as_text=True)
    finally:
        app.config["METRICS_TOKEN"] = ""
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["bastion_grants_ending"].samples[0].value == 1

    admin = make_user(role="admin", username="boss")
    user, wiki = db.session.get(User, user_id), db.session.get(Service, wiki_id)
    grant, _ = grants.grant_manually(user, wiki, admin, reason="Op week")
    grants.revoke_manually(grant, admin, reason="Op over")
    entries = db.session.scalars(
        db.select(AuditEntry)
        .where(AuditEntry.action.in_(["grant.manual", "grant.revoked"]))
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["grant.manual", "grant.revoked"]
    assert "Yes: Op week | State member: main character Val Pilot" in entries[0].detail
    assert "No: Op over | State member" in entries[1].detail and "Revoked by boss." in entries[1].detail
    assert _grant(db, user_id, service_id).ends_at is not None


def test_a_state_read_before_a_verdict_was_taken_back_removes_nothing(db, key_factory, redis_client):
    from app.access.reconcile import reconcile_grants

    service_id = _service(db)
    user_id, _ = _member(db, key_factory)
    user = db.session.get(User, user_id)
    user.state = "guest"  # stale: the main's key is valid in a member corporation again
    db.session.commit()
    follow_up = reconcile_grants(user)
    db.session.commit()
    assert follow_up.syncs == [] and _grant(db, user_id, service_id).status == "active"
    reconcile_user(user_id)  # the reconciliation that follows puts the state right
    assert db.session.get(User, user_id).state == "member"


def test_a_verdict_alone_keeps_the_state_for_the_grace_period_while_the_grants_start_theirs(
    db, sandbox, key_factory, redis_client
):
    """An invalid main key (the grant revoked at EVE) does not move the member's state at once: the
    state waits out ACCESS_GRACE as the grants do (which start their grace, with a notice); when it
    ends, services.expire lets the state fall. A sold character moves it at once."""
    from datetime import timedelta

    from app.keys.validation import validate_key
    from tasks.services import expire

    service_id = _service(db)
    user_id, made = _member(db, key_factory)
    sandbox.control("POST", "/grants/revoke", json={"character_id": made["character_id"]})
    verdict = validate_key(db.session.scalars(db.select(Key.id).filter_by(user_id=user_id)).one(), "tests")
    assert verdict.action == "done"
    _reconcile(db, user_id)
    assert db.session.get(User, user_id).state == "member"  # forward-auth headers, powers: unchanged
    grant = _grant(db, user_id, service_id)
    assert grant.status == "active" and grant.ends_at is not None  # the grant's grace and its notice
    assert "Renew the key of your main character Val Pilot" in notices.shown_to(user_id)[0].message

    key = db.session.scalars(db.select(Key).filter_by(user_id=user_id)).one()
    key.last_checked_at = utcnow() - timedelta(days=2)  # the grace is over
    db.session.commit()
    expire.call_local()
    db.session.expire_all()
    assert db.session.get(User, user_id).state == "guest"


def test_a_sold_main_moves_the_state_at_once(db, sandbox, key_factory, redis_client):
    from app.keys.validation import validate_key

    user_id, made = _member(db, key_factory)
    sandbox.control("POST", f"/characters/{made['character_id']}/sell")
    validate_key(db.session.scalars(db.select(Key.id).filter_by(user_id=user_id)).one(), "tests")
    db.session.expire_all()
    assert db.session.get(User, user_id).state == "guest"
