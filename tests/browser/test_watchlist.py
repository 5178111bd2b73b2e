"""In a real browser: an admin tracks an alliance as hostile, the watchlist names the spy's alt at
once, and the director of the spy's corporation sees the flag on the member and the alt on their
page, by name and corporation only."""

from pathlib import Path

from app.access.reconcile import reconcile_user
from app.accounts.models import Directorship, User
from app.corps.models import Alliance, Character, Corporation
from app.keys.models import Key
from tests.support import sign_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"


def _sign_in(page, username, next_path):
    sign_in(page, username, PASSWORD, next_path)


def _person(db, username, role, characters):
    """A user with valid keys on characters [(id, name, corporation id, alliance id)], the first main."""
    user = User(username=username, role=role, state="guest")
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.flush()
    for index, (character_id, name, corporation_id, alliance_id) in enumerate(characters):
        db.session.add(
            Character(
                id=character_id,
                name=name,
                user_id=user.id,
                corporation_id=corporation_id,
                alliance_id=alliance_id,
            )
        )
        db.session.flush()
        db.session.add(
            Key(
                user_id=user.id,
                character_id=character_id,
                owner_hash="h",
                scopes="s",
                refresh_token_encrypted="x",
                status="valid",
            )
        )
        if index == 0:
            user.main_character_id = character_id
    db.session.commit()
    reconcile_user(user.id)
    return user.id


def test_an_alliance_tracked_as_hostile_shows_the_spys_alt_to_admins_and_directors(
    page, db, sandbox, redis_client, make_user
):
    horde = sandbox.control("POST", "/alliances", json={"name": "Crimson Horde", "ticker": "CRMH"})
    raiders = sandbox.control(
        "POST",
        "/corporations",
        json={"name": "Raider Squad", "ticker": "RAID", "alliance_id": horde["alliance_id"]},
    )
    home = sandbox.control("POST", "/corporations", json={"name": "Quiet Miners", "ticker": "QUIET"})
    db.session.add(Alliance(id=horde["alliance_id"], name="Crimson Horde", ticker="CRMH"))
    db.session.flush()
    db.session.add_all(
        [
            Corporation(id=home["corporation_id"], name="Quiet Miners", ticker="QUIET", tracked_as="member"),
            Corporation(
                id=raiders["corporation_id"],
                name="Raider Squad",
                ticker="RAID",
                alliance_id=horde["alliance_id"],
            ),
        ]
    )
    db.session.commit()
    spy = _person(
        db,
        "spy",
        "member",
        [
            (2140000001, "Honest Miner", home["corporation_id"], None),
            (2140000002, "Crimson Eye", raiders["corporation_id"], horde["alliance_id"]),
        ],
    )
    director = _person(
        db, "miner.boss", "director", [(2140000003, "Mining Boss", home["corporation_id"], None)]
    )
    db.session.add(Directorship(user_id=director, corporation_id=home["corporation_id"], source="appointed"))
    db.session.commit()
    admin = make_user(role="admin", username="watcher", password=PASSWORD)

    # The admin tracks the alliance as hostile, through the form, by its EVE id.
    _sign_in(page, admin.username, "/admin/corporations")
    page.get_by_label("What").select_option("alliance")
    page.get_by_label("EVE id").fill(str(horde["alliance_id"]))
    page.get_by_label("Counts as").first.select_option("hostile")
    page.get_by_role("button", name="Track").click()
    page.get_by_text("Crimson Horde [CRMH] counts as hostile now").wait_for()

    page.get_by_role("link", name="Watchlist").click()
    row = page.locator("[data-testid=watchlist] tr", has_text="Crimson Eye")
    row.get_by_text("hostile").wait_for()
    assert "Honest Miner" in row.inner_text()  # the user, by their main
    assert page.locator("[data-testid=watchlist] tr", has_text="Mining Boss").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "watchlist.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # The director sees the flag on the member, and the alt by name and corporation only.
    page.context.clear_cookies()
    _sign_in(page, "miner.boss", f"/director/corporations/{home['corporation_id']}")
    member_row = page.locator(f"[data-member='{spy}']")
    member_row.get_by_test_id("watch").wait_for()
    assert "Crimson Eye" in member_row.get_by_test_id("watch").inner_text()
    member_row.get_by_role("link", name="Manage").click()
    alt = page.locator("[data-character='2140000002']")
    alt.get_by_text("elsewhere").wait_for()
    assert "Raider Squad [RAID]" in alt.inner_text() and "hostile" in alt.inner_text()
    assert alt.locator("form, button").count() == 0  # nothing to act on there
    page.screenshot(path=str(ARTIFACTS / "director-hostile-alt.png"), full_page=True)
