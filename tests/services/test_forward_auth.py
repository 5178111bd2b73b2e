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


def test_the_401_points_at_the_login_page_with_the_visited_address(app, client, db, monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    _service(db)
    monkeypatch.setitem(app.config, "FORWARD_AUTH_DOMAINS", ["example.org"])
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://auth.example.org")
    nginx = client.get("/auth/forward/wiki", headers={"X-Original-URL": "https://wiki.example.org/a?b=c&d=e"})
    assert nginx.status_code == 401
    login = urlsplit(nginx.headers["Location"])
    assert (login.scheme, login.netloc, login.path) == ("https", "auth.example.org", "/login")
    assert parse_qs(login.query)["rd"] == ["https://wiki.example.org/a?b=c&d=e"]
    # Traefik and Caddy: the address in X-Forwarded-*, and a 302 the proxy passes on.
    traefik = client.get(
        "/auth/forward/wiki?redirect=1",
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "wiki.example.org",
            "X-Forwarded-Uri": "/x",
        },
    )
    assert traefik.status_code == 302
    assert parse_qs(urlsplit(traefik.headers["Location"]).query)["rd"] == ["https://wiki.example.org/x"]
    # An address outside the allowed domains is not carried to the login page.
    elsewhere = client.get("/auth/forward/wiki", headers={"X-Original-URL": "https://evil.example.net/"})
    assert elsewhere.headers["Location"] == "https://auth.example.org/login"


def test_any_name_reaches_the_app_through_the_identity_headers(client, db, auth, key_factory):
    """A name outside Latin-1 (Cyrillic, Japanese, an emoji) or with a "%" arrives percent-encoded
    as UTF-8, so no proxy drops the connection; an ASCII name arrives as it is."""
    from urllib.parse import unquote

    from app.corps.models import Character

    service = _service(db)
    key_id, made, _ = key_factory(status="valid")
    user = db.session.get(Key, key_id).user
    user.username = "wikireader"
    user.set_password("correct horse battery")
    db.session.add(Grant(user_id=user.id, service_id=service.id, status="active", source="manual"))
    db.session.commit()
    auth.login("wikireader")
    for name, corporation in [("Владимир Пилот", "星の会社 100% 🚀"), ("Val Pilot", "Validation Corp")]:
        character = db.session.get(Character, made["character_id"])
        character.name, character.corporation.name = name, corporation
        db.session.commit()
        answer = client.get("/auth/forward/wiki")
        assert answer.status_code == 200
        sent = answer.headers["X-Bastion-Character"], answer.headers["X-Bastion-Corporation"]
        assert all(value.isascii() for value in sent)
        assert [unquote(value) for value in sent] == [name, corporation]
    assert sent == ("Val Pilot", "Validation Corp")
