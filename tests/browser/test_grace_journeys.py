"""Explained decisions and grace periods in a real browser, with real consumers and the sandbox: a
member reads why they lack a service; an alt moves into a hostile alliance, the member sees the
notice and gets a Discord DM, does nothing, and loses the service when the grace ends; another
member fixes the cause in time and keeps it, while their director sees "ends in"."""

from pathlib import Path

from app.access.reconcile import reconcile_user
from app.accounts.models import Directorship
from app.corps import affiliation
from app.corps.models import Alliance
from app.keys.models import Key
from app.services.models import Service
from tasks.corps import affiliation_round
from tests.support import add_alt, direct_messages, grant_of, link_discord, sign_in, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"
FAST = {"AFFILIATION_MAX_WAIT": "0.5", "RETRY_BASE": "0.2", "NOTICE_DM_DELAY": "0.5"}


def _member(db, key_factory, username, tracked="member"):
    key_id, made, _ = key_factory(status="valid", tracked=tracked)
    user = db.session.get(Key, key_id).user
    user.username = username
    user.set_password(PASSWORD)
    db.session.commit()
    reconcile_user(user.id)
    return user.id, made


def _comms(db):
    """A service every character must qualify for: no alt in a hostile corporation or alliance."""
    service = Service(
        slug="comms", name="Fleet comms", kind="forward_auth", auto_states="member", qualify="every"
    )
    db.session.add(service)
    db.session.commit()
    return service.id


def _into_hostile_alliance(db, sandbox, character_id):
    """The character joins a corporation of an alliance Bastion tracks as hostile; the next
    affiliation round (run at once) finds out."""
    horde = sandbox.control("POST", "/alliances", json={"name": "Horde", "ticker": "HRD"})
    raiders = sandbox.control(
        "POST",
        "/corporations",
        json={"name": "Raiders", "ticker": "RAID", "alliance_id": horde["alliance_id"]},
    )
    db.session.add(Alliance(id=horde["alliance_id"], name="Horde", ticker="HRD", tracked_as="hostile"))
    db.session.commit()
    sandbox.control(
        "POST", f"/characters/{character_id}/move", json={"corporation_id": raiders["corporation_id"]}
    )
    affiliation.gather([character_id])
    affiliation_round("full")


def test_a_member_reads_why_they_lack_a_service_and_what_to_do(page, db, key_factory, redis_client):
    _comms(db)
    db.session.add(Service(slug="wiki", name="Alliance wiki", kind="forward_auth", request_states="member"))
    db.session.commit()
    _member(db, key_factory, "visitor", tracked=None)  # a main in a corporation nobody tracks

    sign_in(page, "visitor", PASSWORD, "/services")
    why = page.get_by_test_id("explanations").locator('[data-service="comms"]')
    assert why.get_by_test_id("why-summary").inner_text() == "No: not given to guests."
    # Both services ask the same of the member: it is said once, above them.
    shared = page.get_by_test_id("shared-remedy").inner_text()
    assert shared.startswith("What to do, for 2 services: ")
    assert "make a character in a corporation tracked as member your main on My keys" in shared
    assert why.get_by_test_id("why-remedy").count() == 0
    why.get_by_text("Why: the facts").click()
    steps = why.get_by_test_id("why-steps")
    steps.wait_for()
    assert (
        "State guest: main character Val Pilot in Validation Corp [VAL] (not tracked)." in steps.inner_text()
    )
    assert "Given automatically to members." in steps.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "why-not.png"), full_page=True)


def test_an_alt_in_a_hostile_alliance_is_noticed_messaged_and_access_ends_with_the_grace(
    page, db, sandbox, key_factory, consumer, redis_client
):
    consumer(workers=2, periodic=False, extra_env={**FAST, "ACCESS_GRACE": "8"})
    service_id = _comms(db)
    member_id, made = _member(db, key_factory, "pilot1")
    alt = add_alt(db, sandbox, member_id, corporation_id=made["corporation_id"])
    discord_id = link_discord(db, sandbox, member_id)
    assert grant_of(db, member_id, service_id).status == "active"

    _into_hostile_alliance(db, sandbox, alt)
    wait_for(
        lambda: grant_of(db, member_id, service_id).ends_at is not None,
        timeout=30,
        message="the grace period",
    )
    sign_in(page, "pilot1", PASSWORD, "/keys")
    notice = page.get_by_test_id("notice")
    assert "Your access to Fleet comms ends at" in notice.inner_text()
    assert "Alt Pilot is in the alliance Horde, tracked as hostile" in notice.inner_text()
    assert "Remove Alt Pilot from your account on My keys" in notice.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notice.png"), full_page=True)
    wait_for(lambda: direct_messages(sandbox, discord_id), timeout=30, message="the direct message")
    assert "Your access to Fleet comms ends at" in direct_messages(sandbox, discord_id)[0]

    # The member does nothing: the reminder comes shortly before the end, then access ends.
    wait_for(lambda: grant_of(db, member_id, service_id).status == "suspended", timeout=30, message="the end")
    grant = grant_of(db, member_id, service_id)
    assert grant.ends_at is None and "Horde" in grant.reason
    wait_for(lambda: len(direct_messages(sandbox, discord_id)) == 2, timeout=10, message="the reminder")
    assert direct_messages(sandbox, discord_id)[1].startswith("Reminder from Bastion: ")
    page.goto("/services")
    assert "Your access to Fleet comms ended at" in page.get_by_test_id("notice").inner_text()
    why = page.get_by_test_id("explanations").locator('[data-service="comms"]')
    assert why.get_by_test_id("why-summary").inner_text().startswith("No: Every character must qualify")


def test_a_member_fixes_the_cause_in_time_and_keeps_access_while_the_director_sees_ends_in(
    page, second_page, db, sandbox, key_factory, make_user, consumer, redis_client
):
    consumer(workers=2, periodic=False, extra_env={**FAST, "ACCESS_GRACE": "3600"})
    service_id = _comms(db)
    member_id, made = _member(db, key_factory, "pilot2")
    alt = add_alt(db, sandbox, member_id, corporation_id=made["corporation_id"])
    director = make_user(role="director", username="director1", password=PASSWORD)
    db.session.add(
        Directorship(user_id=director.id, corporation_id=made["corporation_id"], source="appointed")
    )
    db.session.commit()

    _into_hostile_alliance(db, sandbox, alt)
    wait_for(
        lambda: grant_of(db, member_id, service_id).ends_at is not None,
        timeout=30,
        message="the grace period",
    )

    sign_in(second_page, "director1", PASSWORD, f"/director/corporations/{made['corporation_id']}")
    assert (
        "ends in 59 min"
        in second_page.locator(f'[data-member="{member_id}"]').get_by_test_id("ends-in").inner_text()
    )
    second_page.goto(f"/director/corporations/{made['corporation_id']}/members/{member_id}")
    assert "ends in 59 min" in second_page.get_by_test_id("member-services").inner_text()
    assert "Alt Pilot is in the alliance Horde" in second_page.get_by_test_id("explanations").inner_text()
    second_page.screenshot(path=str(ARTIFACTS / "director-ends-in.png"), full_page=True)

    sign_in(page, "pilot2", PASSWORD, "/keys")
    assert page.get_by_test_id("notice").is_visible()
    page.on("dialog", lambda dialog: dialog.accept())
    row = page.locator('[data-character="Alt Pilot"]')
    row.get_by_role("button", name="Remove").click()
    page.get_by_text("The key of Alt Pilot was removed").wait_for()
    page.locator('[data-character="Alt Pilot"]').get_by_role("button", name="Remove character").click()
    page.get_by_text("Alt Pilot is no longer on your account.").wait_for()
    assert page.get_by_test_id("notice").count() == 0
    grant = grant_of(db, member_id, service_id)
    assert (grant.status, grant.ends_at) == ("active", None)
    page.goto("/services")
    why = page.get_by_test_id("explanations").locator('[data-service="comms"]')
    assert why.get_by_test_id("why-summary").inner_text() == "Yes: Given automatically to members."
