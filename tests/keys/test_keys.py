"""Members' keys: add through SSO, refuse another user's character, remove (revoked at SSO), pick a main."""

import requests
from sqlalchemy import inspect

from app.corps.models import Character
from app.keys.models import Key
from tests.accounts.test_sso_login import _csrf, approve, start
from tests.support import TEST_CLIENT_ID, TEST_CLIENT_SECRET


def login_new(client, sandbox, name):
    client.get(approve(sandbox, start(client), new_name=name))


def add_character(client, sandbox, name=None, character_id=None):
    return client.get(approve(sandbox, start(client, "/keys/add"), new_name=name, character_id=character_id))


def test_a_member_adds_a_second_character(client, sandbox, db):
    login_new(client, sandbox, "First Main")
    response = add_character(client, sandbox, name="Second Alt")
    assert response.headers["Location"] == "/keys"
    page = client.get("/keys").get_data(as_text=True)
    assert "Second Alt was added" in page
    assert page.count('data-testid="key-row"') == 2
    main = db.session.scalar(db.select(Character).filter_by(name="First Main"))
    alt = db.session.scalar(db.select(Character).filter_by(name="Second Alt"))
    assert alt.user_id == main.user_id
    assert main.user.main_character_id == main.id


def test_a_character_of_another_user_is_refused(client, app, sandbox, db):
    login_new(client, sandbox, "Owned Pilot")
    owned = db.session.scalar(db.select(Character).filter_by(name="Owned Pilot"))
    other = app.test_client()
    login_new(other, sandbox, "Other Member")
    response = add_character(other, sandbox, character_id=owned.id)
    assert response.headers["Location"] == "/keys"
    assert "already registered by another Bastion user" in other.get("/keys").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Character, owned.id).user_id == owned.user_id
    grants = sandbox.control("GET", "/grants")["grants"]
    spare = [g for g in grants if g["character_id"] == owned.id]
    assert len(spare) == 2 and sum(g["revoked"] for g in spare) == 1  # the refused grant was revoked


def test_removing_a_key_revokes_it_at_sso(client, sandbox, db):
    login_new(client, sandbox, "Keeper Main")
    add_character(client, sandbox, name="Removed Alt")
    key = db.session.scalar(db.select(Key).join(Character).filter(Character.name == "Removed Alt"))
    response = client.post(f"/keys/{key.id}/remove", data={"csrf_token": _csrf(client)})
    assert response.headers["Location"] == "/keys"
    assert "removed and revoked at EVE" in client.get("/keys").get_data(as_text=True)
    assert db.session.scalar(db.select(Key).filter_by(id=key.id)) is None
    grants = [g for g in sandbox.control("GET", "/grants")["grants"] if g["character_id"] == key.character_id]
    assert grants and all(g["revoked"] for g in grants)


def test_the_main_cannot_be_removed_while_other_keys_exist(client, sandbox, db):
    login_new(client, sandbox, "Stuck Main")
    add_character(client, sandbox, name="Spare Alt")
    main_key = db.session.scalar(db.select(Key).join(Character).filter(Character.name == "Stuck Main"))
    client.post(f"/keys/{main_key.id}/remove", data={"csrf_token": _csrf(client)})
    assert "Make another character your main first" in client.get("/keys").get_data(as_text=True)
    assert db.session.get(Key, main_key.id) is not None


def test_removing_needs_a_csrf_token_and_someone_elses_key_is_not_found(client, app, sandbox, db):
    login_new(client, sandbox, "Victim Main")
    victim_key = db.session.scalar(db.select(Key).join(Character).filter(Character.name == "Victim Main"))
    other = app.test_client()
    login_new(other, sandbox, "Attacker Main")
    assert other.post(f"/keys/{victim_key.id}/remove").status_code == 400
    assert other.post(f"/keys/{victim_key.id}/remove", data={"csrf_token": _csrf(other)}).status_code == 404
    assert db.session.get(Key, victim_key.id) is not None


def test_picking_a_main(client, sandbox, db):
    login_new(client, sandbox, "Old Main")
    add_character(client, sandbox, name="New Main")
    new = db.session.scalar(db.select(Character).filter_by(name="New Main"))
    # Not checked yet: a character whose key is not valid proves nothing, so it cannot be the main.
    refused = client.post(
        f"/characters/{new.id}/main", data={"csrf_token": _csrf(client)}, follow_redirects=True
    )
    assert "has no valid key, so it cannot be your main" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Character, new.id).user.main_character_id != new.id
    new.key.status = "valid"  # as its first check would find
    db.session.commit()
    response = client.post(f"/characters/{new.id}/main", data={"csrf_token": _csrf(client)})
    assert response.headers["Location"] == "/keys"
    db.session.expire_all()
    assert db.session.get(Character, new.id).user.main_character_id == new.id
    assert client.post("/characters/2117000001/main", data={"csrf_token": _csrf(client)}).status_code == 404


def test_the_database_never_holds_a_refresh_token_in_clear(client, sandbox, db):
    login_new(client, sandbox, "Secret Keeper")
    add_character(client, sandbox, name="Secret Alt")
    tokens = []
    for key in db.session.scalars(db.select(Key)):
        from app import crypto

        tokens.append(crypto.decrypt(key.refresh_token_encrypted))
    assert len(tokens) == 2
    # Each stored token is a live grant at the sandbox (so the decrypted values are the real tokens).
    for token in tokens:
        answer = requests.post(
            f"{sandbox.url}/v2/oauth/token",
            auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
            data={"grant_type": "refresh_token", "refresh_token": token},
            timeout=10,
        )
        assert answer.status_code == 200
    dump = []
    with db.engine.connect() as conn:
        for table in inspect(db.engine).get_table_names():
            for row in conn.exec_driver_sql(f'SELECT * FROM "{table}"'):
                dump.append(repr(tuple(row)))
    text = "\n".join(dump)
    assert "Secret Keeper" in text  # the dump holds the data
    for token in tokens:
        assert token not in text
        assert token.split("-", 1)[1] not in text
