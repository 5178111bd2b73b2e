"""The incident guard in a real browser, with real consumers and the sandbox: an admin sees the
banner and the card, then applies real revocations, or discards what a misbehaving SSO caused."""

from pathlib import Path

import pytest

from app.access.models import Grant
from app.access.reconcile import reconcile_user
from app.keys.models import Key
from app.services.models import Service
from tasks.keys import queue_check
from tests.support import count_rows, sign_in, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"
GUARD = {"GUARD_WINDOW": 300.0, "GUARD_RECHECK": 60.0, "GUARD_VERDICT_MIN": 3, "GUARD_REMOVAL_MIN": 3}


@pytest.fixture()
def guarded(app):
    before = {name: app.config[name] for name in (*GUARD, "ACCESS_GRACE")}
    app.config.update(GUARD, ACCESS_GRACE=0)
    yield {"RETRY_BASE": "0.2", "ACCESS_GRACE": "0", **{name: str(value) for name, value in GUARD.items()}}
    app.config.update(before)


def _storm(db, sandbox, key_factory, consumer, env, count=8, revoke=False):
    """Members whose checks all come back invalid_grant (revoked for real, or a misbehaving SSO),
    until the guard holds every verdict."""
    db.session.add(Service(slug="comms", name="Comms", kind="forward_auth", auto_states="member"))
    db.session.commit()
    made = [key_factory(status="valid") for _ in range(count)]
    for key_id, _, _ in made:
        reconcile_user(db.session.get(Key, key_id).user_id)
    consumer(workers=2, periodic=False, extra_env=env)
    if revoke:
        for _, character, _ in made:
            sandbox.control("POST", "/grants/revoke", json={"character_id": character["character_id"]})
    else:
        sandbox.configure(spurious_invalid_grant_rate=1.0)
    for key_id, _, _ in made:
        queue_check(key_id)
    wait_for(
        lambda: count_rows(db, Key, Key.held_at.is_not(None)) == count,
        timeout=30,
        message="every verdict held",
    )
    return [key_id for key_id, _, _ in made]


def _press(page, name, expected_question):
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_test_id("guard-card").get_by_role("button", name=name).click()
    wait_for(lambda: dialogs, timeout=10, message="the confirmation")
    assert expected_question in dialogs[0]


def test_an_admin_applies_real_revocations_the_guard_held(
    page, db, sandbox, key_factory, consumer, make_user, guarded, redis_client
):
    _storm(db, sandbox, key_factory, consumer, guarded, revoke=True)
    assert count_rows(db, Grant, Grant.status == "active") == 8  # nobody lost anything yet
    make_user(role="admin", username="boss", password=PASSWORD)
    sign_in(page, "boss", PASSWORD, "/admin/")
    banner = page.get_by_test_id("guard-banner")
    assert "Access removals held." in banner.inner_text() and "keys turning invalid" in banner.inner_text()
    assert page.get_by_test_id("guard-held-keys").inner_text() == "8"
    ARTIFACTS.mkdir(exist_ok=True)
    assert page.get_by_test_id("health-badge").inner_text().startswith("Access removals are held")
    page.screenshot(path=str(ARTIFACTS / "guard-dashboard.png"), full_page=True)
    page.goto("/admin/users")
    assert page.get_by_test_id("guard-banner").is_visible()  # on every admin page

    page.goto("/admin/queue")
    _press(page, "Apply", "Apply 8 held removals? 8 keys turn invalid")
    page.get_by_text("Applied: 8 keys are invalid").wait_for()
    wait_for(
        lambda: count_rows(db, Grant, Grant.status == "revoked") == 8, timeout=30, message="the removals"
    )
    assert (
        count_rows(db, Key, Key.status == "invalid") == 8
        and count_rows(db, Key, Key.held_at.is_not(None)) == 0
    )
    page.goto("/admin/")
    assert page.get_by_test_id("guard-banner").count() == 0


def test_an_admin_discards_what_a_misbehaving_sso_caused(
    page, db, sandbox, key_factory, consumer, make_user, guarded, redis_client
):
    _storm(db, sandbox, key_factory, consumer, guarded)
    sandbox.configure(spurious_invalid_grant_rate=0.0)
    make_user(role="admin", username="boss", password=PASSWORD)
    sign_in(page, "boss", PASSWORD, "/admin/guard")
    assert page.get_by_test_id("held-keys").locator("li").count() == 8
    assert "held: EVE refused the refresh token" in page.get_by_test_id("held-keys").inner_text()
    page.screenshot(path=str(ARTIFACTS / "guard-page.png"), full_page=True)
    _press(page, "Discard", "Discard 8 held removals as spurious?")
    page.get_by_text("Discarded: 8 held verdicts").wait_for()
    assert page.get_by_test_id("guard-clear").inner_text() == (
        "The guard is off: nothing is held, and removals go through as usual."
    )
    assert (
        count_rows(db, Key, Key.status == "valid") == 8
        and count_rows(db, Grant, Grant.status == "active") == 8
    )


def test_a_directorship_taken_by_a_verdict_the_guard_takes_back_comes_back_with_it(
    page, second_page, db, sandbox, key_factory, consumer, make_user, guarded, redis_client
):
    """A director's key is checked while SSO answers invalid_grant to live grants: the verdict goes
    through (the guard has seen too little) and the directorship ends. Other keys follow, the guard
    opens and takes the verdict back: the directorship comes back with it, and stays after Discard."""
    from app.accounts.models import User
    from app.corps.directors import reconcile_directorships
    from app.corps.models import Character

    key_id, made, _ = key_factory(status="valid")
    director_id = db.session.get(Key, key_id).user_id
    sandbox.control("POST", f"/characters/{made['character_id']}/roles", json={"roles": ["Director"]})
    db.session.get(Character, made["character_id"]).is_director = True
    user = db.session.get(User, director_id)
    user.username = "dirpilot"
    user.set_password(PASSWORD)
    db.session.commit()
    reconcile_directorships(director_id, "set up")
    corporation = made["corporation_id"]
    sign_in(page, "dirpilot", PASSWORD, f"/director/corporations/{corporation}")
    assert page.get_by_role("heading", name="Validation Corp").count() >= 1

    others = [key_factory(status="valid")[0] for _ in range(5)]
    consumer(workers=2, periodic=False, extra_env=guarded)
    sandbox.configure(spurious_invalid_grant_rate=1.0)
    queue_check(key_id)

    def directs():
        db.session.expire_all()
        return db.session.get(User, director_id).role == "director"

    wait_for(lambda: not directs(), timeout=30, message="the directorship to end with the verdict")
    assert page.goto(f"/director/corporations/{corporation}").status == 403

    for other in others:
        queue_check(other)
    wait_for(directs, timeout=30, message="the directorship to come back with the verdict taken back")
    db.session.expire_all()
    key = db.session.get(Key, key_id)
    assert key.status == "valid" and key.held_at is not None
    assert page.goto(f"/director/corporations/{corporation}").status == 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "guard-director-restored.png"), full_page=True)

    sandbox.configure(spurious_invalid_grant_rate=0.0)
    make_user(role="admin", username="boss", password=PASSWORD)
    sign_in(second_page, "boss", PASSWORD, "/admin/guard")
    _press(second_page, "Discard", "Discard")
    second_page.get_by_text("Discarded:").wait_for()
    assert directs() and page.goto(f"/director/corporations/{corporation}").status == 200
