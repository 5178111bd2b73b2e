"""A director adds their corporation's tracking token in a real browser, sees who in game has not
registered, filters and exports them; a member registers one and coverage rises without a reload."""

import csv
from pathlib import Path

from app import crypto
from app.accounts.models import Directorship, User
from app.compliance.models import TrackingToken
from app.corps.models import Character, Corporation
from app.keys.models import Key
from tests.support import TEST_CLIENT_ID, sign_in, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"


def _corporation_in_game(db, sandbox):
    """A member corporation with 10 characters in game: its director (holding the Director role),
    6 members registered in Bastion and 3 who are not."""
    corp = sandbox.control("POST", "/corporations", json={"name": "Census Corp", "ticker": "CNSUS"})
    corporation_id = corp["corporation_id"]
    db.session.add(Corporation(id=corporation_id, name="Census Corp", ticker="CNSUS", tracked_as="member"))
    names = (
        ["Cen Director"] + [f"Cen Member {n}" for n in range(1, 7)] + [f"Cen Absent {n}" for n in range(1, 4)]
    )
    made = sandbox.control(
        "POST",
        f"/corporations/{corporation_id}/members",
        json={"members": [{"name": n, "logon_date": "2026-11-29T18:30:00Z"} for n in names]},
    )["characters"]
    director_character = made[0]
    sandbox.control(
        "POST", f"/characters/{director_character['character_id']}/roles", json={"roles": ["Director"]}
    )
    for character in made[1:7]:  # registered members, each their own user with a valid key
        grant = sandbox.control(
            "POST",
            "/grants",
            json={"character_id": character["character_id"], "client_id": TEST_CLIENT_ID, "scopes": []},
        )
        user = User(role="member", state="member")
        db.session.add(user)
        db.session.flush()
        db.session.add(
            Character(
                id=character["character_id"],
                name=character["name"],
                user_id=user.id,
                owner_hash=character["owner_hash"],
                corporation_id=corporation_id,
            )
        )
        db.session.flush()
        db.session.add(
            Key(
                user=user,
                character_id=character["character_id"],
                owner_hash=character["owner_hash"],
                refresh_token_encrypted=crypto.encrypt(grant["refresh_token"]),
                status="valid",
            )
        )
        user.main_character_id = character["character_id"]
    director = User(role="director", state="member", username="census-director")
    director.set_password(PASSWORD)
    db.session.add(director)
    db.session.flush()
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    db.session.commit()
    return corporation_id, director_character


def test_a_director_finds_the_unregistered_and_coverage_rises_as_one_registers(
    page, second_page, db, sandbox, consumer, redis_client, tmp_path
):
    corporation_id, director_character = _corporation_in_game(db, sandbox)
    consumer(workers=2, periodic=False)

    sign_in(page, "census-director", PASSWORD, f"/director/corporations/{corporation_id}")
    page.get_by_test_id("compliance-link").click()
    page.wait_for_url(f"**/director/corporations/{corporation_id}/compliance")
    page.get_by_text("No tracking token: add one below").wait_for()

    # The tracking token: one of the director's characters, with member tracking.
    page.get_by_test_id("add-tracking-logons").click()
    page.get_by_label("Character", exact=True).select_option(label="Cen Director")
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.get_by_text("Cen Director is a tracking token of Census Corp with member tracking").wait_for()
    token = db.session.scalar(db.select(TrackingToken).where(TrackingToken.corporation_id == corporation_id))
    assert token is not None and token.tracks_members

    def listed():
        page.reload()
        return page.get_by_test_id("in-game-row").count() == 10

    wait_for(listed, timeout=30, message="the in-game member list read with the tracking token")
    assert (
        page.get_by_test_id("coverage-figures").inner_text().startswith("7 of 10 in-game members registered")
    )
    assert "working" in page.get_by_test_id("token-health").inner_text()
    assert (
        "Nov" in page.locator('[data-testid="in-game-row"]').first.inner_text()
        or "2026-11-29" in page.content()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "director-compliance.png"), full_page=True)

    page.get_by_role("link", name="Unregistered", exact=True).click()
    page.wait_for_url(lambda url: "filter=unregistered" in url)
    rows = page.get_by_test_id("in-game-row")
    assert rows.count() == 3
    assert sorted(rows.nth(n).locator("td").first.inner_text() for n in range(3)) == [
        "Cen Absent 1",
        "Cen Absent 2",
        "Cen Absent 3",
    ]
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    saved = tmp_path / "unregistered.csv"
    download.value.save_as(saved)
    exported = list(csv.DictReader(saved.open()))
    assert [r["name"] for r in exported] == ["Cen Absent 1", "Cen Absent 2", "Cen Absent 3"]
    assert {r["key"] for r in exported} == {"unregistered"}

    # A member registers one of them; the director's page shows it without a reload.
    loads = []
    page.on("load", lambda: loads.append(page.url))
    second_page.goto("/login")
    second_page.get_by_test_id("login-eve").click()
    second_page.get_by_label("Character", exact=True).select_option(label="Cen Absent 2")
    second_page.get_by_role("button", name="Authorize", exact=True).click()
    second_page.wait_for_url("**/")
    page.get_by_test_id("coverage-figures").get_by_text("8 of 10 in-game members registered").wait_for(
        timeout=30_000
    )
    assert loads == []
    page.screenshot(path=str(ARTIFACTS / "director-compliance-coverage.png"), full_page=True)
