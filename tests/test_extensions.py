"""The database helpers every area writes through."""

import pytest

from app.accounts.models import User
from app.extensions import write_transaction


class Refused(Exception):
    """A body that fails after it has changed something."""


def test_a_failed_write_transaction_leaves_nothing_pending_for_the_next_statement(db):
    """On every database, a body that fails is rolled back: what it changed is neither committed
    nor left in the session for whoever commits next."""
    with pytest.raises(Refused), write_transaction() as session:
        session.add(User(username="half-written", role="member", state="guest"))
        session.flush()
        raise Refused

    assert not db.session.new and not db.session.dirty
    db.session.add(User(username="written", role="member", state="guest"))
    db.session.commit()
    names = set(db.session.scalars(db.select(User.username)))
    assert names == {"written"}


def test_a_write_transaction_commits_its_body(db):
    with write_transaction() as session:
        session.add(User(username="kept", role="member", state="guest"))
    db.session.rollback()  # nothing pending: the body was committed
    assert db.session.scalars(db.select(User.username)).all() == ["kept"]
