"""Flask extensions, created unbound and initialised in create_app."""

import threading
from contextlib import contextmanager, nullcontext

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Use WAL and foreign keys on every SQLite connection (the busy timeout is set in create_app)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_sqlite_writer = threading.RLock()


@contextmanager
def write_transaction():
    """A short write transaction: committed when its body ends, rolled back when it fails, on
    every database; on SQLite, threads of one process also take turns on a mutex.

    SQLite has one writer at a time; a thread that finds it busy sleeps in SQLite's busy handler
    (1, 2, 5, 10 ms and more), which wastes most of the time under load. A mutex wakes the next
    writer at once. Other databases need no such thing.
    """
    with _sqlite_writer if db.engine.dialect.name == "sqlite" else nullcontext():
        try:
            yield db.session
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
