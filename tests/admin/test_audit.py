"""The audit log names its targets: the kind and id, and what the target was called."""

from app.audit import AuditEntry
from app.corps.models import Character
from tests.keys.test_keys import add_character, login_new
from tests.support import csrf_token_from


def test_every_entry_names_its_target(app, client, db, sandbox, redis_client, make_user):
    login_new(client, sandbox, "Audit Main")
    add_character(client, sandbox, name="Audit Alt")
    page = client.get("/services").get_data(as_text=True)
    client.post("/services/direct-messages", data={"csrf_token": csrf_token_from(page), "enabled": "0"})
    alt = db.session.scalar(db.select(Character).filter_by(name="Audit Alt"))
    entries = {e.action: e for e in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))}
    added = [e for e in db.session.scalars(db.select(AuditEntry).filter_by(action="key.add"))]
    assert {(e.target_type, e.target_name) for e in added} == {("key", "Audit Main"), ("key", "Audit Alt")}
    assert all(e.target_id for e in added)
    assert (entries["notices.dm"].target_type, entries["notices.dm"].target_name) == ("user", "Audit Main")
    assert not any(e.target_type == "localproxy" for e in entries.values())
    assert all(e.target_type for e in db.session.scalars(db.select(AuditEntry)))

    admin = app.test_client()
    make_user(role="admin", username="auditor")
    from tests.fixtures.users import AuthActions

    AuthActions(admin).login("auditor")
    log = admin.get("/admin/audit").get_data(as_text=True)
    assert f"key:{alt.key.id}" in log and "Audit Alt" in log
    assert f'href="/admin/users/{alt.user_id}">Audit Main</a>' in log
