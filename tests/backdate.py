"""Moving audit events back in time, as if the clock had run on (reminders, lock-outs).

The audit trail is append-only for the application: the session refuses to change an event
(dugnad.audit) and on PostgreSQL a trigger refuses it too (migration 0009). A test that needs
an older event goes past both, as no code of the app does: Core statements on a connection of
its own, with PostgreSQL's triggers off for that one transaction only
(`session_replication_role`, which only a superuser, such as the test database's, may set).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text, update

from dugnad.extensions import db
from dugnad.models import AuditEvent


def backdate_audit_events(app, by: timedelta, *conditions) -> int:
    """Move the events matching `conditions` (on AuditEvent's columns) `by` back; their count."""
    table = AuditEvent.__table__
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        rows = connection.execute(select(table.c.id, table.c.created_at).where(*conditions)).all()
        for event_id, created_at in rows:
            connection.execute(update(table).where(table.c.id == event_id).values(created_at=created_at - by))
    return len(rows)
