"""Mumble against Debian's real Mumble server: Bastion's authenticator process answers its logins
from grants, and a real Mumble client logs in (in its groups), is refused with a wrong password,
and after a revoke is disconnected and refused."""

import pytest

from app.access.grants import grant_manually, revoke_manually
from app.accounts.models import User
from app.keys.models import Key
from app.services.models import MumbleAccount, Service
from app.services.mumble import ice
from app.services.mumble.accounts import ID_OFFSET, account_of, new_password
from app.services.sync import sync_grant
from bench.servers import wait_for
from tests.fixtures.mumble import mumble_client
from tests.support import csrf_token_from, grant_of

PASSWORD = "correct horse battery"
CONNECTED = 2  # pymumble's PYMUMBLE_CONN_STATE_CONNECTED


@pytest.fixture()
def voice(db, mumble_server):
    """A Mumble service on the test's server, given by hand."""
    service = Service(slug="voice", name="Fleet comms", kind="mumble", directors_may_grant=True)
    service.settings = mumble_server.settings
    db.session.add(service)
    db.session.commit()
    return service


def _fleet_channel(settings):
    """A channel only the group "fleet" may enter; its id."""
    _, murmur = ice.modules()
    with ice.open_server(settings) as server:
        channel = server.addChannel("Fleet", 0)
        deny_all = murmur.ACL(True, True, False, -1, "all", 0, murmur.PermissionEnter)
        allow_fleet = murmur.ACL(True, True, False, -1, "fleet", murmur.PermissionEnter, 0)
        server.setACL(channel, [deny_all, allow_fleet], [], True)
    return channel


def _online(settings):
    with ice.open_server(settings) as server:
        return {u.userid: u for u in server.getUsers().values()}


def test_a_granted_member_logs_in_in_their_groups_and_a_revoke_disconnects_them(
    client, db, auth, key_factory, make_user, voice, mumble_server, mumble_authenticator, redis_client
):
    key_id, _, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    member.username = "pilot"
    member.set_password(PASSWORD)
    admin = db.session.get(User, make_user(role="admin", username="boss").id)
    grant, _ = grant_manually(member, voice, admin, reason="fleet commander")
    assert sync_grant(grant.id).action == "done"
    account = db.session.scalars(db.select(MumbleAccount)).one()
    assert account.username == "[VAL] Val Pilot" and account.password_hash is None

    auth.login("pilot", PASSWORD)
    token = csrf_token_from(client.get("/services").get_data(as_text=True))
    page = client.post("/services/voice/mumble-password", data={"csrf_token": token}).get_data(as_text=True)
    password = page.split('data-testid="mumble-secret">')[1].split("<")[0]
    db.session.expire_all()
    assert password not in db.session.get(MumbleAccount, account.id).password_hash  # kept hashed

    fleet = _fleet_channel(voice.settings)
    authenticator = mumble_authenticator()
    authenticator.wait_attached("voice")

    wrong = mumble_client(voice.settings["address"], "[VAL] Val Pilot", "not-the-password")
    assert wrong.connected != CONNECTED and "password" in (wrong.rejected or "").lower()

    member_client = mumble_client(voice.settings["address"], "[VAL] Val Pilot", password)
    try:
        assert member_client.connected == CONNECTED
        online = _online(voice.settings)[ID_OFFSET + account.id]
        assert online.name == "[VAL] Val Pilot"
        with ice.open_server(voice.settings) as server:
            assert server.hasPermission(online.session, fleet, 0x04)  # the "fleet" group lets them in

        revoke_manually(grant_of(db, member.id, voice.id), admin, reason="left the fleet")
        assert sync_grant(grant.id).action == "done"
        wait_for(lambda: member_client.removed, timeout=10, message="the member to be disconnected")
        assert member_client.removed == "Your access to Fleet comms has ended."
        assert ID_OFFSET + account.id not in _online(voice.settings)
    finally:
        member_client.stop()

    again = mumble_client(voice.settings["address"], "[VAL] Val Pilot", password)
    assert again.connected != CONNECTED and again.rejected
    assert "login of '[VAL] Val Pilot' refused: no access to Fleet comms" in authenticator.log()


def test_the_check_names_a_wrong_secret_and_a_new_template_renames_the_account(
    db, runner, key_factory, make_user, voice, mumble_server, redis_client
):
    from app.services.connectors import ConnectorError, connector_for

    assert connector_for(voice).check() is None
    assert "voice: reachable, virtual server running" in runner.invoke(args=["mumble", "check"]).output
    voice.settings = {**voice.settings, "ice_secret": "not-the-secret"}
    db.session.commit()
    with pytest.raises(ConnectorError, match="refused the Ice secret"):
        connector_for(voice).check()
    checked = runner.invoke(args=["mumble", "check"])
    assert checked.exit_code == 1 and "voice: the Mumble server refused the Ice secret" in checked.output

    key_id, _, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    admin = db.session.get(User, make_user(role="admin", username="boss").id)
    grant, _ = grant_manually(member, voice, admin)
    assert sync_grant(grant.id).action == "done"
    voice.name_template = "{name} ({ticker})"
    db.session.commit()
    assert sync_grant(grant.id).action == "done"
    assert db.session.scalars(db.select(MumbleAccount)).one().username == "Val Pilot (VAL)"


def test_a_restarted_mumble_server_is_served_again(
    client, db, auth, key_factory, make_user, voice, mumble_server, mumble_authenticator, redis_client
):
    key_id, _, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    admin = db.session.get(User, make_user(role="admin", username="boss").id)
    grant, _ = grant_manually(member, voice, admin)
    assert sync_grant(grant.id).action == "done"
    password = new_password(account_of(voice.id, member.id))
    db.session.commit()
    authenticator = mumble_authenticator()
    authenticator.wait_attached("voice")

    mumble_server.stop()
    mumble_server.start()  # same ports and database: what a restart or an upgrade does
    wait_for(  # the restarted server's own log (started afresh) says it has an authenticator again
        lambda: "Set Ice Authenticator" in mumble_server.log(),
        timeout=15,
        message=lambda: f"the authenticator to register again: {authenticator.log()}",
    )
    again = mumble_client(voice.settings["address"], "[VAL] Val Pilot", password)
    try:
        assert again.connected == CONNECTED, again.rejected
    finally:
        again.stop()


def test_murmurs_superuser_is_never_a_members_name_and_names_fold_alike_everywhere(db, make_user):
    """A template that comes out as SuperUser (any case) gives the member "SuperUser #<id>", login
    and shown name alike, so Murmur's own SuperUser is neither answered for nor replaced; names
    outside ASCII log in whatever their case, on SQLite as on PostgreSQL; a name Bastion did not
    make is left to Murmur (its own registered users)."""
    from app.services.mumble.accounts import REFUSED, UNKNOWN, decide, ensure_account

    service = Service(slug="voice", name="Voice", kind="mumble", directors_may_grant=True)
    db.session.add(service)
    db.session.flush()
    first, second, third = (make_user(username=f"m{n}", state="member") for n in range(3))
    admin = db.session.get(User, make_user(role="admin", username="boss").id)
    for user in (first, second, third):
        grant_manually(db.session.get(User, user.id), service, admin)
    sneaky = ensure_account(service, first.id, "superUSER")
    twin = ensure_account(service, second.id, "Ærin Vex")
    clash = ensure_account(service, third.id, "ærin vex")
    passwords = {account.user_id: new_password(account) for account in (sneaky, twin, clash)}
    db.session.commit()
    assert sneaky.username == sneaky.display_name == f"superUSER #{first.id}"
    assert clash.username == clash.display_name == f"ærin vex #{third.id}"

    assert decide(service.id, "SuperUser", "anything").user_id == UNKNOWN  # Murmur's own decides
    assert decide(service.id, "superuser", passwords[first.id]).user_id == UNKNOWN
    mine = decide(service.id, f"SUPERUSER #{first.id}", passwords[first.id])
    assert mine.user_id == ID_OFFSET + sneaky.id and mine.name == f"superUSER #{first.id}"
    folded = decide(service.id, "ÆRIN VEX", passwords[second.id])
    assert folded.user_id == ID_OFFSET + twin.id and folded.name == "Ærin Vex"
    assert decide(service.id, "ærin vex", "wrong").user_id == REFUSED
    assert decide(service.id, "Someone Murmur registered", "pw").user_id == UNKNOWN


def _member_named(db, make_user, name, character_id):
    """A member whose main character has this name (no corporation)."""
    from app.corps.models import Character

    user = make_user(username=f"u{character_id}", state="member")
    db.session.add(Character(id=character_id, name=name, user_id=user.id))
    db.session.flush()
    user = db.session.get(User, user.id)
    user.main_character_id = character_id
    db.session.commit()
    return user


def test_murmurs_own_users_keep_their_names_and_a_restart_finds_its_superuser(
    db, make_user, voice, mumble_server, mumble_authenticator, redis_client
):
    """A member whose template name is SuperUser, or the name of a user Murmur registered itself,
    gets another name; those names stay Murmur's to decide (its own password works, Bastion's is
    never asked), Murmur's SuperUser row is untouched, and Murmur starts again afterwards."""
    _, murmur = ice.modules()
    with ice.open_server(voice.settings) as server:
        own_id = server.registerUser(
            {murmur.UserInfo.UserName: "Registered_Pilot", murmur.UserInfo.UserPassword: "murmur-own-pass"}
        )
    voice.name_template = "{name}"
    db.session.commit()
    sneaky = _member_named(db, make_user, "SuperUser", 2190001)
    twin = _member_named(db, make_user, "Registered_Pilot", 2190002)
    authenticator = mumble_authenticator()
    authenticator.wait_attached("voice")

    def learnt():
        db.session.expire_all()
        return "Registered_Pilot" in db.session.get(Service, voice.id).settings.get("murmur_names", [])

    wait_for(learnt, timeout=15, message=lambda: f"Murmur's users to be learnt: {authenticator.log()}")
    admin = db.session.get(User, make_user(role="admin", username="boss").id)
    passwords = {}
    for user in (sneaky, twin):
        grant, _ = grant_manually(user, db.session.get(Service, voice.id), admin)
        assert sync_grant(grant.id).action == "done"
        passwords[user.id] = new_password(account_of(voice.id, user.id))
    db.session.commit()
    assert account_of(voice.id, sneaky.id).username == f"SuperUser #{sneaky.id}"
    assert account_of(voice.id, twin.id).username == f"Registered_Pilot #{twin.id}"

    member = mumble_client(voice.settings["address"], f"SuperUser #{sneaky.id}", passwords[sneaky.id])
    try:
        assert member.connected == CONNECTED, member.rejected
        assert _online(voice.settings)[ID_OFFSET + account_of(voice.id, sneaky.id).id].name == (
            f"SuperUser #{sneaky.id}"
        )
    finally:
        member.stop()
    own = mumble_client(voice.settings["address"], "Registered_Pilot", "murmur-own-pass")
    try:
        assert own.connected == CONNECTED, own.rejected
        assert own_id in _online(voice.settings)  # Murmur's own user, as Murmur registered it
    finally:
        own.stop()
    with ice.open_server(voice.settings) as server:
        assert server.getRegistration(0)[murmur.UserInfo.UserName] == "SuperUser"

    mumble_server.stop()
    mumble_server.start()  # Murmur's own database must still load (no name twice)
    wait_for(lambda: "Set Ice Authenticator" in mumble_server.log(), timeout=15, message=mumble_server.log)
    again = mumble_client(voice.settings["address"], f"SuperUser #{sneaky.id}", passwords[sneaky.id])
    try:
        assert again.connected == CONNECTED, again.rejected
    finally:
        again.stop()
