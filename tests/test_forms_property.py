"""Every form, fed arbitrary input: it is either accepted, or refused with a message next to a field
and nothing written. Never a 500. Search forms never fail either."""

import hashlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.access.models import AccessRequest, Grant
from app.accounts.models import Directorship, User
from app.corps.models import Character, Corporation
from app.keys.models import Key
from app.services.models import Service
from tests.support import csrf_token_from

PASSWORD = "correct horse battery"
FEEDBACK = re.compile(r'class="invalid-feedback[^"]*"[^>]*>\s*[^<\s]')
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

junk = st.one_of(
    st.text(max_size=40),
    st.text(min_size=256, max_size=700),
    st.sampled_from(
        ["", " ", "\t", "0", "-1", "1e9", "9" * 30, "<script>x</script>", "'; DROP TABLE users; --", "\x00"]
    ),
)
maybe = st.one_of(st.none(), junk)


def _digest(db):
    """A fingerprint of every row of every table."""
    digest = hashlib.sha256()
    db.session.expire_all()
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(db.select(table).order_by(*table.primary_key.columns)).all()
        digest.update(f"{table.name}:{[tuple(map(str, row)) for row in rows]}".encode())
    db.session.commit()
    return digest.hexdigest()


def _form(data):
    return {name: value for name, value in data.items() if value is not None}


def _post_checked(client, db, path, data, token):
    """POST; accepted (a redirect), or 400 with a message beside a field and no row changed."""
    before = _digest(db)
    answer = client.post(path, data={"csrf_token": token, **_form(data)})
    assert answer.status_code in (302, 400), f"{path} answered {answer.status_code} to {data!r}"
    if answer.status_code == 400:
        html = answer.get_data(as_text=True)
        assert FEEDBACK.search(html), f"{path}: refused {data!r} without a message beside a field"
        assert _digest(db) == before, f"{path}: refused {data!r} but changed the database"
    return answer


@pytest.fixture()
def world(db, make_user):
    """An admin, a tracked corporation with a member, a director, a service, a grant and a request."""
    admin = make_user(role="admin", username="root", password=PASSWORD)
    corp = Corporation(id=98000201, name="Prop Corp", ticker="PROP", tracked_as="member")
    db.session.add(corp)
    member = User(username="member", role="member", state="member")
    member.set_password(PASSWORD)
    db.session.add(member)
    db.session.flush()
    character = Character(id=2113000001, name="Prop Pilot", user_id=member.id, corporation_id=corp.id)
    db.session.add(character)
    db.session.flush()
    member.main_character_id = character.id
    db.session.add(
        Key(
            user_id=member.id,
            character_id=character.id,
            owner_hash="h",
            scopes="s",
            refresh_token_encrypted="x",
            status="valid",
        )
    )
    director = make_user(role="director", username="boss", password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corp.id, source="appointed"))
    wiki = Service(
        slug="wiki",
        name="Wiki",
        kind="forward_auth",
        requires_approval=True,
        request_states="member,blue",
        directors_may_grant=True,
    )
    forum = Service(
        slug="forum",
        name="Forum",
        kind="forward_auth",
        request_states="member,blue",
        directors_may_grant=True,
    )
    db.session.add_all([wiki, forum])
    db.session.flush()
    grant = Grant(user_id=member.id, service_id=forum.id, status="active", source="manual")
    request = AccessRequest(user_id=member.id, service_id=wiki.id)
    db.session.add_all([grant, request])
    db.session.commit()
    return {
        "admin": admin.id,
        "member": member.id,
        "corp": corp.id,
        "grant": grant.id,
        "request": request.id,
        "service": wiki.id,
    }


def _login(auth, client, username, page):
    """Signed in as username (once per test: examples share the client), with a token from page."""
    answer = client.get(page)
    if answer.status_code == 302:
        assert auth.login(username, PASSWORD).status_code == 302
        answer = client.get(page)
    return csrf_token_from(answer.get_data(as_text=True))


@SETTINGS
@given(username=junk, password=junk)
def test_the_login_form(client, db, world, username, password):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    answer = _post_checked(client, db, "/login", {"username": username, "password": password}, token)
    assert answer.status_code == 400


@SETTINGS
@given(
    name=maybe,
    slug=st.one_of(maybe, st.just("wiki"), st.sampled_from(["Has Caps", "-dash", "ok-slug"])),
    kind=st.one_of(st.sampled_from(["webhook", "forward_auth", "discord"]), junk),
    url=st.one_of(maybe, st.just("not a url"), st.just("http://hooks.example.org/x")),
    secret=maybe,
    guild_id=maybe,
    role_ids=maybe,
    auto_states=st.lists(st.one_of(st.sampled_from(["member", "blue", "guest"]), junk), max_size=3),
)
def test_the_service_form(
    client, db, auth, world, name, slug, kind, url, secret, guild_id, role_ids, auto_states
):
    token = _login(auth, client, "root", "/admin/services/new")
    data = {
        "name": name,
        "slug": slug,
        "kind": kind,
        "url": url,
        "secret": secret,
        "guild_id": guild_id,
        "role_ids": role_ids,
    }
    before = _digest(db)
    answer = client.post(
        "/admin/services/new", data={"csrf_token": token, **_form(data), "auto_states": auto_states}
    )
    assert answer.status_code in (302, 400)
    if answer.status_code == 400:
        assert FEEDBACK.search(answer.get_data(as_text=True))
        assert _digest(db) == before


@SETTINGS
@given(
    kind=st.one_of(st.sampled_from(["corporation", "alliance"]), junk),
    entity_id=st.one_of(maybe, st.integers(-5, 10**20).map(str)),
    tracked_as=st.one_of(st.sampled_from(["member", "blue"]), junk),
)
def test_the_track_form(client, db, auth, world, sandbox, kind, entity_id, tracked_as):
    token = _login(auth, client, "root", "/admin/corporations")
    _post_checked(
        client,
        db,
        "/admin/corporations",
        {"kind": kind, "entity_id": entity_id, "tracked_as": tracked_as},
        token,
    )


@SETTINGS
@given(role=junk, corporation_id=st.one_of(junk, st.integers(-5, 10**20).map(str)))
def test_the_role_and_appointment_forms(client, db, auth, world, role, corporation_id):
    token = _login(auth, client, "root", f"/admin/users/{world['member']}")
    _post_checked(client, db, f"/admin/users/{world['member']}/role", {"role": role}, token)
    _post_checked(
        client, db, f"/admin/users/{world['member']}/directorships", {"corporation_id": corporation_id}, token
    )


@SETTINGS
@given(
    service=st.one_of(junk, st.just("wiki")),
    expires_at=st.one_of(maybe, st.just("2020-01-01T00:00"), st.just("2999-01-01T00:00")),
    reason=maybe,
)
def test_the_grant_form(client, db, auth, world, service, expires_at, reason):
    path = f"/director/corporations/{world['corp']}/members/{world['member']}"
    token = _login(auth, client, "boss", path)
    _post_checked(
        client, db, f"{path}/grants", {"service": service, "expires_at": expires_at, "reason": reason}, token
    )


@SETTINGS
@given(reason=maybe)
def test_the_revoke_form(client, db, auth, world, reason):
    path = f"/director/corporations/{world['corp']}/members/{world['member']}"
    token = _login(auth, client, "boss", path)
    _post_checked(
        client,
        db,
        f"/director/corporations/{world['corp']}/grants/{world['grant']}/revoke",
        {"reason": reason},
        token,
    )


@SETTINGS
@given(decision=st.one_of(st.sampled_from(["approve", "deny"]), junk), expires_at=maybe, reason=maybe)
def test_the_decision_form(client, db, auth, world, decision, expires_at, reason):
    path = f"/director/corporations/{world['corp']}"
    token = _login(auth, client, "boss", path)
    _post_checked(
        client,
        db,
        f"{path}/requests/{world['request']}",
        {"decision": decision, "expires_at": expires_at, "reason": reason},
        token,
    )


@SETTINGS
@given(note=maybe, slug=st.sampled_from(["wiki", "forum"]))
def test_the_request_form(client, db, auth, world, note, slug):
    token = _login(auth, client, "member", "/services")
    answer = client.post(f"/services/{slug}/request", data=_form({"csrf_token": token, "note": note}))
    assert answer.status_code in (302, 400)


@SETTINGS
@given(note=st.one_of(st.text(min_size=501, max_size=900), st.just("x" * 501)))
def test_a_too_long_request_note_is_refused_beside_the_field(client, db, auth, world, note):
    db.session.execute(db.delete(AccessRequest))
    db.session.commit()
    token = _login(auth, client, "member", "/services")
    _post_checked(client, db, "/services/wiki/request", {"note": note}, token)


@SETTINGS
@given(q=maybe, status=maybe, role=maybe, state=maybe, page=maybe, action=maybe, actor=maybe, target=maybe)
def test_search_forms_never_fail(
    client, db, auth, world, q, status, role, state, page, action, actor, target
):
    _login(auth, client, "root", "/admin/")
    for path, params in (
        ("/admin/keys", {"q": q, "status": status, "page": page}),
        ("/admin/users", {"q": q, "role": role, "state": state, "page": page}),
        ("/admin/audit", {"action": action, "actor": actor, "target": target, "page": page}),
        ("/admin/queue", {"page": page}),
    ):
        assert client.get(path, query_string=_form(params)).status_code == 200, (path, params)
