"""Discord: linking an account through OAuth2, the bot's roles and nickname, and its rate limits,
against the sandbox's Discord over real HTTP."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from app.access.models import Grant
from app.access.reconcile import reconcile_user
from app.clock import utcnow
from app.keys.models import Key
from app.services.models import DiscordLink, Service
from app.services.sync import grants_to_resync, sync_grant
from tasks.services import queue_follow_up
from tests.support import end_grace_periods


@pytest.fixture()
def guild(sandbox):
    return sandbox.control(
        "POST", "/discord/guilds", json={"name": "Alliance Comms", "roles": ["Member", "Pilot"]}
    )


def _discord_service(db, guild):
    service = Service(slug="comms", name="Comms", kind="discord", auto_states="member")
    service.settings = {"guild_id": guild["guild_id"], "role_ids": sorted(guild["roles"].values())}
    db.session.add(service)
    db.session.commit()
    return service


def _link(client, sandbox, username="valpilot"):
    """Go through the real OAuth2 dance: Bastion -> sandbox authorize page -> callback."""
    start = client.get("/services/discord/link")
    assert start.status_code == 302
    target = urlparse(start.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    answer = requests.post(
        f"{sandbox.url}/discord/oauth2/authorize",
        data={**params, "action": "create", "username": username},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    back = urlparse(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=True)


def _log_in_as_key_owner(client, db, key_factory, auth):
    key_id, made, _ = key_factory(status="valid")
    user = db.session.get(Key, key_id).user
    user.username = "valowner"
    user.set_password("correct horse battery")
    db.session.commit()
    assert auth.login("valowner").status_code == 302
    queue_follow_up(reconcile_user(user.id).follow_up)
    return user.id, made


def test_a_member_links_discord_and_the_bot_gives_roles_and_nickname_then_takes_them(
    client, db, sandbox, guild, key_factory, auth, redis_client
):
    service = _discord_service(db, guild)
    user_id, made = _log_in_as_key_owner(client, db, key_factory, auth)
    db.session.expire_all()
    grant = db.session.scalars(db.select(Grant).filter_by(user_id=user_id, service_id=service.id)).one()
    assert sync_grant(grant.id).action == "nothing"  # not linked yet: waiting, not failing
    db.session.expire_all()
    waiting = db.session.get(Grant, grant.id)
    assert waiting.sync_error.startswith("Waiting") and waiting.sync_wait == "member"
    assert grant.id not in grants_to_resync(now=utcnow() + timedelta(hours=1))  # the member acts first
    page = _link(client, sandbox).get_data(as_text=True)
    assert "Discord account valpilot is linked" in page
    assert "has not linked" not in page and "Action needed" not in page  # redrawn as linked at once
    link = db.session.scalars(db.select(DiscordLink).filter_by(user_id=user_id)).one()
    assert "valpilot" not in link.access_token_encrypted  # tokens are stored encrypted

    assert sync_grant(grant.id).action == "done"
    members = sandbox.control("GET", f"/discord/guilds/{guild['guild_id']}/members")
    assert members[link.discord_user_id] == {
        "nick": "[VAL] Val Pilot",
        "roles": sorted(guild["roles"].values()),
    }

    db.session.expire_all()
    db.session.get(
        Key, db.session.scalars(db.select(Key.id).filter_by(user_id=user_id)).one()
    ).status = "invalid"
    db.session.commit()
    queue_follow_up(reconcile_user(user_id).follow_up)
    assert db.session.get(Grant, grant.id).ends_at is not None  # the key's grace period first
    sync_grant(grant.id)
    members = sandbox.control("GET", f"/discord/guilds/{guild['guild_id']}/members")
    assert members[link.discord_user_id]["roles"] == sorted(guild["roles"].values())  # kept meanwhile
    assert end_grace_periods(db) == 1
    queue_follow_up(reconcile_user(user_id).follow_up)
    assert sync_grant(grant.id).action == "done"
    members = sandbox.control("GET", f"/discord/guilds/{guild['guild_id']}/members")
    assert members[link.discord_user_id]["roles"] == []
    assert sandbox.control("GET", "/discord/stats")["rate_limited"] == 0


def test_a_cancelled_or_forged_link_changes_nothing(client, db, sandbox, key_factory, auth):
    _log_in_as_key_owner(client, db, key_factory, auth)
    client.get("/services/discord/link")
    forged = client.get("/services/discord/callback?code=abc&state=not-the-one", follow_redirects=True)
    assert "out of date or not started here" in forged.get_data(as_text=True)
    client.get("/services/discord/link")
    assert db.session.scalar(db.select(db.func.count()).select_from(DiscordLink)) == 0


def test_discord_rate_limit_headers_hold_the_bot_back_before_a_429(app, db, sandbox, guild, redis_client):
    from app.jobs.setup import get_governor
    from app.services.connectors import discord

    user = sandbox.control("POST", "/discord/users", json={"username": "someone"})
    role = next(iter(guild["roles"].values()))
    path = f"/guilds/{guild['guild_id']}/members/{user['id']}/roles/{role}"
    for _ in range(5):  # the bucket holds five; the member is unknown, so each answer is a 404
        with pytest.raises(discord.ConnectorError):
            discord.request("PUT", path, bot=True)
    reason, wait = get_governor().gate(discord.UPSTREAM)
    assert reason == "backoff" and 0 < wait <= 5.0
    assert sandbox.control("GET", "/discord/stats")["rate_limited"] == 0


def test_the_sandbox_answers_429_as_discord_does(sandbox, guild):
    from tests.support import TEST_DISCORD_BOT_TOKEN

    user = sandbox.control("POST", "/discord/users", json={"username": "hammer"})
    role = next(iter(guild["roles"].values()))
    url = f"{sandbox.url}/discord/api/v10/guilds/{guild['guild_id']}/members/{user['id']}/roles/{role}"
    headers = {"Authorization": f"Bot {TEST_DISCORD_BOT_TOKEN}"}
    answers = [requests.put(url, headers=headers, timeout=5) for _ in range(6)]
    assert answers[0].headers["X-RateLimit-Limit"] == "5"
    assert answers[4].headers["X-RateLimit-Remaining"] == "0"
    limited = answers[5]
    assert limited.status_code == 429
    body = limited.json()
    assert set(body) == {"message", "retry_after", "global"} and body["global"] is False
    assert float(limited.headers["Retry-After"]) >= 1
    assert requests.put(url, headers={"Authorization": "Bot wrong"}, timeout=5).status_code == 401


def test_the_sandbox_sends_direct_messages_as_discord_does(sandbox, guild):
    from tests.support import TEST_DISCORD_BOT_TOKEN

    api = f"{sandbox.url}/discord/api/v10"
    headers = {"Authorization": f"Bot {TEST_DISCORD_BOT_TOKEN}"}
    member = sandbox.control("POST", "/discord/users", json={"username": "inside"})
    stranger = sandbox.control("POST", "/discord/users", json={"username": "outside"})
    world = sandbox.app.extensions["sandbox"]["discord"]
    with world.lock:
        world.guilds[guild["guild_id"]]["members"][member["id"]] = {"roles": set(), "nick": None}
    before = sandbox.control("GET", "/discord/stats")

    def open_dm(user_id):
        return requests.post(
            f"{api}/users/@me/channels", json={"recipient_id": user_id}, headers=headers, timeout=5
        )

    channel = open_dm(member["id"]).json()
    assert channel["type"] == 1 and channel["recipients"][0]["id"] == member["id"]
    assert open_dm(member["id"]).json()["id"] == channel["id"]  # the same channel again
    assert open_dm("123").status_code == 400
    url = f"{api}/channels/{channel['id']}/messages"
    sent = requests.post(url, json={"content": "hello"}, headers=headers, timeout=5)
    assert sent.status_code == 200 and sent.json()["content"] == "hello"
    assert sent.headers["X-RateLimit-Bucket"] == f"messages-{channel['id']}"
    assert requests.post(url, json={"content": ""}, headers=headers, timeout=5).status_code == 400
    assert (
        requests.post(url, json={"content": "x"}, headers={"Authorization": "Bot no"}, timeout=5).status_code
        == 401
    )
    answers = [requests.post(url, json={"content": "again"}, headers=headers, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]  # five a bucket, one used by the 400

    closed = requests.post(
        f"{api}/channels/{open_dm(stranger['id']).json()['id']}/messages",
        json={"content": "hi"},
        headers=headers,
        timeout=5,
    )
    assert closed.status_code == 403 and closed.json()["code"] == 50007  # shares no guild with the bot
    assert [
        m["content"] for m in sandbox.control("GET", f"/discord/users/{member['id']}/messages")["messages"]
    ] == ["hello", "again", "again", "again"]
    stats = sandbox.control("GET", "/discord/stats")
    assert {name: stats[name] - before[name] for name in ("dm_channels", "messages", "rate_limited")} == {
        "dm_channels": 2,
        "messages": 4,
        "rate_limited": 1,
    }


def test_a_link_carried_over_from_alliance_auth_gets_roles_without_joining_and_waits_when_not_in_the_server(
    db, sandbox, guild, key_factory
):
    """Alliance Auth keeps no OAuth2 token of the member's: the member is in the server already, so
    the bot gives roles and nickname; a member who left the server is asked to link again."""
    service = _discord_service(db, guild)
    key_id, _, _ = key_factory(status="valid")
    user_id = db.session.get(Key, key_id).user_id
    inside = sandbox.control("POST", "/discord/users", json={"username": "aa_member"})
    world = sandbox.app.extensions["sandbox"]["discord"]
    with world.lock:
        world.guilds[guild["guild_id"]]["members"][inside["id"]] = {"roles": set(), "nick": None}
    db.session.add(DiscordLink(user_id=user_id, discord_user_id=inside["id"], username="aa_member"))
    db.session.commit()
    queue_follow_up(reconcile_user(user_id).follow_up)
    grant = db.session.scalars(db.select(Grant).filter_by(user_id=user_id, service_id=service.id)).one()
    assert sync_grant(grant.id).action == "done"
    members = sandbox.control("GET", f"/discord/guilds/{guild['guild_id']}/members")
    assert members[inside["id"]] == {"nick": "[VAL] Val Pilot", "roles": sorted(guild["roles"].values())}

    with world.lock:
        del world.guilds[guild["guild_id"]]["members"][inside["id"]]
    db.session.get(Grant, grant.id).provisioned = False
    db.session.commit()
    assert sync_grant(grant.id).action == "nothing"
    db.session.expire_all()
    waiting = db.session.get(Grant, grant.id)
    assert waiting.sync_wait == "member" and "link Discord again" in waiting.sync_error
