"""Fixtures the service tests share."""

import pytest

CALLBACK = "https://forum.example.org/auth/callback"


@pytest.fixture()
def forum(db, make_user):
    """An OpenID Connect service, its client, and a member holding it; (client id, secret, member)."""
    from app.access.grants import grant_manually
    from app.accounts.models import User
    from app.oidc.clients import ensure_client
    from app.services.models import Service

    service = Service(slug="forum", name="Forum", kind="oidc", directors_may_grant=True)
    db.session.add(service)
    made, secret = ensure_client(service, [CALLBACK])
    member = make_user(username="reader", state="member")
    admin = make_user(role="admin", username="giver")
    grant_manually(db.session.get(User, member.id), service, db.session.get(User, admin.id))
    db.session.commit()
    return made.client_id, secret, member
