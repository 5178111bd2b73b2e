"""ESI's bucket limits are kept per bucket: one character's spent char-detail bucket holds back
that character's roles calls only; other characters' checks and the rest of ESI go on."""

from app.jobs import redis_keys
from app.jobs.setup import get_governor
from app.keys.models import Key
from app.keys.validation import validate_key
from tests.support import TEST_CLIENT_ID


def check(key_id):
    verdict = validate_key(key_id, "tests")
    while verdict.action == "wait" and verdict.message == "slot":
        verdict = validate_key(key_id, "tests", slot=verdict.slot, now_ts=verdict.slot)
    return verdict


def _again(db, key_id):
    """Make the key due and check it."""
    from app.clock import utcnow

    db.session.expire_all()
    key = db.session.get(Key, key_id)
    key.next_check_at = utcnow()
    db.session.commit()
    verdict = check(key_id)
    db.session.expire_all()
    return verdict, db.session.get(Key, key_id).status


def _roles_spent(sandbox, character_id):
    """Tokens of the character's char-detail bucket the sandbox counted in its window."""
    entries = sandbox.universe.buckets.get(
        ("char-detail", f"{TEST_CLIENT_ID}:CHARACTER:EVE:{character_id}"), []
    )
    return sum(cost for _, cost in entries)


def test_one_characters_spent_bucket_holds_back_only_its_own_roles_calls(
    db, sandbox, key_factory, redis_client, client, login_as
):
    sandbox.configure(bucket_limits={"char-detail": 10, "corp-member": 300, "status": 600})
    first_key, first, _ = key_factory(status="valid")
    second_key, second, _ = key_factory(status="valid")
    for _ in range(3):  # 2 tokens a call: 6 of 10 spent, 4 left (within the reserve a 4xx needs)
        assert _again(db, first_key)[1] == "valid"
    spent = _roles_spent(sandbox, first["character_id"])
    assert spent >= 6
    governor = get_governor()
    assert governor.buckets.gate("/characters/{id}/roles", f"character:{first['character_id']}")[0] is False

    # The first character's next checks make no roles call; the key stays valid.
    verdict, status = _again(db, first_key)
    assert verdict.action == "done" and status == "valid"
    assert _roles_spent(sandbox, first["character_id"]) == spent
    # The second character's check asks for its roles as usual, and ESI is not backed off.
    before = _roles_spent(sandbox, second["character_id"])
    assert _again(db, second_key)[1] == "valid"
    assert _roles_spent(sandbox, second["character_id"]) == before + 2
    assert governor.state("esi")["state"] == "ok"
    near = governor.state("esi")["buckets"]
    assert near[0]["who"] == f"character:{first['character_id']}" and near[0]["group"] == "char-detail"

    # Had Bastion lost what it knew (Redis flushed) and met ESI's 429, only that bucket waits.
    redis_client.delete(redis_keys.bucket("char-detail", f"character:{first['character_id']}"))
    sandbox.configure(bucket_limits={"char-detail": 6, "corp-member": 300, "status": 600})
    assert _again(db, first_key)[1] == "valid"
    assert sandbox.stats()["esi_429"] >= 1
    ok, wait = governor.buckets.gate("/characters/{id}/roles", f"character:{first['character_id']}")
    assert ok is False and 60 < wait <= 900  # blocked until ESI's Retry-After
    assert governor.state("esi")["state"] == "ok"  # not the whole of ESI
    before = _roles_spent(sandbox, second["character_id"])
    assert _again(db, second_key)[1] == "valid"
    assert _roles_spent(sandbox, second["character_id"]) == before + 2
    # The dashboard shows the buckets near their end.
    login_as("admin", username="bucket-admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="buckets"' in page and f"char-detail · character {first['character_id']}" in page
