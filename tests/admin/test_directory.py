"""Admin pages: tracking by EVE id through ESI, roles and appointments, keys, services, the audit log."""

from app.accounts.models import Directorship, User
from app.audit import AuditEntry
from app.corps.models import Alliance, Corporation
from app.services.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from app.services.models import Service
from tests.support import WebhookReceiver, csrf_token_from


def _token(client, path):
    return csrf_token_from(client.get(path).get_data(as_text=True))


def test_tracking_a_corporation_by_id_fetches_it_from_esi(client, db, login_as, sandbox, redis_client):
    login_as("admin")
    corp = sandbox.control("POST", "/corporations", json={"name": "Fresh Corp", "ticker": "FRSH"})
    token = _token(client, "/admin/corporations")
    answer = client.post(
        "/admin/corporations",
        data={
            "csrf_token": token,
            "kind": "corporation",
            "entity_id": corp["corporation_id"],
            "tracked_as": "blue",
        },
        follow_redirects=True,
    )
    assert "Fresh Corp [FRSH] counts as blue now" in answer.get_data(as_text=True)
    assert db.session.get(Corporation, corp["corporation_id"]).tracked_as == "blue"

    unknown = client.post(
        "/admin/corporations",
        data={"csrf_token": token, "kind": "alliance", "entity_id": 99999999, "tracked_as": "member"},
    )
    assert unknown.status_code == 400
    assert "EVE knows no alliance with id 99999999." in unknown.get_data(as_text=True)
    assert db.session.get(Alliance, 99999999) is None

    untrack = client.post(
        f"/admin/corporations/corporation/{corp['corporation_id']}/tracking",
        data={"csrf_token": token, "tracked_as": ""},
        follow_redirects=True,
    )
    assert "is no longer tracked" in untrack.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Corporation, corp["corporation_id"]).tracked_as is None


def test_roles_and_appointments(client, db, login_as, make_user):
    admin = login_as("admin")
    other = make_user(username="pilot")
    db.session.add(Corporation(id=98000301, name="Appointed Corp", ticker="APPT", tracked_as="member"))
    db.session.commit()
    token = _token(client, f"/admin/users/{other.id}")
    client.post(
        f"/admin/users/{other.id}/directorships", data={"csrf_token": token, "corporation_id": "98000301"}
    )
    db.session.expire_all()
    assert db.session.get(User, other.id).role == "director"
    again = client.post(
        f"/admin/users/{other.id}/directorships", data={"csrf_token": token, "corporation_id": "98000301"}
    )
    assert again.status_code == 400 and "directs Appointed Corp already" in again.get_data(as_text=True)
    own = client.post(f"/admin/users/{admin.id}/role", data={"csrf_token": token, "role": "member"})
    assert own.status_code == 400 and "cannot take away your own admin role" in own.get_data(as_text=True)
    directorship = db.session.scalars(db.select(Directorship)).one()
    client.post(f"/admin/users/{other.id}/directorships/{directorship.id}/remove", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(User, other.id).role == "member"
    actions = [e.action for e in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["director.appoint", "director.dismiss"]


def test_keys_are_searchable_and_paginated_and_the_audit_log_filters(
    client, db, login_as, key_factory, redis_client
):
    login_as("admin")
    key_id, made, _ = key_factory(status="valid")
    assert made["name"] in client.get("/admin/keys?q=Val").get_data(as_text=True)
    assert "No key matches." in client.get("/admin/keys?status=invalid").get_data(as_text=True)
    assert made["name"] in client.get("/admin/keys?q=VAL").get_data(as_text=True)  # by ticker
    token = _token(client, "/admin/keys")
    client.post(f"/admin/keys/{key_id}/check", data={"csrf_token": token})
    assert "key.check" in client.get("/admin/audit?action=key.").get_data(as_text=True)
    assert "Nothing recorded matches" in client.get("/admin/audit?target=user:424242").get_data(as_text=True)


def test_a_webhook_service_is_added_and_its_test_event_is_signed(client, db, login_as, redis_client):
    login_as("admin")
    receiver = WebhookReceiver()
    try:
        token = _token(client, "/admin/services/new")
        answer = client.post(
            "/admin/services/new",
            data={
                "csrf_token": token,
                "name": "Forum",
                "slug": "forum",
                "kind": "webhook",
                "url": receiver.url,
                "secret": "a-secret-of-16-chars",
                "auto_states": ["member"],
                "enabled": "y",
            },
        )
        assert answer.status_code == 302
        service = db.session.scalars(db.select(Service).filter_by(slug="forum")).one()
        assert service.auto_state_list == ["member"] and "a-secret" not in service.settings_encrypted
        tested = client.post(
            f"/admin/services/{service.id}/test", data={"csrf_token": token}, follow_redirects=True
        )
        assert "The test went through (the receiver answered 200)." in tested.get_data(as_text=True)
        ((event, headers, body),) = receiver.received()
        assert event["event"] == "test"
        assert verify("a-secret-of-16-chars", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    finally:
        receiver.stop()


def test_a_webhook_without_url_or_secret_is_refused_beside_the_fields(client, db, login_as):
    login_as("admin")
    token = _token(client, "/admin/services/new")
    answer = client.post(
        "/admin/services/new", data={"csrf_token": token, "name": "Forum", "slug": "forum", "kind": "webhook"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "A webhook needs the URL events are sent to." in html and 'id="url-feedback"' in html
    assert "A webhook needs a signing secret" in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Service)) == 0
