"""Grants from policy, by hand and by request; expiry; syncs through real webhook receivers."""

from datetime import timedelta

import pytest

from app.access import FollowUp, grants, requests
from app.access.models import AccessRequest, Grant
from app.access.reconcile import (
    reconcile_grants,
    reconcile_user,
    reconcile_user_grants,
    users_with_expired_grants,
)
from app.accounts.models import User
from app.audit import AuditEntry
from app.clock import utcnow
from app.keys.models import Key
from app.services.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from app.services.models import Service
from app.services.sync import sync_grant
from tasks.services import queue_follow_up
from tests.support import WebhookReceiver, add_alt, end_grace_periods

SECRET = "hook-secret-123"


@pytest.fixture()
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def _service(db, slug="forum", kind="webhook", auto="member", url=None, **fields):
    service = Service(
        slug=slug,
        name=slug.title(),
        kind=kind,
        auto_states=auto,
        **{"request_states": "member,blue", "directors_may_grant": True, **fields},
    )
    service.settings = (
        {"url": url or "http://127.0.0.1:9/none", "secret": SECRET} if kind == "webhook" else {}
    )
    db.session.add(service)
    db.session.commit()
    return service


def _member(db, key_factory, status="valid"):
    key_id, made, _ = key_factory(status=status, tracked="member")
    user = db.session.get(Key, key_id).user
    queue_follow_up(reconcile_user(user.id).follow_up)
    db.session.expire_all()
    return db.session.get(User, user.id), made


def _grant(db, user, service):
    db.session.expire_all()
    return db.session.scalars(db.select(Grant).filter_by(user_id=user.id, service_id=service.id)).first()


def test_policy_grants_are_reconciled_once_and_follow_the_state(db, key_factory, redis_client):
    service = _service(db)
    user, _ = _member(db, key_factory)
    grant = _grant(db, user, service)
    assert (grant.status, grant.source, grant.sync_status) == ("active", "policy", "pending")
    assert reconcile_grants(user) == FollowUp()  # a second run changes nothing
    db.session.commit()
    assert (
        db.session.scalar(db.select(db.func.count()).select_from(AuditEntry).filter_by(action="grant.active"))
        == 1
    )
    user.main_character.corporation.tracked_as = None
    db.session.commit()
    queue_follow_up(reconcile_user(user.id).follow_up)
    grant = _grant(db, user, service)
    assert (grant.status, grant.reason) == ("revoked", "Not given automatically to guests.")


def test_a_strict_service_is_suspended_while_any_key_is_invalid_naming_its_character(
    db, key_factory, redis_client, sandbox
):
    service = _service(db, strict=True)
    user, made = _member(db, key_factory)
    alt_id = add_alt(db, sandbox, user.id, name="Strict Alt", corporation_id=made["corporation_id"])
    db.session.scalars(db.select(Key).filter_by(character_id=alt_id)).one().status = "invalid"
    db.session.commit()
    queue_follow_up(reconcile_user_grants(user))
    grant = _grant(db, user, service)
    assert (grant.status, grant.ending_reason) == ("active", "The key of Strict Alt is invalid.")
    assert grant.ends_at > utcnow() + timedelta(hours=23)  # ACCESS_GRACE: a day to renew the key
    assert end_grace_periods(db) == 1
    queue_follow_up(reconcile_user_grants(user))
    grant = _grant(db, user, service)
    assert (grant.status, grant.ends_at) == ("suspended", None)
    assert grant.reason == "The key of Strict Alt is invalid."


def test_a_manual_grant_expires_and_a_request_waits_for_approval(db, key_factory, make_user, redis_client):
    service = _service(db, slug="wiki", auto="", requires_approval=True)
    director = make_user(role="director")
    user, _ = _member(db, key_factory)
    grants.grant_manually(
        user, service, director, expires_at=utcnow() + timedelta(seconds=30), reason="Op week"
    )
    assert _grant(db, user, service).status == "active"
    assert users_with_expired_grants(utcnow() + timedelta(seconds=31)) == [user.id]
    grant = _grant(db, user, service)
    grant.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert users_with_expired_grants() == [user.id]
    queue_follow_up(reconcile_user_grants(user))
    assert (_grant(db, user, service).status, _grant(db, user, service).reason) == (
        "revoked",
        "The grant expired.",
    )

    request, _ = requests.request_access(user, service, note="I edit the fitting pages")
    assert request.status == "pending" and _grant(db, user, service).status == "revoked"
    with pytest.raises(grants.AccessRefused, match="waiting for a director already"):
        requests.request_access(user, service)
    requests.decide(db.session.get(AccessRequest, request.id), director, approve=True, reason="Welcome")
    assert _grant(db, user, service).status == "active"
    with pytest.raises(grants.AccessRefused, match="approved already"):
        requests.decide(db.session.get(AccessRequest, request.id), director, approve=False)
    grants.revoke_manually(_grant(db, user, service), director, reason="Left the wiki team")
    assert _grant(db, user, service).status == "revoked"


def test_a_service_given_by_policy_cannot_be_revoked_by_hand(db, key_factory, make_user, redis_client):
    service = _service(db)
    user, _ = _member(db, key_factory)
    with pytest.raises(grants.AccessRefused, match="automatically"):
        grants.revoke_manually(_grant(db, user, service), make_user(role="director"))


def test_a_webhook_gets_signed_grant_and_revoke_events(db, key_factory, receiver, redis_client):
    service = _service(db, url=receiver.url)
    user, made = _member(db, key_factory)
    grant = _grant(db, user, service)
    assert sync_grant(grant.id).action == "done"
    assert sync_grant(grant.id).action == "nothing"  # in sync: nothing is sent twice
    user.main_character.corporation.tracked_as = None
    db.session.commit()
    queue_follow_up(reconcile_user(user.id).follow_up)
    assert sync_grant(grant.id).action == "done"
    events = receiver.received()
    assert [e["event"] for e, _, _ in events] == ["grant", "revoke"]
    first, headers, body = events[0]
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify("another secret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert first["character"]["name"] == made["name"] and first["corporation"]["ticker"] == "VAL"
    grant = _grant(db, user, service)
    assert (grant.sync_status, grant.provisioned) == ("synced", False)


def test_a_failing_receiver_is_retried_and_a_refusing_one_fails_the_sync(
    db, key_factory, receiver, redis_client
):
    service = _service(db, url=receiver.url)
    user, _ = _member(db, key_factory)
    grant = _grant(db, user, service)
    receiver.status = 503
    outcome = sync_grant(grant.id, attempt=1)
    assert outcome.action == "retry" and outcome.delay > 0
    assert "trying again" in _grant(db, user, service).sync_error
    receiver.status = 400
    assert sync_grant(grant.id, attempt=2).action == "failed"
    grant = _grant(db, user, service)
    assert (grant.sync_status, grant.sync_error) == ("failed", "the receiver refused the event (400)")
    receiver.status = 200
    assert sync_grant(grant.id).action == "done"


def test_a_sync_lost_on_the_way_is_queued_again(db, key_factory, redis_client):
    from datetime import timedelta

    from tasks import huey
    from tasks.services import resync

    service = _service(db)
    user, _ = _member(db, key_factory)
    grant = _grant(db, user, service)
    redis_client.flushdb()  # the queued sync is lost with Redis
    assert resync.call_local() == 0  # too recent: its sync may still be on its way
    grant.updated_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert resync.call_local() == 1
    assert huey.pending_count() == 1


def test_a_member_who_moves_between_tracked_corporations_gets_an_update_event(
    db, key_factory, receiver, redis_client
):
    from app.corps.models import Corporation

    service = _service(db, url=receiver.url)
    user, _ = _member(db, key_factory)
    grant = _grant(db, user, service)
    assert sync_grant(grant.id).action == "done"
    assert reconcile_grants(user) == FollowUp()  # nothing changed: nothing to tell
    db.session.add(Corporation(id=98000999, name="Second Corp", ticker="SCND", tracked_as="member"))
    user.main_character.corporation_id = 98000999
    db.session.commit()
    queue_follow_up(reconcile_user(user.id).follow_up)
    assert sync_grant(grant.id).action == "done"
    events = [e for e, _, _ in receiver.received()]
    assert [e["event"] for e in events] == ["grant", "update"]
    assert events[1]["corporation"]["ticker"] == "SCND"
    assert reconcile_grants(db.session.get(User, user.id)) == FollowUp()


def test_a_sync_held_back_by_its_services_backoff_shows_and_gives_up_in_time(
    app, db, key_factory, receiver, redis_client
):
    import time

    from app.overview import overview

    service = _service(db, url=receiver.url)
    user, _ = _member(db, key_factory)
    grant = _grant(db, user, service)
    receiver.status = 503
    for _ in range(5):  # the receiver fails: its governor backs off after a run of 5xx
        assert sync_grant(grant.id, attempt=1).action == "retry"
    held = sync_grant(grant.id, attempt=1)
    assert held.action == "wait" and held.waiting_since is not None
    assert receiver.received()[-1][0]["event"] == "grant" and len(receiver.received()) == 5  # none sent
    grant = _grant(db, user, service)
    assert grant.sync_error.startswith("Held back: webhook:forum is in backoff")
    assert grant.sync_wait == "service"
    assert overview()["held_syncs"] == 1  # the dashboard shows it
    waited = app.config["SYNC_MAX_WAIT"] + 1
    gave_up = sync_grant(grant.id, attempt=1, waiting_since=time.time() - waited)
    assert gave_up.action == "give_up"
    grant = _grant(db, user, service)
    assert grant.sync_status == "failed" and "held this sync back" in grant.sync_error
    assert grant.sync_wait is None
    assert overview()["failed_syncs"] == 1
