"""Access journeys in a real browser, with real consumers, the sandbox and real webhook receivers:
a grant by hand that expires, a request approved into a signed webhook event, a member who leaves
for an untracked corporation and loses their services."""

from datetime import timedelta
from pathlib import Path

import pytest

from app.access.reconcile import reconcile_user
from app.accounts.models import Directorship, User
from app.clock import utcnow
from app.keys.models import Key
from app.services.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from app.services.models import Service
from tasks.services import queue_follow_up
from tests.support import WebhookReceiver, grant_of, sign_in, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"
SECRET = "journey-webhook-secret"
FAST = {"AFFILIATION_MAX_WAIT": "0.5", "RETRY_BASE": "0.2"}


@pytest.fixture()
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def _sign_in(page, username, next_path):
    sign_in(page, username, PASSWORD, next_path)


def _member(db, key_factory, username):
    """A member with a valid key in a tracked corporation, who can sign in with a password."""
    key_id, made, _ = key_factory(status="valid")
    user = db.session.get(Key, key_id).user
    user.username = username
    user.set_password(PASSWORD)
    db.session.commit()
    queue_follow_up(reconcile_user(user.id).follow_up)
    return user.id, made


def _director_of(db, make_user, corporation_id, username="director1"):
    director = make_user(role="director", username=username, password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    db.session.commit()
    return director


def _service(db, slug, name, kind="webhook", auto="", url=None, **fields):
    service = Service(
        slug=slug,
        name=name,
        kind=kind,
        auto_states=auto,
        **{"request_states": "member,blue", "directors_may_grant": True, **fields},
    )
    service.settings = {"url": url, "secret": SECRET} if kind == "webhook" else {}
    db.session.add(service)
    db.session.commit()
    return service.id


def test_a_grant_by_hand_with_an_expiry_is_seen_by_the_member_and_revoked_on_time(
    page, second_page, db, make_user, key_factory, consumer, redis_client
):
    consumer(workers=2, periodic=False, extra_env=FAST)
    service_id = _service(db, "wiki", "Alliance wiki", kind="forward_auth")
    member_id, made = _member(db, key_factory, "pilot1")
    _director_of(db, make_user, made["corporation_id"])

    _sign_in(page, "director1", "/director/")
    page.wait_for_url(f"**/director/corporations/{made['corporation_id']}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "director-corporation.png"), full_page=True)
    page.locator(f'[data-member="{member_id}"]').get_by_role("link", name="Manage").click()
    page.get_by_label("Service").select_option("wiki")
    moment = utcnow() + timedelta(seconds=8)
    # As the browser writes the field's value: without seconds when they are zero.
    expires = moment.strftime("%Y-%m-%dT%H:%M" if moment.second == 0 else "%Y-%m-%dT%H:%M:%S")
    page.get_by_label("Expires (UTC, optional)").fill(expires)
    page.get_by_label("Reason").fill("Op week")
    page.get_by_role("button", name="Grant").click()
    page.get_by_text(f"has Alliance wiki until {moment:%Y-%m-%d %H:%M:%S} UTC").wait_for()

    member = second_page
    _sign_in(member, "pilot1", "/services")
    row = member.get_by_test_id("my-services").locator('[data-service="wiki"]')
    assert "active" in row.inner_text() and "Op week" in row.inner_text()
    member.screenshot(path=str(ARTIFACTS / "my-services.png"), full_page=True)

    wait_for(
        lambda: grant_of(db, member_id, service_id).status == "revoked", timeout=30, message="the expiry"
    )
    assert grant_of(db, member_id, service_id).reason == "The grant expired."
    member.reload()
    assert member.get_by_test_id("my-services").locator('[data-service="wiki"]').count() == 0
    assert member.get_by_test_id("available-services").locator('[data-service="wiki"]').is_visible()


def test_a_request_approved_by_the_director_reaches_the_webhook_signed(
    page, second_page, db, make_user, key_factory, consumer, receiver, redis_client
):
    consumer(workers=2, periodic=False, extra_env=FAST)
    service_id = _service(db, "forum", "Alliance forum", url=receiver.url, requires_approval=True)
    member_id, made = _member(db, key_factory, "pilot2")
    _director_of(db, make_user, made["corporation_id"], "director2")

    _sign_in(page, "pilot2", "/services")
    offer = page.get_by_test_id("available-services").locator('[data-service="forum"]')
    offer.get_by_placeholder("Why (optional)").fill("I write fitting guides")
    offer.get_by_role("button", name="Request access").click()
    page.get_by_text("Your request for Alliance forum is waiting for a director.").wait_for()
    assert "Alliance forum" in page.get_by_test_id("pending-requests").inner_text()

    director = second_page
    _sign_in(director, "director2", "/director/")
    request = director.get_by_test_id("requests").locator("[data-request]").first
    assert "I write fitting guides" in request.inner_text()
    request.get_by_placeholder("Reason (optional)").fill("Welcome aboard")
    request.get_by_role("button", name="Approve").click()
    director.get_by_text("request for Alliance forum was approved").wait_for()

    wait_for(lambda: receiver.received(), timeout=30, message="the webhook event")
    event, headers, body = receiver.received()[0]
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert event["event"] == "grant" and event["service"] == "forum"
    assert event["character"]["name"] == made["name"] and event["grant"]["reason"] == "Welcome aboard"
    wait_for(
        lambda: grant_of(db, member_id, service_id).sync_status == "synced", timeout=10, message="the sync"
    )
    page.reload()
    assert "active" in page.get_by_test_id("my-services").locator('[data-service="forum"]').inner_text()


def test_leaving_for_an_untracked_corporation_makes_a_guest_who_loses_member_services(
    page, db, sandbox, key_factory, consumer, receiver, redis_client
):
    from app.corps import affiliation
    from tasks.corps import affiliation_round

    consumer(workers=2, periodic=False, extra_env=FAST)
    forum = _service(db, "forum", "Alliance forum", url=receiver.url, auto="member")
    wiki = _service(db, "wiki", "Alliance wiki", kind="forward_auth", auto="member")
    member_id, made = _member(db, key_factory, "pilot3")
    from tasks.services import enqueue_sync

    enqueue_sync(grant_of(db, member_id, forum).id)
    wait_for(lambda: [e for e, _, _ in receiver.received()] != [], timeout=30, message="the grant event")

    _sign_in(page, "pilot3", "/services")
    assert page.get_by_test_id("my-services").locator('[data-service="forum"]').is_visible()

    elsewhere = sandbox.control("POST", "/corporations", json={"name": "Nowhere Inc", "ticker": "NOPE"})
    sandbox.control(
        "POST",
        f"/characters/{made['character_id']}/move",
        json={"corporation_id": elsewhere["corporation_id"]},
    )
    affiliation.gather([made["character_id"]])
    affiliation_round("full")  # the next round, without waiting for a batch to fill
    wait_for(
        lambda: db.session.get(User, member_id) is not None and _state(db, member_id) == "guest",
        timeout=30,
        message="the affiliation round to make the member a guest",
    )
    wait_for(
        lambda: [e["event"] for e, _, _ in receiver.received()] == ["grant", "revoke"],
        timeout=30,
        message=lambda: f"the revoke event; got {[e['event'] for e, _, _ in receiver.received()]}",
    )
    event, headers, body = receiver.received()[1]
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert event["user"]["state"] == "guest" and event["grant"]["status"] == "revoked"
    assert grant_of(db, member_id, wiki).status == "revoked"
    page.reload()
    assert page.get_by_test_id("my-services").locator("[data-service]").count() == 0
    assert "guest" in page.locator("main").inner_text()


def _state(db, user_id):
    db.session.expire_all()
    state = db.session.get(User, user_id).state
    db.session.commit()
    return state
