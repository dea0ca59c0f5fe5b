"""Upgrading an empty SQLite and an empty PostgreSQL database to head gives the
tables the models declare (no drift), and downgrading to base removes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import OperationalError

from app import create_app
from dugnad.extensions import db
from dugnad.timeutil import UTCDateTime

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = str(ROOT / "migrations")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def _diff(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            # As migrations/env.py configures autogenerate: compare column types too.
            connection, opts={"compare_type": True}
        )
        return compare_metadata(context, db.metadata)


def _describe(item) -> str:
    """One difference, readable: ('add_fk', ForeignKeyConstraint agreement.fk_...) and so on."""
    if isinstance(item, list):  # column modifications come grouped
        return "; ".join(map(_describe, item))
    parts = []
    for part in item:
        name = getattr(part, "name", None)
        if name is None:
            parts.append(repr(part))
        else:
            table = getattr(getattr(part, "table", None), "name", None)
            parts.append(f"{type(part).__name__} {table + '.' if table else ''}{name}")
    return " ".join(parts)


def _tables(app) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _check_upgrade_and_downgrade(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    try:
        with app.app_context():
            upgrade(directory=MIGRATIONS)

        declared = set(db.metadata.tables)
        assert _tables(app) == declared | {"alembic_version"}
        diff = _diff(app)
        assert diff == [], "the migrations differ from the models:\n" + "\n".join(map(_describe, diff))

        with app.app_context():
            downgrade(directory=MIGRATIONS, revision="base")
        assert _tables(app) == {"alembic_version"}
        with app.app_context():
            assert db.session.execute(text("SELECT version_num FROM alembic_version")).all() == []

        # And back up again: the downgrade left nothing behind that gets in the way.
        with app.app_context():
            upgrade(directory=MIGRATIONS)
        assert _diff(app) == []
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_utc_datetime_columns_are_among_those_compared():
    """compare_type=True gives no false positive for the UTCDateTime decorator: Alembic
    compares the DDL it compiles to (DATETIME / TIMESTAMP WITHOUT TIME ZONE), its impl.
    The drift tests below would fail if that changed; this one makes sure they cover it."""
    utc_columns = [c for t in db.metadata.tables.values() for c in t.columns if isinstance(c.type, UTCDateTime)]
    assert len(utc_columns) > 10


def test_sqlite_upgrade_matches_models_and_downgrade_empties(tmp_path):
    _check_upgrade_and_downgrade(f"sqlite:///{tmp_path / 'migrations.sqlite'}")


def _postgres_server_url() -> str:
    """The server of TEST_DATABASE_URL when it is PostgreSQL, else a local default."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        url = DEFAULT_POSTGRES
    url = url.replace("postgres://", "postgresql://", 1).replace("postgresql://", "postgresql+psycopg://", 1)
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture
def empty_postgres_url():
    """A fresh database of its own on the PostgreSQL server, dropped afterwards."""
    server = create_engine(_postgres_server_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        server.connect().close()
    except OperationalError as exc:
        server.dispose()
        reason = f"PostgreSQL is not reachable at {_postgres_server_url()}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    # Per process, so two runs at once do not share it.
    name = f"dugnad_migrations_test_{os.getpid()}"
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(_postgres_server_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_postgresql_upgrade_matches_models_and_downgrade_empties(empty_postgres_url):
    _check_upgrade_and_downgrade(empty_postgres_url)
