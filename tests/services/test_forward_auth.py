"""GET /auth/forward/<service>: 200 with identity headers for an active grant; else 401, 403 or 404."""

from app.access.models import Grant
from app.keys.models import Key
from app.services.models import Service


def _service(db, slug="wiki", kind="forward_auth"):
    service = Service(slug=slug, name=slug.title(), kind=kind, directors_may_grant=True)
    service.settings = {"url": "http://127.0.0.1:9/x", "secret": "s" * 16} if kind == "webhook" else {}
    db.session.add(service)
    db.session.commit()
    return service


def test_forward_auth_answers_401_403_200_and_404(client, db, auth, key_factory):
    service = _service(db)
    _service(db, "forum", kind="webhook")
    assert client.get("/auth/forward/wiki").status_code == 401
    key_id, made, _ = key_factory(status="valid")
    user = db.session.get(Key, key_id).user
    user.username = "wikireader"
    user.set_password("correct horse battery")
    db.session.commit()
    auth.login("wikireader")
    assert client.get("/auth/forward/wiki").status_code == 403
    grant = Grant(user_id=user.id, service_id=service.id, status="active", source="manual")
    db.session.add(grant)
    db.session.commit()
    allowed = client.get("/auth/forward/wiki")
    assert allowed.status_code == 200
    assert allowed.headers["X-Bastion-User"] == str(user.id)
    assert allowed.headers["X-Bastion-Character"] == made["name"]
    assert allowed.headers["X-Bastion-Corporation"] == "Validation Corp"
    grant.status = "suspended"
    db.session.commit()
    assert client.get("/auth/forward/wiki").status_code == 403
    assert client.get("/auth/forward/nothing").status_code == 404
    assert client.get("/auth/forward/forum").status_code == 404  # not a forward-auth service
