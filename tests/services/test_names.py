"""Name templates: what they may contain, what they make, the editor's checks and preview, and a
Discord nickname that follows a changed template."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.access.models import Grant
from app.services import names
from app.services.models import DiscordLink, Service
from app.services.sync import sync_grant
from tests.services.test_discord import _discord_service, _link, _log_in_as_key_owner, guild  # noqa: F401
from tests.support import csrf_token_from

VALUES = {**names.EXAMPLE}


@pytest.mark.parametrize(
    ("template", "made"),
    [
        ("[{ticker}] {name}", "[VAL] Val Pilot"),
        ("{name} ({alliance_ticker})", "Val Pilot (VALK)"),
        ("{name} of {corporation}", "Val Pilot of Valkyrie Logistics"),
        ("{{{ticker}}} {name}", "{VAL} Val Pilot"),
        ("{state}: {name}", "member: Val Pilot"),
    ],
)
def test_a_template_fills_its_fields(template, made):
    assert names.render(template, VALUES, 128) == made


def test_empty_brackets_and_spaces_left_by_a_missing_field_go():
    values = {**VALUES, "ticker": "", "alliance_ticker": ""}
    assert names.render("[{ticker}] {name} ({alliance_ticker})", values, 128) == "Val Pilot"
    assert names.render("[{ticker}] {name}", VALUES, 10) == "[VAL] Val"  # cut, without a trailing space


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{name.__class__}", "is not a field here"),
        ("{name[0]}", "is not a field here"),
        ("{}", "is not a field here"),
        ("{password}", "is not a field here"),
        ("{name!r}", "without ! or :"),
        ("{name:>40}", "without ! or :"),
        ("{name", "Braces must pair up"),
        ("name}", "Braces must pair up"),
        ("Pilot", "Use at least one field"),
        ("{name}" * 30, "under 128 characters"),
    ],
)
def test_a_template_that_reaches_further_than_its_fields_is_refused(template, message):
    with pytest.raises(names.TemplateError) as refused:
        names.parse(template)
    assert message in str(refused.value)


@given(st.text(max_size=60))
def test_any_text_either_renders_within_the_limit_or_is_refused_with_a_message(template):
    try:
        made = names.render(template, VALUES, 32)
    except names.TemplateError as exc:
        assert str(exc)
    else:
        assert len(made) <= 32


def _token(client, path):
    import re

    return re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(path).get_data(as_text=True)
    )[1]


def test_the_editor_previews_a_template_and_refuses_a_bad_one_beside_the_field(client, db, login_as):
    login_as("admin")
    preview = client.get("/admin/services/name-preview?kind=discord&name_template=[{ticker}]+{name}")
    assert "<strong>[VAL] Val Pilot</strong>" in preview.get_data(as_text=True)
    refused = client.get("/admin/services/name-preview?kind=discord&name_template={name.__init__}")
    assert "is not a field here" in refused.get_data(as_text=True)
    default = client.get("/admin/services/name-preview?kind=mumble&name_template=")
    assert "<strong>[VAL] Val Pilot</strong>" in default.get_data(as_text=True)

    data = {
        "csrf_token": csrf_token_from(client.get("/admin/services/new").get_data(as_text=True)),
        "name": "Comms",
        "slug": "comms",
        "kind": "discord",
        "guild_id": "123",
        "role_ids": "456",
        "name_template": "{name} [{nope}]",
        "enabled": "y",
    }
    answer = client.post("/admin/services/new", data=data)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="name_template-feedback">{nope} is not a field here' in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Service)) == 0
    answer = client.post("/admin/services/new", data={**data, "name_template": "{name} <{alliance_ticker}>"})
    assert answer.status_code == 302
    assert db.session.scalars(db.select(Service)).one().name_template == "{name} <{alliance_ticker}>"


def test_a_changed_template_renames_the_member_in_discord(
    client,
    db,
    sandbox,
    guild,  # noqa: F811
    key_factory,
    auth,
    redis_client,
):
    from app.access.reconcile import reconcile_user
    from tasks.services import queue_follow_up

    service = _discord_service(db, guild)
    user_id, _ = _log_in_as_key_owner(client, db, key_factory, auth)
    _link(client, sandbox)
    grant = db.session.scalars(db.select(Grant).filter_by(user_id=user_id, service_id=service.id)).one()
    assert sync_grant(grant.id).action == "done"
    link = db.session.scalars(db.select(DiscordLink).filter_by(user_id=user_id)).one()

    def nick():
        return sandbox.control("GET", f"/discord/guilds/{guild['guild_id']}/members")[link.discord_user_id][
            "nick"
        ]

    assert nick() == "[VAL] Val Pilot"
    service.name_template = "{name} of {corporation}"
    db.session.commit()
    queue_follow_up(reconcile_user(user_id).follow_up)  # what saving the service does for everyone
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).sync_status == "pending"
    assert sync_grant(grant.id).action == "done"
    assert nick() == "Val Pilot of Validation Corp"
    assert sync_grant(grant.id).action == "nothing"  # and nothing more to tell it
