"""After moving from Alliance Auth, in a real browser: an Alliance Auth database full of dead tokens
opens the incident guard during the first sweep, nobody loses their state, and the admin sees the
import's progress and the guard's card on the dashboard."""

from pathlib import Path

from sqlalchemy import select

from app.accounts.models import User
from app.keys.models import Key
from tasks.keys import sweep
from tests.imports.test_allianceauth import flask_import
from tests.support import TEST_CLIENT_ID, sign_in, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"
GUARD = {"GUARD_WINDOW": "300", "GUARD_RECHECK": "60", "GUARD_VERDICT_MIN": "3", "RETRY_BASE": "0.2"}


def test_an_import_of_dead_tokens_is_held_for_the_admin_and_strips_nobody(
    allianceauth, sandbox, db, database_url, consumer, tmp_path, page, make_user, app
):
    alliance = sandbox.control("POST", "/alliances", json={"name": "Moving Alliance", "ticker": "MOVE"})
    corp = sandbox.control(
        "POST",
        "/corporations",
        json={"name": "Moving Corp", "ticker": "MOVC", "alliance_id": alliance["alliance_id"]},
    )
    users = []
    for n in range(12):
        made = sandbox.control(
            "POST", "/characters", json={"name": f"Mover {n}", "corporation_id": corp["corporation_id"]}
        )
        grant = sandbox.control(
            "POST",
            "/grants",
            json={"character_id": made["character_id"], "client_id": TEST_CLIENT_ID, "scopes": []},
        )
        if n >= 2:  # long dead: revoked at EVE while Alliance Auth kept the token
            sandbox.control("POST", "/grants/revoke", json={"character_id": made["character_id"]})
        users.append(
            {
                "username": f"mover{n}",
                "characters": [
                    {
                        "id": made["character_id"],
                        "name": f"Mover {n}",
                        "owner_hash": made["owner_hash"],
                        "corporation_id": corp["corporation_id"],
                        "tokens": [grant["refresh_token"]],
                        "main": True,
                    }
                ],
            }
        )
    allianceauth.seed(
        {
            "alliances": [{"id": alliance["alliance_id"], "name": "Moving Alliance", "ticker": "MOVE"}],
            "corporations": [
                {
                    "id": corp["corporation_id"],
                    "name": "Moving Corp",
                    "ticker": "MOVC",
                    "alliance_id": alliance["alliance_id"],
                }
            ],
            "states": {"Member": {"alliances": [alliance["alliance_id"]]}},
            "users": users,
        },
        tmp_path,
    )
    code, out = flask_import(database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--apply")
    assert code == 0 and "Imported 12 users" in out, out

    before = {name: app.config[name] for name in ("GUARD_WINDOW", "GUARD_RECHECK", "GUARD_VERDICT_MIN")}
    app.config.update(GUARD_WINDOW=300.0, GUARD_RECHECK=60.0, GUARD_VERDICT_MIN=3)
    try:
        worker = consumer(workers=2, periodic=False, extra_env=GUARD)
        sweep()

        def checked():
            db.session.expire_all()
            keys = db.session.scalars(select(Key)).all()
            return all(k.status == "valid" or k.held_at is not None for k in keys)

        wait_for(checked, timeout=60, message=lambda: f"every key checked or held: {worker.log()[-2000:]}")
        db.session.expire_all()
        keys = db.session.scalars(select(Key)).all()
        assert sum(k.status == "valid" for k in keys) == 2
        assert sum(k.held_at is not None for k in keys) == 10 and not any(k.needs_reauth for k in keys)
        assert {u.state for u in db.session.scalars(select(User))} == {"member"}  # nobody stripped

        make_user(role="admin", username="moveadmin", password=PASSWORD)
        sign_in(page, "moveadmin", PASSWORD, "/admin/")
        card = page.get_by_test_id("import-progress")
        assert "12 users, 12 keys" in card.inner_text()
        assert page.get_by_test_id("import-valid").inner_text() == "2"
        assert "Held by the incident guard" in card.inner_text()
        assert page.get_by_test_id("guard-card").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "import-progress-guard.png"), full_page=True)
    finally:
        app.config.update(before)
