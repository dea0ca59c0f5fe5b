"""The audit trail is append-only: the application's session refuses to change or delete an
event (on both databases), and on PostgreSQL the database itself refuses it (the trigger of
migration 0009), even for plain SQL. Adding events still works, and emptying the test
database (TRUNCATE on PostgreSQL, DELETE through Core on SQLite) is not hindered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import empty_database
from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from dugnad import audit
from dugnad.audit import AuditTrailIsAppendOnly
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import AuditEvent, Organization


@pytest.fixture
def event_id(app, factory):
    municipality = factory.municipality()
    with app.app_context():
        event = audit.record(municipality, Actor(label="Ola Nordmann", user_id=None), "create", "organization", 1,
                             details={"name": "Lag"})
        db.session.commit()
        return event.id


def _event(event_id: int) -> tuple:
    row = db.session.execute(
        select(AuditEvent.actor_label, AuditEvent.action, AuditEvent.details).where(AuditEvent.id == event_id)
    ).one()
    return tuple(row)


ORIGINAL = ("Ola Nordmann", "create", {"name": "Lag"})


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_adding_events_works(app, event_id):
    with app.app_context():
        assert _event(event_id) == ORIGINAL
        municipality_id = db.session.get(AuditEvent, event_id).municipality_id
        audit.record(municipality_id, Actor(label="Kari"), "update", "organization", 1)
        db.session.commit()
        assert db.session.scalar(select(func.count(AuditEvent.id))) == 2


@pytest.mark.parametrize("change", ["actor_label", "action", "details", "created_at"])
def test_changing_an_event_through_the_orm_is_refused(app, event_id, change):
    with app.app_context():
        event = db.session.get(AuditEvent, event_id)
        value = {"actor_label": "Noen andre", "action": "delete", "details": {"name": "Annet"},
                 "created_at": datetime(2000, 1, 1, tzinfo=UTC)}[change]
        setattr(event, change, value)
        with pytest.raises(AuditTrailIsAppendOnly, match="append-only"):
            db.session.commit()
        db.session.rollback()
        assert _event(event_id) == ORIGINAL


def test_setting_an_attribute_to_its_own_value_is_no_change(app, event_id):
    """A page that assigns what was there already is not refused (nothing would be written)."""
    with app.app_context():
        event = db.session.get(AuditEvent, event_id)
        event.actor_label = event.actor_label
        db.session.commit()
        assert _event(event_id) == ORIGINAL


def test_deleting_an_event_through_the_orm_is_refused(app, event_id):
    with app.app_context():
        db.session.delete(db.session.get(AuditEvent, event_id))
        with pytest.raises(AuditTrailIsAppendOnly, match="cannot be deleted"):
            db.session.commit()
        db.session.rollback()
        assert _event(event_id) == ORIGINAL


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: update(AuditEvent).values(actor_label="Noen andre"), id="orm-update"),
        pytest.param(lambda: update(AuditEvent).where(AuditEvent.id > 0).values(action="x")
                     .execution_options(synchronize_session=False), id="orm-update-unsynchronised"),
        pytest.param(lambda: delete(AuditEvent), id="orm-delete"),
        pytest.param(lambda: delete(AuditEvent).where(AuditEvent.action == "create")
                     .execution_options(synchronize_session="fetch"), id="orm-delete-fetch"),
        pytest.param(lambda: update(AuditEvent.__table__).values(actor_label="Noen andre"), id="core-update"),
        pytest.param(lambda: AuditEvent.__table__.delete(), id="core-delete"),
        pytest.param(lambda: text("UPDATE audit_event SET action = 'x'"), id="sql-update"),
        pytest.param(lambda: text("  delete from \"audit_event\" where id > 0"), id="sql-delete"),
        pytest.param(lambda: text("UPDATE OR REPLACE audit_event SET action = 'x'"), id="sql-update-or"),
    ],
)
def test_bulk_update_and_delete_through_the_session_are_refused(app, event_id, statement):
    with app.app_context():
        with pytest.raises(AuditTrailIsAppendOnly, match="append-only"):
            db.session.execute(statement())
        db.session.rollback()
        assert _event(event_id) == ORIGINAL


def test_other_tables_are_updated_and_deleted_as_before(app, factory):
    municipality = factory.municipality()
    organization_id = factory.organization(municipality, name="Før")
    with app.app_context():
        db.session.execute(update(Organization).where(Organization.id == organization_id).values(name="Etter"))
        db.session.commit()
        assert db.session.get(Organization, organization_id).name == "Etter"


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_event SET actor_label = 'Noen andre'", "DELETE FROM audit_event"],
)
def test_postgresql_refuses_plain_sql_changes(app, event_id, sql):
    """Past the application (plain SQL on a connection of its own): the trigger refuses."""
    with app.app_context():
        if not _postgresql():
            pytest.skip("the trigger is PostgreSQL's; SQLite has only the session's guard")
        engine = create_engine(db.engine.url)
        try:
            with pytest.raises(DBAPIError, match="audit_event is append-only"):
                with engine.begin() as connection:
                    connection.execute(text(sql))
            with engine.begin() as connection:
                # Adding still works on the same path.
                connection.execute(
                    AuditEvent.__table__.insert().values(
                        municipality_id=select(AuditEvent.municipality_id).where(AuditEvent.id == event_id).scalar_subquery(),
                        actor_label="Dugnad", action="create", object_type="organization", object_id=2,
                        created_at=datetime.now(UTC), ip="", user_agent="", details={},
                    )
                )
        finally:
            engine.dispose()
        assert _event(event_id) == ORIGINAL
        assert db.session.scalar(select(func.count(AuditEvent.id))) == 2


def test_the_trigger_is_there_on_postgresql(app):
    with app.app_context():
        if not _postgresql():
            pytest.skip("PostgreSQL only")
        triggers = db.session.scalars(
            text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass AND NOT tgisinternal")
        ).all()
        assert triggers == ["audit_event_append_only"]


def test_emptying_the_test_database_still_works(app, event_id, database_url):
    with app.app_context():
        db.session.remove()
    empty_database(database_url)
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id))) == 0


def test_nothing_in_the_app_changes_an_audit_event():
    """No code of the app updates or deletes audit events (the guard would stop it at run time)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    pattern = re.compile(r"(update|delete)\(\s*AuditEvent|UPDATE\s+audit_event|DELETE\s+FROM\s+audit_event", re.IGNORECASE)
    offenders = [
        str(path.relative_to(root))
        for folder in ("dugnad", "blueprints")
        for path in (root / folder).rglob("*.py")
        if path != root / "dugnad" / "audit.py"  # the guard itself names what it refuses
        and pattern.search(path.read_text())
    ]
    assert offenders == []
