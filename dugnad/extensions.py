"""Flask extensions, created once and initialised in the factory."""

from flask import has_request_context, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


#: How long a SQLite connection waits for another's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15_000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys; write-ahead logging, so readers never wait for a writer
    and a writer waits for no reader; and wait up to 15 s for another writer's lock instead
    of failing at once with "database is locked" (requests in several threads or workers)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Kept in the file once set; an in-memory database answers "memory" and stays so.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        # SQLite's own lower() folds only A-Z; searches for Æ, Ø and Å need a full one
        # (dugnad.registry.unicode_lower; PostgreSQL's lower() is full already).
        dbapi_connection.create_function("unicode_lower", 1, _lower, deterministic=True)


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """SQLite: a request that changes something takes the write lock when its transaction
    begins (BEGIN IMMEDIATE), waiting its turn behind the busy timeout. Otherwise the sqlite3
    module begins the transaction only at the first write, after the reads, and such a
    late start fails at once with "database is locked" whenever another request committed
    since those reads, however long the timeout (two administrators countersigning at once,
    each rendering a PDF between reading and writing; bench_load found it). Everything else
    (GET requests, cron commands, the mail worker) keeps the sqlite3 module's own deferred
    start. Sent on the driver's connection: it is not one of the app's queries (the query
    counts of pages and benches leave it out, as they leave out the module's own BEGIN)."""
    if connection.dialect.name != "sqlite":
        return
    if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def _lower(value):
    return value.lower() if isinstance(value, str) else value
