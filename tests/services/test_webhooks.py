"""Webhooks go only where the admin pointed them: no redirects followed, no private addresses
unless the server allows them, and events a receiver can de-duplicate and order."""

import pytest

from app.access.grants import grant_manually
from app.access.models import Grant
from app.services.models import Service
from app.services.sync import sync_grant
from tests.support import WebhookReceiver, csrf_token_from

SECRET = "hook-secret-1234567"


@pytest.fixture()
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def _granted(db, make_user, url):
    service = Service(slug="forum", name="Forum", kind="webhook", directors_may_grant=True)
    service.settings = {"url": url, "secret": SECRET}
    db.session.add(service)
    member = make_user(state="member")
    admin = make_user(role="admin")
    grant_manually(member, service, admin, reason="Forum moderator")
    db.session.commit()
    return db.session.scalars(db.select(Grant).filter_by(service_id=service.id)).one()


def test_a_redirect_is_not_followed(db, make_user, receiver, redis_client):
    grant = _granted(db, make_user, receiver.url)
    receiver.status, receiver.location = 307, "http://169.254.169.254/latest/meta-data/"
    outcome = sync_grant(grant.id)
    assert outcome.action == "failed"
    db.session.expire_all()
    grant = db.session.get(Grant, grant.id)
    assert "redirect (307)" in grant.sync_error and "do not follow redirects" in grant.sync_error
    assert len(receiver.received()) == 1  # one POST, and nothing sent on to the Location


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:{port}/hook", "http://localhost:{port}/hook", "http://[::1]:{port}/hook"],
)
def test_private_addresses_are_refused_unless_allowed(
    app, db, make_user, receiver, redis_client, monkeypatch, url
):
    port = receiver.url.split(":")[2].split("/")[0]
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    grant = _granted(db, make_user, url.format(port=port))
    assert sync_grant(grant.id).action == "failed"
    db.session.expire_all()
    error = db.session.get(Grant, grant.id).sync_error
    assert "private address" in error and "WEBHOOK_ALLOW_PRIVATE" in error
    assert receiver.received() == []
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    if "[::1]" not in url:  # the receiver listens on IPv4 only
        assert sync_grant(grant.id).action == "done"
        assert [event["event"] for event, _, _ in receiver.received()] == ["grant"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "[fe80::1]",
        "[::ffff:10.0.0.1]",
        "0.0.0.0",  # noqa: S104  (an address refused, not bound)
    ],
)
def test_the_editor_refuses_a_private_webhook_address(app, client, login_as, monkeypatch, address):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    login_as("admin")
    page = client.get("/admin/services/new").get_data(as_text=True)
    answer = client.post(
        "/admin/services/new",
        data={
            "csrf_token": csrf_token_from(page),
            "name": "Forum",
            "slug": "forum",
            "kind": "webhook",
            "url": f"http://{address}/hook",
            "secret": SECRET,
            "qualify": "main",
            "enabled": "y",
        },
    )
    assert answer.status_code == 400
    assert "leads to a private address" in answer.get_data(as_text=True)


def test_events_carry_an_id_per_delivery_and_a_growing_version(db, make_user, receiver, redis_client):
    grant = _granted(db, make_user, receiver.url)
    assert sync_grant(grant.id).action == "done"
    from app.access.grants import revoke_manually

    revoke_manually(db.session.get(Grant, grant.id), make_user(role="admin"), reason="Left the forum team")
    assert sync_grant(grant.id).action == "done"
    (first, _, _), (second, _, _) = receiver.received()
    assert (first["event"], second["event"]) == ("grant", "revoke")
    assert first["id"] != second["id"] and second["version"] > first["version"]
