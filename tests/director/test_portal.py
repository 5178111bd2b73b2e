"""The director portal: a director acts on their own corporation only, sees who holds an invalid key,
grants and revokes by hand, decides requests and re-validates every key."""

from datetime import timedelta

import pytest

from app.access.models import AccessRequest, Grant
from app.accounts.models import Directorship, User
from app.audit import AuditEntry
from app.clock import utcnow
from app.corps.models import Character, Corporation
from app.keys.models import Key
from app.services.models import Service
from tests.support import csrf_token_from


@pytest.fixture()
def world(db):
    """Two tracked corporations, a member in each (one with an invalid key), and a service."""
    ids = {}
    for corp_id, name, ticker in ((98000101, "Alpha Corp", "ALPH"), (98000102, "Bravo Corp", "BRAV")):
        db.session.add(Corporation(id=corp_id, name=name, ticker=ticker, tracked_as="member"))
    db.session.flush()
    for n, (corp_id, status) in enumerate(((98000101, "invalid"), (98000102, "valid")), start=1):
        user = User(role="member", state="member")
        db.session.add(user)
        db.session.flush()
        character = Character(id=2112000000 + n, name=f"Pilot {n}", user_id=user.id, corporation_id=corp_id)
        db.session.add(character)
        db.session.flush()
        user.main_character_id = character.id
        db.session.add(
            Key(
                user_id=user.id,
                character_id=character.id,
                owner_hash="h",
                scopes="s",
                refresh_token_encrypted="x",
                status=status,
            )
        )
        ids[corp_id] = user.id
    service = Service(
        slug="wiki",
        name="Wiki",
        kind="forward_auth",
        requires_approval=True,
        request_states="member,blue",
        directors_may_grant=True,
    )
    db.session.add(service)
    db.session.commit()
    return {
        "alpha": 98000101,
        "bravo": 98000102,
        "alpha_member": ids[98000101],
        "bravo_member": ids[98000102],
        "service": service.id,
    }


@pytest.fixture()
def alpha_director(db, login_as, world):
    director = login_as("director")
    db.session.add(Directorship(user_id=director.id, corporation_id=world["alpha"], source="appointed"))
    db.session.commit()
    return director


def test_a_director_gets_403_on_another_corporations_pages_and_actions(client, db, world, alpha_director):
    bravo, member = world["bravo"], world["bravo_member"]
    request = AccessRequest(user_id=member, service_id=world["service"])
    grant = Grant(user_id=member, service_id=world["service"], status="active", source="manual")
    db.session.add_all([request, grant])
    db.session.commit()
    token = csrf_token_from(client.get(f"/director/corporations/{world['alpha']}").get_data(as_text=True))
    for path in (
        f"/director/corporations/{bravo}",
        f"/director/corporations/{bravo}/members/{member}",
        f"/director/corporations/{bravo}/progress",
        f"/director/corporations/{bravo}/compliance",
        f"/director/corporations/{bravo}/compliance/coverage",
        f"/director/corporations/{bravo}/compliance.csv",
        f"/director/corporations/{bravo}/tracking/add",
    ):
        assert client.get(path).status_code == 403, path
    for path, data in (
        (f"/director/corporations/{bravo}/members/{member}/grants", {"service": "wiki"}),
        (f"/director/corporations/{bravo}/grants/{grant.id}/revoke", {}),
        (f"/director/corporations/{bravo}/requests/{request.id}", {"decision": "approve"}),
        (f"/director/corporations/{bravo}/revalidate", {}),
        (f"/director/corporations/{bravo}/compliance/read", {}),
        (f"/director/corporations/{bravo}/compliance/nudge", {}),
        (f"/director/corporations/{bravo}/tracking/1/remove", {}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    # Nor can a member of another corporation be reached through one's own corporation.
    assert client.get(f"/director/corporations/{world['alpha']}/members/{member}").status_code == 404
    db.session.expire_all()
    assert db.session.get(AccessRequest, request.id).status == "pending"
    assert db.session.get(Grant, grant.id).status == "active"


def test_the_member_list_names_the_character_with_the_invalid_key_and_filters(client, world, alpha_director):
    page = client.get(f"/director/corporations/{world['alpha']}").get_data(as_text=True)
    assert "invalid: Pilot 1" in page
    assert "Pilot 2" not in page  # another corporation's member
    assert "Pilot 1" in client.get(f"/director/corporations/{world['alpha']}?filter=invalid").get_data(
        as_text=True
    )
    assert "Nobody matches this filter." in client.get(
        f"/director/corporations/{world['alpha']}?filter=nokeys"
    ).get_data(as_text=True)


def test_a_grant_with_a_bad_expiry_is_refused_next_to_the_field_and_writes_nothing(
    client, db, world, alpha_director
):
    path = f"/director/corporations/{world['alpha']}/members/{world['alpha_member']}"
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    past = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    for expiry, message in (
        ("next tuesday", "Give the expiry as a date and time"),
        (past, "must be in the future"),
    ):
        answer = client.post(
            f"{path}/grants", data={"csrf_token": token, "service": "wiki", "expires_at": expiry}
        )
        assert answer.status_code == 400
        html = answer.get_data(as_text=True)
        assert message in html and 'id="expires_at-feedback"' in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Grant)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)) == 0


def test_revalidate_all_queues_the_corporations_keys(client, db, world, alpha_director, redis_client):
    from tasks import huey

    path = f"/director/corporations/{world['alpha']}"
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    answer = client.post(f"{path}/revalidate", data={"csrf_token": token}, follow_redirects=True)
    assert "1 keys of Alpha Corp are queued" in answer.get_data(as_text=True)
    assert huey.pending_count() == 1
    assert "Checking: 0 of 1 keys" in client.get(f"{path}/progress").get_data(as_text=True)


def test_a_corporation_with_more_members_than_a_page_pages_through_them(client, db, world, alpha_director):
    for n in range(60):
        user = User(role="member", state="member")
        db.session.add(user)
        db.session.flush()
        db.session.add(
            Character(id=2113000000 + n, name=f"Crowd {n}", user_id=user.id, corporation_id=world["alpha"])
        )
        db.session.flush()
        user.main_character_id = 2113000000 + n
    db.session.commit()
    first = client.get(f"/director/corporations/{world['alpha']}?filter=nokeys")
    assert first.status_code == 200
    text = first.get_data(as_text=True)
    assert f"/director/corporations/{world['alpha']}?filter=nokeys&amp;page=2" in text
    second = client.get(f"/director/corporations/{world['alpha']}?filter=nokeys&page=2").get_data(
        as_text=True
    )
    assert "Page 2 of 2" in second and "Previous" in second


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        (" =cmd", "' =cmd"),
        ("\t=1+2", "'\t=1+2"),
        ("\n=1+2", "'\n=1+2"),
        ("  @SUM(A1)", "'  @SUM(A1)"),
        ("\r\n+1", "'\r\n+1"),
        ("-", "'-"),
        ("Val Pilot", "Val Pilot"),
        ("a=b", "a=b"),
        (None, ""),
        (42, "42"),
    ],
)
def test_an_exported_cell_whose_first_non_blank_character_starts_a_formula_is_neutralised(value, safe):
    """OWASP's CSV injection guidance: a trigger after blanks is still a formula to a spreadsheet."""
    from app.director.compliance import _cell

    assert _cell(value) == safe
