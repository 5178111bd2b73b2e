"""Messages a consumer cannot run reach the dead store with their raw content, never vanish; and a
task argument too large to be an id is refused with the same clear message as any other bad one."""

import base64

import pytest

from app.jobs import deadstore
from tests.support import csrf_token_from, wait_for


def _queue_raw(data, priority=50):
    """Put bytes on the queue exactly as a producer of another version (or a broken one) might."""
    from tasks import huey

    huey.storage.enqueue(data, priority)


def _message_for(name, args):
    """A well-formed queued message naming a task (perhaps one this version does not have)."""
    from huey.registry import Message

    from tasks import huey

    message = Message("poison-id", name, None, 0, 0, 50, tuple(args), {}, None, None, None, None)
    return huey.serializer.serialize(message)


def test_undecodable_and_unknown_messages_go_to_the_dead_store_with_their_raw_content(
    db, redis_client, consumer, client, login_as
):
    worker = consumer(periodic=False)
    garbage = b"\x00not a pickled huey message"
    _queue_raw(garbage)
    _queue_raw(_message_for("bastion.keys.renamed_in_the_next_release", [42]))
    wait_for(
        lambda: deadstore.count(redis_client) == 2,
        timeout=20,
        message=lambda: f"two poisoned messages in the dead store; log:\n{worker.log()[-2000:]}",
    )
    entries = {entry["name"]: entry for entry in deadstore.page(redis_client)}
    assert base64.b64decode(entries["undecodable message"]["raw"]) == garbage
    unknown = entries["bastion.keys.renamed_in_the_next_release"]
    assert unknown["args"] == [42] and unknown["task_id"] == "poison-id"
    assert "renamed_in_the_next_release" in unknown["error"]
    assert not deadstore.runnable(unknown)
    assert worker.alive  # the consumer went on working

    # The dashboard counts them; Retry is refused with a reason, Discard works.
    login_as("admin")
    page = client.get("/admin/queue").get_data(as_text=True)
    assert "cannot run" in page
    token = csrf_token_from(page)
    refused = client.post(
        f"/admin/queue/dead/{unknown['id']}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert "this version cannot run" in refused.get_data(as_text=True)
    assert deadstore.count(redis_client) == 2
    detail = client.get(f"/admin/queue/dead/{unknown['id']}").get_data(as_text=True)
    assert unknown["raw"][:40] in detail
    client.post(f"/admin/queue/dead/{unknown['id']}/discard", data={"csrf_token": token})
    assert deadstore.count(redis_client) == 1
    all_retried = client.post(
        "/admin/queue/dead/retry-all", data={"csrf_token": token}, follow_redirects=True
    )
    assert "1 left that this version cannot run" in all_retried.get_data(as_text=True)
    assert "queued again" not in all_retried.get_data(as_text=True)
    assert deadstore.count(redis_client) == 1
    last = deadstore.page(redis_client)[0]["id"]
    client.post(f"/admin/queue/dead/{last}/discard", data={"csrf_token": token})
    empty = client.post("/admin/queue/dead/retry-all", data={"csrf_token": token}, follow_redirects=True)
    assert "There were no dead tasks." in empty.get_data(as_text=True)


@pytest.mark.parametrize("value", [2**70, 2**63, 0, -3, True, "7", 1.5])
def test_an_id_that_is_not_a_positive_64_bit_whole_number_is_refused_clearly(value):
    from tasks.errors import TaskArgumentError, checked_id

    with pytest.raises(TaskArgumentError, match=r"key_id must be a positive whole number below 2\*\*63"):
        checked_id(value, "key_id")
    assert checked_id(2**63 - 1, "key_id") == 2**63 - 1


def test_validate_with_a_huge_id_fails_with_the_clear_message(app, db, redis_client):
    from tasks.errors import TaskArgumentError
    from tasks.keys import validate

    with (
        app.app_context(),
        pytest.raises(TaskArgumentError, match="below 2\\*\\*63, got 1180591620717411303424"),
    ):
        validate.call_local(2**70)
