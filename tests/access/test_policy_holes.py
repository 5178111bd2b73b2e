"""Each hole found in the access policy, closed, proven through HTTP as a person would meet it."""

import pytest

from app.access.models import AccessRequest, Grant
from app.access.reconcile import reconcile_user
from app.accounts.models import Directorship, User
from app.audit import AuditEntry
from app.corps.directors import record_director_role
from app.corps.models import Alliance, Character, Corporation
from app.keys.models import Key
from app.services.models import Service
from tests.support import csrf_token_from

MEMBER_CORP, BLUE_CORP, HOSTILE_ALLIANCE, ELSEWHERE = 98000201, 98000202, 99000203, 98000204
PASSWORD = "correct horse battery"


@pytest.fixture()
def world(db):
    """A member corporation, a blue one, a hostile alliance with a corporation in it, and services."""
    db.session.add_all(
        [
            Corporation(id=MEMBER_CORP, name="Home Corp", ticker="HOME", tracked_as="member"),
            Corporation(id=BLUE_CORP, name="Friends Corp", ticker="FRND", tracked_as="blue"),
            Alliance(id=HOSTILE_ALLIANCE, name="Red Horde", ticker="RED", tracked_as="hostile"),
        ]
    )
    db.session.flush()
    db.session.add(Corporation(id=ELSEWHERE, name="Horde Corp", ticker="HRDE", alliance_id=HOSTILE_ALLIANCE))
    services = {
        "comms": Service(slug="comms", name="Member comms", kind="forward_auth", auto_states="member"),
        "lounge": Service(slug="lounge", name="Lounge", kind="forward_auth", request_states="member"),
        "leaders": Service(
            slug="leaders",
            name="Leadership",
            kind="forward_auth",
            requires_approval=True,
            request_states="member",
            directors_may_grant=True,
        ),
        "ops": Service(
            slug="ops", name="Ops board", kind="forward_auth", auto_states="member", qualify="every"
        ),
    }
    db.session.add_all(services.values())
    db.session.commit()
    return {name: service.id for name, service in services.items()}


_ids = iter(range(2120000001, 2129999999))


def person(db, name, corporation_id, role="member", alts=()):
    """A user with a valid key on a main in corporation_id (and alts: (name, corporation id))."""
    user = User(username=name.lower().replace(" ", ""), role=role, state="guest")
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.flush()
    for index, (char_name, corp) in enumerate(((name, corporation_id), *alts)):
        corporation = db.session.get(Corporation, corp)
        character = Character(
            id=next(_ids),
            name=char_name,
            user_id=user.id,
            corporation_id=corp,
            alliance_id=corporation.alliance_id if corporation else None,
        )
        db.session.add(character)
        db.session.flush()
        db.session.add(
            Key(
                user_id=user.id,
                character_id=character.id,
                owner_hash="h",
                scopes="s",
                refresh_token_encrypted="x",
                status="valid",
            )
        )
        if index == 0:
            user.main_character_id = character.id
    db.session.commit()
    reconcile_user(user.id)
    db.session.expire_all()
    return db.session.get(User, user.id)


def log_in(client, auth, user):
    auth.logout()
    assert auth.login(user.username).status_code == 302
    return csrf_token_from(client.get("/services").get_data(as_text=True))


def grant_of(db, user, service_id):
    db.session.expire_all()
    return db.session.scalars(db.select(Grant).filter_by(user_id=user.id, service_id=service_id)).first()


def test_a_blue_cannot_request_a_members_only_service(client, db, auth, world, redis_client):
    blue = person(db, "Blue Pilot", BLUE_CORP)
    token = log_in(client, auth, blue)
    assert "Member comms" not in client.get("/services").get_data(as_text=True).split("Available")[-1]
    answer = client.post("/services/comms/request", data={"csrf_token": token})
    assert answer.status_code == 400
    assert "not open to requests from blues" in answer.get_data(as_text=True)
    assert grant_of(db, blue, world["comms"]) is None


def test_a_grant_on_request_lapses_when_the_state_may_no_longer_ask(client, db, auth, world, redis_client):
    member = person(db, "Lounger", MEMBER_CORP)
    token = log_in(client, auth, member)
    assert client.post("/services/lounge/request", data={"csrf_token": token}).status_code == 302
    grant = grant_of(db, member, world["lounge"])
    assert (grant.status, grant.source) == ("active", "request")
    db.session.get(Corporation, MEMBER_CORP).tracked_as = None  # the corporation is no longer a member
    db.session.commit()
    assert reconcile_user(member.id).state == "guest"
    grant = grant_of(db, member, world["lounge"])
    assert grant.status == "revoked" and "guests may no longer ask for it" in grant.reason


def test_after_a_directors_revoke_asking_again_needs_approval(client, db, auth, world, redis_client):
    member = person(db, "Again Asker", MEMBER_CORP)
    director = person(db, "Home Director", MEMBER_CORP, role="director")
    db.session.add(Directorship(user_id=director.id, corporation_id=MEMBER_CORP, source="appointed"))
    db.session.commit()
    token = log_in(client, auth, member)
    client.post("/services/lounge/request", data={"csrf_token": token})
    grant = grant_of(db, member, world["lounge"])
    token = log_in(client, auth, director)
    answer = client.post(
        f"/director/corporations/{MEMBER_CORP}/grants/{grant.id}/revoke",
        data={"csrf_token": token, "reason": "Misbehaved in the lounge"},
    )
    assert answer.status_code == 302
    assert grant_of(db, member, world["lounge"]).status == "revoked"
    token = log_in(client, auth, member)
    client.post("/services/lounge/request", data={"csrf_token": token})
    assert grant_of(db, member, world["lounge"]).status == "revoked"  # not given back by asking
    waiting = db.session.scalars(
        db.select(AccessRequest).filter_by(user_id=member.id, status="pending")
    ).all()
    assert [r.service_id for r in waiting] == [world["lounge"]]


def test_a_director_of_a_blue_corporation_has_no_powers(client, db, auth, world, redis_client):
    director = person(db, "Blue Director", BLUE_CORP, role="director")
    db.session.add(Directorship(user_id=director.id, corporation_id=BLUE_CORP, source="esi"))
    db.session.commit()
    member = person(db, "Blue Member", BLUE_CORP)
    log_in(client, auth, director)
    assert client.get(f"/director/corporations/{BLUE_CORP}").status_code == 403
    assert client.get(f"/director/corporations/{BLUE_CORP}/members/{member.id}").status_code == 403
    # ESI's Director role in a blue corporation makes no directorship: the next check ends it.
    record_director_role(director.id, director.main_character_id, True)
    db.session.expire_all()
    assert db.session.get(User, director.id).directorships == []
    assert db.session.get(User, director.id).role == "member"


def test_a_director_never_grants_to_themselves_nor_decides_their_own_request(
    client, db, auth, world, redis_client
):
    director = person(db, "Self Server", MEMBER_CORP, role="director")
    db.session.add(Directorship(user_id=director.id, corporation_id=MEMBER_CORP, source="appointed"))
    db.session.commit()
    token = log_in(client, auth, director)
    answer = client.post(
        f"/director/corporations/{MEMBER_CORP}/members/{director.id}/grants",
        data={"csrf_token": token, "service": "leaders"},
    )
    assert answer.status_code == 400 and "cannot give yourself a service" in answer.get_data(as_text=True)
    client.post("/services/leaders/request", data={"csrf_token": token})
    request = db.session.scalars(db.select(AccessRequest).filter_by(user_id=director.id)).one()
    answer = client.post(
        f"/director/corporations/{MEMBER_CORP}/requests/{request.id}",
        data={"csrf_token": token, "decision": "approve"},
    )
    assert answer.status_code == 400 and "cannot decide your own request" in answer.get_data(as_text=True)
    assert grant_of(db, director, world["leaders"]) is None


def test_a_director_gives_by_hand_only_services_that_allow_it(client, db, auth, world, redis_client):
    director = person(db, "Careful Director", MEMBER_CORP, role="director")
    member = person(db, "Some Member", MEMBER_CORP)
    db.session.add(Directorship(user_id=director.id, corporation_id=MEMBER_CORP, source="appointed"))
    db.session.commit()
    token = log_in(client, auth, director)
    page = client.get(f"/director/corporations/{MEMBER_CORP}/members/{member.id}").get_data(as_text=True)
    assert 'value="leaders"' in page and 'value="lounge"' not in page
    answer = client.post(
        f"/director/corporations/{MEMBER_CORP}/members/{member.id}/grants",
        data={"csrf_token": token, "service": "lounge"},
    )
    assert answer.status_code == 400
    assert grant_of(db, member, world["lounge"]) is None


def test_esi_directorships_end_when_the_character_leaves_or_its_key_goes(db, world, redis_client):
    from app.corps import affiliation
    from app.keys.logic import remove_key

    def esi_director(name):
        user = person(db, name, MEMBER_CORP)
        record_director_role(user.id, user.main_character_id, True)
        db.session.expire_all()
        assert [d.corporation_id for d in db.session.get(User, user.id).directorships] == [MEMBER_CORP]
        return db.session.get(User, user.id)

    leaver = esi_director("Leaver")
    result = affiliation.RoundResult()
    affiliation._apply([{"character_id": leaver.main_character_id, "corporation_id": ELSEWHERE}], result)
    db.session.expire_all()
    assert db.session.get(User, leaver.id).directorships == []
    assert db.session.get(User, leaver.id).role == "member"

    remover = esi_director("Remover")
    key = db.session.get(User, remover.id).keys[0]
    remove_key(db.session.get(User, remover.id), key, actor=None)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, remover.id).directorships == []

    lost = db.session.scalars(db.select(AuditEntry).filter_by(action="director.esi_lost")).all()
    assert {e.reason for e in lost} == {
        "its Director character left the corporation",
        "the key of its Director character was removed",
    }


def test_a_director_sees_only_users_whose_main_is_in_the_corporation(client, db, auth, world, redis_client):
    director = person(db, "Watcher", MEMBER_CORP, role="director")
    db.session.add(Directorship(user_id=director.id, corporation_id=MEMBER_CORP, source="appointed"))
    db.session.commit()
    outsider = person(db, "Blue Main", BLUE_CORP, alts=[("Home Alt", MEMBER_CORP)])
    insider = person(db, "Home Main", MEMBER_CORP, alts=[("Raider", ELSEWHERE)])
    log_in(client, auth, director)
    page = client.get(f"/director/corporations/{MEMBER_CORP}").get_data(as_text=True)
    assert "Home Main" in page and "Blue Main" not in page
    assert client.get(f"/director/corporations/{MEMBER_CORP}/members/{outsider.id}").status_code == 404
    detail = client.get(f"/director/corporations/{MEMBER_CORP}/members/{insider.id}").get_data(as_text=True)
    assert "Horde Corp [HRDE]" in detail and "elsewhere" in detail and "hostile" in detail


def test_only_a_character_with_a_valid_key_can_be_the_main(client, db, auth, world, redis_client):
    member = person(db, "Careful Main", MEMBER_CORP, alts=[("Dead Alt", MEMBER_CORP)])
    alt = db.session.scalars(db.select(Character).filter_by(name="Dead Alt")).one()
    db.session.delete(alt.key)
    db.session.commit()
    token = log_in(client, auth, member)
    answer = client.post(f"/characters/{alt.id}/main", data={"csrf_token": token}, follow_redirects=True)
    assert "has no valid key, so it cannot be your main" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, member.id).main_character_id != alt.id
    assert db.session.get(User, member.id).state == "member"
    client.post(f"/characters/{alt.id}/release", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Character, alt.id).user_id is None


def test_every_character_counts_where_the_policy_says_so(client, db, auth, world, redis_client, login_as):
    spy = person(db, "Friendly Face", MEMBER_CORP, alts=[("Red Spy", ELSEWHERE)])
    ops, comms = grant_of(db, spy, world["ops"]), grant_of(db, spy, world["comms"])
    assert comms.status == "active"  # the main decides: still a member
    assert ops.status == "suspended" and "Red Spy is in the alliance Red Horde" in ops.reason
    login_as("admin")
    page = client.get("/admin/watchlist").get_data(as_text=True)
    assert "Red Spy" in page and "Friendly Face" in page and "hostile" in page


def test_a_member_corporation_inside_a_hostile_alliance_gives_directors_nothing(
    client, db, auth, world, redis_client
):
    horde_corp = db.session.get(Corporation, ELSEWHERE)
    horde_corp.tracked_as = "member"  # contradicted by its alliance, tracked as hostile: hostile wins
    db.session.commit()
    director = person(db, "Horde Director", ELSEWHERE, role="director")
    assert director.state == "guest"
    db.session.add(Directorship(user_id=director.id, corporation_id=ELSEWHERE, source="appointed"))
    db.session.commit()
    log_in(client, auth, director)
    assert client.get(f"/director/corporations/{ELSEWHERE}").status_code == 404
    record_director_role(director.id, director.main_character_id, True)
    db.session.expire_all()
    assert [d.source for d in db.session.get(User, director.id).directorships] == ["appointed"]


def test_a_main_key_waiting_for_its_first_check_is_explained_as_being_checked(db, make_user):
    """A new member's key proves nothing until EVE answers: they read that it is being checked,
    never that they should renew it; a key that failed still says renew."""
    from app.access.explain import explain
    from app.corps.models import Character, Corporation
    from app.keys.models import Key
    from app.services.models import Service

    db.session.add(Corporation(id=98123001, name="Home", ticker="HOME", tracked_as="member"))
    service = Service(slug="forum", name="Forum", kind="webhook", auto_states="member")
    db.session.add(service)
    user = make_user(username="fresh", state="guest")
    db.session.add(Character(id=2123001, name="Fresh Recruit", user_id=user.id, corporation_id=98123001))
    db.session.flush()
    key = Key(user_id=user.id, character_id=2123001, owner_hash="h", scopes="", status="pending",
              refresh_token_encrypted="x")  # fmt: skip
    db.session.add(key)
    user.main_character_id = 2123001
    db.session.commit()
    waiting = explain(user, service)
    assert "being checked" in waiting.remedy and "Renew" not in waiting.remedy
    assert "is being checked for the first time" in waiting.steps[0].text
    key.status = "invalid"
    db.session.commit()
    assert explain(user, service).remedy.startswith("Renew the key of your main character Fresh Recruit")
