"""EVE's member list can be an hour old: a recruit Bastion confirmed in the corporation after the
list was made is not called a leaver on "Who is in game"."""

from datetime import timedelta
from pathlib import Path

from app.accounts.models import Directorship
from app.clock import utcnow
from app.compliance.models import Roster
from app.corps.models import Character
from app.keys.models import Key
from tests.support import add_alt, sign_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"


def test_a_recruit_newer_than_the_member_list_is_not_called_a_leaver(
    page, db, sandbox, make_user, key_factory
):
    key_id, _, _ = key_factory(status="valid")
    veteran = db.session.get(Key, key_id).character
    corporation_id = veteran.corporation_id
    recruit_id = add_alt(db, sandbox, veteran.user_id, name="Fresh Recruit", corporation_id=corporation_id)
    now = utcnow()
    veteran.affiliation_checked_at = now - timedelta(hours=3)  # confirmed there long before the list
    db.session.get(Character, recruit_id).affiliation_checked_at = now - timedelta(minutes=5)
    # Read ten minutes ago; ESI's copy expires in 50 minutes, so it was made about ten minutes ago.
    db.session.add(
        Roster(
            corporation_id=corporation_id,
            refreshed_at=now - timedelta(minutes=10),
            expires_at=now + timedelta(minutes=50),
            member_count=0,
        )
    )
    director = make_user(role="director", username="rosterer", password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    db.session.commit()
    sign_in(page, "rosterer", PASSWORD, f"/director/corporations/{corporation_id}/compliance")
    left = page.get_by_test_id("left").inner_text()
    unsure = page.get_by_test_id("unsure").inner_text()
    assert "Val Pilot" in left and "Fresh Recruit" not in left
    assert "Fresh Recruit" in unsure
    as_of = (now - timedelta(minutes=10)).strftime("%H:%M")
    assert page.get_by_text(f"Not in EVE's list of {as_of} UTC: joined since, or left").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "roster-recruits.png"), full_page=True)


def test_the_table_follows_a_reading_asked_for_with_read_now(page, db, sandbox, make_user, key_factory):
    from app.compliance.models import RosterMember, TrackingToken

    key_id, _, _ = key_factory(status="valid")
    key = db.session.get(Key, key_id)
    corporation_id = key.character.corporation_id
    director = make_user(role="director", username="reader", password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    db.session.add(TrackingToken(key_id=key_id, corporation_id=corporation_id, added_by_id=director.id))
    roster = Roster(corporation_id=corporation_id, refreshed_at=utcnow() - timedelta(hours=2), member_count=0)
    db.session.add(roster)
    db.session.commit()
    sign_in(page, "reader", PASSWORD, f"/director/corporations/{corporation_id}/compliance")
    page.get_by_role("button", name="Read now").click()
    page.get_by_text("Reading EVE's member list… the table follows by itself.").wait_for()
    page.wait_for_load_state("load")  # the answer to Read now is loaded before counting any
    loads = []
    page.on("load", lambda: loads.append(page.url))
    # The reading comes in (a consumer's roster task writes just this).
    roster = db.session.get(Roster, corporation_id)
    roster.refreshed_at, roster.member_count = utcnow(), 1
    db.session.add(RosterMember(corporation_id=corporation_id, character_id=2117999001, name="New Face"))
    db.session.commit()
    page.get_by_test_id("in-game").get_by_text("New Face").wait_for(timeout=10_000)
    assert page.get_by_test_id("reading").inner_text() == "The member list was read again."
    assert loads == []  # drawn again in place, no page load
