"""Moving from Alliance Auth, against a real Alliance Auth database: Alliance Auth 5.5 from PyPI,
migrated by its own migrations, filled with its own models, its tokens issued by the sandbox for the
same EVE application. ``flask import allianceauth`` runs as a process; the keys are checked by a
real consumer; the results are read from Bastion's pages and the sandbox's counters."""

import json
import os
import subprocess

from sqlalchemy import func, select, text

from app.access.models import Grant
from app.accounts.models import User
from app.audit import AuditEntry
from app.corps.models import Alliance, Character, Corporation
from app.imports.allianceauth import engine_for
from app.keys.models import Key
from app.services.models import DiscordLink, Service
from bench.servers import ROOT, venv_bin, wait_for
from tasks.keys import sweep
from tests.accounts.test_sso_login import approve, start
from tests.support import SCOPE, TEST_CLIENT_ID

FAST = {"AFFILIATION_MAX_WAIT": "0.5", "RETRY_BASE": "0.2"}


def flask_import(database_url, *args):
    """``flask import allianceauth ...`` as its own process: (exit code, output)."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": database_url,
        "EVE_CLIENT_ID": TEST_CLIENT_ID,
        "SECRET_KEY": "test-secret-key",
    }  # the consumer's, so that it reads the keys written
    done = subprocess.run(
        [venv_bin("flask"), "import", "allianceauth", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def _universe(sandbox):
    """Alliance X with corporation A; corporation B (blue); corporation C (nobody's); pilots with
    grants for Bastion's EVE application, as Alliance Auth would hold them."""
    alliance = sandbox.control("POST", "/alliances", json={"name": "Import Alliance", "ticker": "IMPA"})
    corps = {
        label: sandbox.control(
            "POST",
            "/corporations",
            json={
                "name": f"Corp {label}",
                "ticker": f"C{label}",
                **({"alliance_id": alliance["alliance_id"]} if label == "A" else {}),
            },
        )
        for label in "ABC"
    }

    def pilot(name, corp, scopes):
        made = sandbox.control(
            "POST", "/characters", json={"name": name, "corporation_id": corps[corp]["corporation_id"]}
        )
        grant = sandbox.control(
            "POST",
            "/grants",
            json={"character_id": made["character_id"], "client_id": TEST_CLIENT_ID, "scopes": scopes},
        )
        return {
            "id": made["character_id"],
            "name": name,
            "owner_hash": made["owner_hash"],
            "corporation_id": corps[corp]["corporation_id"],
            "tokens": [grant["refresh_token"]],
            "scopes": scopes,
        }

    return alliance, corps, pilot


def _spec(alliance, corps, pilot):
    alice = pilot("Alice Import", "A", [SCOPE, "publicData"])
    alice_alt = pilot("Alice Alt", "C", ["publicData"])
    bob = pilot("Bob Import", "B", ["publicData"])  # an Alliance Auth login asks publicData alone
    bob_alt = pilot("Bob Alt", "B", ["publicData"])
    carol = pilot("Carol Import", "C", ["publicData"])
    dave = pilot("Dave Import", "A", ["publicData"])
    return {
        "alliances": [{"id": alliance["alliance_id"], "name": "Import Alliance", "ticker": "IMPA"}],
        "corporations": [
            {
                "id": c["corporation_id"],
                "name": c["name"],
                "ticker": c["ticker"],
                "alliance_id": c["alliance_id"],
            }
            for c in corps.values()
        ],
        "states": {
            "Member": {"alliances": [alliance["alliance_id"]]},
            "Blue": {"corporations": [corps["B"]["corporation_id"]]},
        },
        "users": [
            {
                "username": "alice",
                "characters": [{**alice, "main": True}, alice_alt],
                "discord": {"uid": 424242, "username": "alice_discord"},
                "groups": ["Fleet Commanders"],
            },
            {
                "username": "bob",
                "characters": [{**bob, "main": True}, bob_alt],
                "groups": ["Fleet Commanders", "Miners"],
            },
            {"username": "carol", "characters": [{**carol, "main": True}]},
            {"username": "dave", "characters": [{**dave, "main": True}]},
            {"username": "aa-admin", "superuser": True},
        ],
    }, {"alice": alice, "alice_alt": alice_alt, "bob": bob, "bob_alt": bob_alt, "carol": carol, "dave": dave}


def test_an_alliance_auth_install_moves_over_without_anyone_logging_in(
    allianceauth, sandbox, db, database_url, consumer, tmp_path, client, auth, login_as
):
    alliance, corps, pilot = _universe(sandbox)
    spec, pilots = _spec(alliance, corps, pilot)
    aa_states = allianceauth.seed(spec, tmp_path)["states"]
    assert aa_states == {
        "alice": "Member",
        "bob": "Blue",
        "carol": "Guest",
        "dave": "Member",
        "aa-admin": "Guest",
    }
    db.session.add(Service(slug="fc-wiki", name="FC wiki", kind="forward_auth", auto_states=""))
    db.session.commit()
    mapping = tmp_path / "groups.json"
    mapping.write_text(json.dumps({"Fleet Commanders": "fc-wiki"}))

    # A different EVE application is refused, and nothing is written.
    code, out = flask_import(database_url, allianceauth.url, "--client-id", "someone-else", "--apply")
    assert code != 0 and "not Bastion's" in out and "Nothing was imported" in out, out
    assert db.session.scalar(select(func.count()).select_from(User)) == 0

    # The dry run lists what would happen and the groups, and writes nothing.
    code, out = flask_import(
        database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--groups", str(mapping)
    )
    assert code == 0, out
    assert "dry run" in out and "Fleet Commanders" in out and "Miners" in out
    assert "no main character" in out  # the local admin
    assert db.session.scalar(select(func.count()).select_from(User)) == 0

    code, out = flask_import(
        database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--groups", str(mapping), "--apply"
    )
    assert code == 0, out
    assert "Imported 4 users" in out, out

    # Everyone stands where Alliance Auth had them from the start, before any check here.
    assert {u.main_character.name: u.state for u in db.session.scalars(select(User))} == {
        "Alice Import": "member",
        "Bob Import": "blue",
        "Carol Import": "guest",
        "Dave Import": "member",
    }

    # Alliance Auth keeps running and refreshes Dave's token: the copy here is now stale.
    allianceauth.refresh(pilots["dave"]["id"])

    users = {u.main_character.name: u for u in db.session.scalars(select(User))}
    assert set(users) == {"Alice Import", "Bob Import", "Carol Import", "Dave Import"}
    alice = users["Alice Import"]
    assert {c.name for c in alice.characters} == {"Alice Import", "Alice Alt"}
    assert db.session.scalar(select(DiscordLink.discord_user_id).filter_by(user_id=alice.id)) == "424242"
    assert db.session.get(Alliance, alliance["alliance_id"]).tracked_as == "member"
    assert db.session.get(Corporation, corps["B"]["corporation_id"]).tracked_as == "blue"
    granted = {g.user_id for g in db.session.scalars(select(Grant))}
    assert granted == {alice.id, users["Bob Import"].id}
    audit = db.session.scalars(select(AuditEntry).filter_by(action="user.imported")).all()
    assert len(audit) == 4 and all("from Alliance Auth" in entry.detail for entry in audit)

    # One sweep checks every imported key, and nobody logs in.
    refreshes_before = sandbox.stats()["refreshes_ok"]
    worker = consumer(workers=2, periodic=False, extra_env=FAST)
    sweep()  # the periodic sweep's task, queued now

    def settled():
        db.session.expire_all()
        return all(k.status != "pending" for k in db.session.scalars(select(Key)))

    wait_for(settled, timeout=60, message=lambda: f"the imported keys to be checked: {worker.log()[-3000:]}")
    keys = {k.character.name: k for k in db.session.scalars(select(Key))}
    assert {name: k.status for name, k in keys.items() if name != "Dave Import"} == {
        "Alice Import": "valid",
        "Alice Alt": "valid",
        "Bob Import": "valid",
        "Bob Alt": "valid",
        "Carol Import": "valid",
    }
    dave = keys["Dave Import"]
    assert dave.needs_reauth and dave.status == "error" and "Alliance Auth" in dave.reason
    assert sandbox.stats()["refreshes_ok"] - refreshes_before == 5

    def states():
        db.session.expire_all()
        return {u.main_character.name: u.state for u in db.session.scalars(select(User))}

    wait_for(lambda: states()["Bob Import"] == "blue", timeout=30, message="states to be reconciled")
    assert states() == {
        "Alice Import": "member",
        "Bob Import": "blue",
        "Carol Import": "guest",
        "Dave Import": "member",
    }  # Dave keeps access while asked to re-authorise

    # A second run changes nothing and says so.
    code, out = flask_import(
        database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--groups", str(mapping), "--apply"
    )
    assert code == 0 and "Nothing to change" in out, out
    assert db.session.scalar(select(func.count()).select_from(User)) == 4

    # What the admin sees: the progress, and why Dave is asked to re-authorise.
    login_as("admin")
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "Moved from Alliance Auth" in dashboard and "6 of 6" in dashboard
    assert 'data-testid="import-valid">5<' in dashboard and 'data-testid="import-reauth">1 ' in dashboard
    page = client.get(f"/admin/users/{users['Dave Import'].id}").get_data(as_text=True)
    assert "EVE no longer accepts the token imported from Alliance Auth" in page
    client.post("/logout", data={"csrf_token": auth.csrf("/admin/")})

    # Bob logs in with EVE (his alt's login renews that key alone) and is the same user as before;
    # his main's key, an Alliance Auth login's publicData alone, offers the missing permission.
    client.get(approve(sandbox, start(client), character_id=pilots["bob_alt"]["id"]))
    assert db.session.scalar(select(func.count()).select_from(User).where(User.username.is_(None))) == 4
    page = client.get("/keys").get_data(as_text=True)
    assert "Bob Import" in page and "Add the missing permission" in page
    assert page.count('data-testid="add-permission"') == 1


def test_what_cannot_be_imported_is_named(allianceauth, db, database_url, tmp_path):
    code, out = flask_import(database_url, allianceauth.url, "--apply")
    assert code != 0 and "--client-id" in out and "Nothing was imported" in out, out
    bad = tmp_path / "groups.json"
    bad.write_text("[1, 2]")
    code, out = flask_import(
        database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--groups", str(bad)
    )
    assert code != 0 and "JSON object of group name to service slug" in out, out
    bad.write_text(json.dumps({"Fleet Commanders": "no-such-service"}))
    code, out = flask_import(
        database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--groups", str(bad)
    )
    assert code != 0 and "names no service here: no-such-service" in out, out
    code, out = flask_import(
        database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--state", "Allies"
    )
    assert code != 0 and "NAME=member" in out, out
    settings = tmp_path / "local.py"
    settings.write_text("ESI_SSO_CLIENT_ID = 'elsewhere'\n")
    code, out = flask_import(database_url, allianceauth.url, "--aa-settings", str(settings), "--apply")
    assert code != 0 and "(elsewhere) is not Bastion's" in out, out
    code, out = flask_import(database_url, str(tmp_path / "missing.sqlite3"))
    assert code != 0 and "neither a database URL nor a SQLite file" in out, out
    code, out = flask_import(database_url, "mysql://aa:secret-password@127.0.0.1:9/alliance_auth")
    assert code != 0 and "cannot read the Alliance Auth database" in out and "secret-password" not in out, out
    engine = engine_for(allianceauth.url)  # the importer's own driver choice (psycopg, PyMySQL)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE esi_token_scopes"))
    engine.dispose()
    code, out = flask_import(database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--apply")
    assert code != 0 and "has no table esi_token_scopes" in out and "authentication migration 0026" in out, (
        out
    )
    assert db.session.scalar(select(func.count()).select_from(Character)) == 0


def test_conflicts_are_named_and_what_is_here_already_wins(allianceauth, sandbox, db, database_url, tmp_path):
    from app import crypto

    alliance, corps, pilot = _universe(sandbox)
    spec, pilots = _spec(alliance, corps, pilot)
    allianceauth.seed(spec, tmp_path)
    # Bob registered here himself (his key is newer than Alliance Auth's); Alice's alt is on
    # someone else here; Dave's character was sold since Alliance Auth saw it.
    bob = User(role="member", state="guest")
    other = User(role="member", state="guest")
    db.session.add_all([bob, other])
    db.session.flush()
    for user, who, owner in (
        (bob, "bob", None),
        (other, "alice_alt", None),
        (other, "dave", "sold-elsewhere"),
    ):
        made = pilots[who]
        db.session.add(
            Character(
                id=made["id"], name=made["name"], user_id=user.id, owner_hash=owner or made["owner_hash"]
            )
        )
    db.session.flush()
    bob.main_character_id = pilots["bob"]["id"]
    db.session.add(
        Key(
            user_id=bob.id,
            character_id=pilots["bob"]["id"],
            owner_hash=pilots["bob"]["owner_hash"],
            scopes=SCOPE,
            refresh_token_encrypted=crypto.encrypt("bob-newer-token"),
            status="valid",
        )
    )
    db.session.commit()

    code, out = flask_import(database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--json")
    assert code == 0, out
    plan = json.loads(out[out.index("{") :])
    assert plan["counts"]["new_users"] == 2 and plan["counts"]["joined_users"] == 1  # Alice, Carol; Bob
    assert "Alice Alt: already on another user here; left there" in plan["conflicts"]
    assert any(line.startswith("Dave Import: the owner hash here differs") for line in plan["conflicts"])
    assert plan["skipped_keys"] == {"Bastion's key is newer": 1}

    code, out = flask_import(database_url, allianceauth.url, "--client-id", TEST_CLIENT_ID, "--apply")
    assert code == 0 and "Imported 3 users" in out, out  # Bob's alt joins him
    db.session.expire_all()
    assert db.session.get(Character, pilots["alice_alt"]["id"]).user_id == other.id
    key = db.session.scalar(select(Key).filter_by(character_id=pilots["bob"]["id"]))
    assert crypto.decrypt(key.refresh_token_encrypted) == "bob-newer-token" and key.source == "sso"
    assert db.session.get(Character, pilots["bob_alt"]["id"]).user_id == bob.id
    joined = db.session.scalar(select(AuditEntry).filter_by(action="user.imported", target_id=str(bob.id)))
    assert "joined to the user already here" in joined.detail and "1 character, 1 key" in joined.detail


def test_an_alliance_auth_on_mariadb_moves_over_through_pymysql(
    allianceauth_on_mariadb, sandbox, db, database_url, tmp_path
):
    """Most Alliance Auth installations run on MySQL or MariaDB: the import reads it through PyMySQL."""
    aa = allianceauth_on_mariadb
    alliance, corps, pilot = _universe(sandbox)
    spec, pilots = _spec(alliance, corps, pilot)
    assert aa.seed(spec, tmp_path)["states"]["bob"] == "Blue"
    code, out = flask_import(database_url, aa.url, "--client-id", TEST_CLIENT_ID)
    assert code == 0 and "(authentication migration 0026)" in out and "aa-password" not in out, out
    code, out = flask_import(database_url, aa.url, "--client-id", TEST_CLIENT_ID, "--apply")
    assert code == 0 and "Imported 4 users" in out, out
    keys = db.session.scalars(select(Key)).all()
    assert len(keys) == 6 and {k.source for k in keys} == {"allianceauth"}
    assert {u.main_character.name: u.state for u in db.session.scalars(select(User))}["Bob Import"] == "blue"
    assert db.session.scalar(select(DiscordLink.discord_user_id)) == "424242"
    code, out = flask_import(database_url, aa.url, "--client-id", TEST_CLIENT_ID, "--apply")
    assert code == 0 and "Nothing to change" in out, out
