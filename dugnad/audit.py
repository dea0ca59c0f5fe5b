"""The audit trail: one row per thing that happened, written with the change.

The trail is append-only for the application: the session refuses to change or delete
an event (both databases), and on PostgreSQL a trigger (migration 0009) refuses it too,
whatever code or person holding the app's credentials tries.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Delete, Select, TextClause, Update, and_, event, exists, or_, select
from sqlalchemy.orm import ORMExecuteState, Session

from .extensions import db
from .models import AuditEvent
from .timeutil import OSLO, to_oslo

if TYPE_CHECKING:
    from .lifecycle import Actor


def record(
    municipality_id: int,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int,
    from_state: str | None = None,
    to_state: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        municipality_id=municipality_id,
        actor_user_id=actor.user_id,
        actor_label=actor.label[:250],
        action=action,
        object_type=object_type,
        object_id=object_id,
        from_state=from_state,
        to_state=to_state,
        ip=actor.ip[:45],
        user_agent=actor.user_agent[:400],
        details=details or {},
    )
    db.session.add(event)
    return event


# --- Append-only --------------------------------------------------------------------------


class AuditTrailIsAppendOnly(RuntimeError):
    """Something tried to change or delete an audit event. Nothing is written: the flush
    or statement is stopped before it reaches the database."""


@event.listens_for(Session, "before_flush")
def _refuse_changed_events(session: Session, flush_context, instances) -> None:
    # Every Session class (Flask-SQLAlchemy's included): a listener on the base class.
    for instance in session.deleted:
        if isinstance(instance, AuditEvent):
            raise AuditTrailIsAppendOnly(f"audit event {instance.id} cannot be deleted: the audit trail is append-only")
    for instance in session.dirty:
        # is_modified: an attribute set to the value it had is no change.
        if isinstance(instance, AuditEvent) and session.is_modified(instance):
            raise AuditTrailIsAppendOnly(f"audit event {instance.id} cannot be changed: the audit trail is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    """Bulk UPDATE or DELETE of the trail through a session: ORM, Core or plain SQL."""
    statement = state.statement
    # An ORM statement's table is an annotated copy of the Table: compare by name.
    if isinstance(statement, Update | Delete) and getattr(statement.table, "name", None) == AuditEvent.__tablename__:
        verb = "UPDATE" if isinstance(statement, Update) else "DELETE"
        raise AuditTrailIsAppendOnly(f"{verb} of audit_event refused: the audit trail is append-only")
    if isinstance(statement, TextClause) and _CHANGE_SQL.match(statement.text):
        raise AuditTrailIsAppendOnly("SQL changing audit_event refused: the audit trail is append-only")


#: Plain SQL given to the session that would change the trail (SQLite has no trigger).
_CHANGE_SQL = re.compile(r"\s*(UPDATE\s+(OR\s+\w+\s+)?|DELETE\s+FROM\s+)\"?audit_event\b", re.IGNORECASE)


# --- The audit log page and its export ------------------------------------------------------

#: The user filter's value for events without a user: the organisation (behind an emailed
#: link) or the system (cron commands).
NO_USER = "none"


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log shows; all of it comes from the URL's query string."""

    object_type: str = ""
    object_id: int | None = None
    #: A user id, NO_USER, or "" for everyone.
    user: str = ""
    from_date: date | None = None
    to_date: date | None = None


def _day_start(day: date) -> datetime:
    """Midnight in Norway on `day`, as UTC (the stored times are UTC)."""
    return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(UTC)


def filtered(municipality_id: int, audit_filter: AuditFilter) -> Select:
    """The municipality's events that pass the filter (not yet ordered)."""
    statement = select(AuditEvent).where(AuditEvent.municipality_id == municipality_id)
    if audit_filter.object_type:
        statement = statement.where(AuditEvent.object_type == audit_filter.object_type)
        if audit_filter.object_id is not None:
            statement = statement.where(AuditEvent.object_id == audit_filter.object_id)
    if audit_filter.user == NO_USER:
        statement = statement.where(AuditEvent.actor_user_id.is_(None))
    elif audit_filter.user:
        statement = statement.where(AuditEvent.actor_user_id == int(audit_filter.user))
    if audit_filter.from_date:
        statement = statement.where(AuditEvent.created_at >= _day_start(audit_filter.from_date))
    if audit_filter.to_date:
        # To and including the day: before the next day's midnight in Norway.
        statement = statement.where(AuditEvent.created_at < _day_start(audit_filter.to_date + timedelta(days=1)))
    return statement


def _older_than(cursor: AuditEvent):
    # The first term lets the (municipality_id, created_at) index bound the scan.
    return and_(
        AuditEvent.created_at <= cursor.created_at,
        or_(AuditEvent.created_at < cursor.created_at, AuditEvent.id < cursor.id),
    )


def _newer_than(cursor: AuditEvent):
    return and_(
        AuditEvent.created_at >= cursor.created_at,
        or_(AuditEvent.created_at > cursor.created_at, AuditEvent.id > cursor.id),
    )


NEWEST_FIRST = (AuditEvent.created_at.desc(), AuditEvent.id.desc())
OLDEST_FIRST = (AuditEvent.created_at.asc(), AuditEvent.id.asc())


@dataclass
class Page:
    events: list[AuditEvent]
    has_newer: bool
    has_older: bool


def cursor_event(municipality_id: int, value: str) -> AuditEvent | None:
    """The event a page link starts from, if `value` names one of the municipality's."""
    if not value.isascii() or not value.isdigit() or len(value) > 10 or not 0 < int(value) < 2**31:
        return None
    return db.session.scalar(
        select(AuditEvent).where(AuditEvent.municipality_id == municipality_id, AuditEvent.id == int(value))
    )


def page(
    municipality_id: int,
    audit_filter: AuditFilter,
    size: int,
    before: AuditEvent | None = None,
    after: AuditEvent | None = None,
) -> Page:
    """One page of events, newest first: the newest ones, those older than `before`, or those
    newer than `after`. Keyset paging: every page costs the same, however far back it is
    (an OFFSET would read and skip every event before it)."""
    statement = filtered(municipality_id, audit_filter)
    if after is not None:
        rows = db.session.scalars(statement.where(_newer_than(after)).order_by(*OLDEST_FIRST).limit(size + 1)).all()
        events = list(reversed(rows[:size]))
        has_newer = len(rows) > size
        has_older = bool(events) and _exists(statement.where(_older_than(events[-1])))
    else:
        if before is not None:
            statement_page = statement.where(_older_than(before))
        else:
            statement_page = statement
        rows = db.session.scalars(statement_page.order_by(*NEWEST_FIRST).limit(size + 1)).all()
        events = list(rows[:size])
        has_older = len(rows) > size
        has_newer = bool(events) and before is not None and _exists(statement.where(_newer_than(events[0])))
    return Page(events=events, has_newer=has_newer, has_older=has_older)


def _exists(statement: Select) -> bool:
    return bool(db.session.scalar(select(exists(statement.with_only_columns(AuditEvent.id).limit(1)))))


def format_moment(value: datetime) -> str:
    """'04.12.2026 14:02:11 (CET, Europe/Oslo)': to the second, the zone named."""
    local = to_oslo(value)
    return f"{local.strftime('%d.%m.%Y %H:%M:%S')} ({local.tzname()}, Europe/Oslo)"


def export_csv(
    municipality_id: int,
    audit_filter: AuditFilter,
    columns: list[str],
    action_labels: dict,
    object_labels: dict,
    state_labels: dict,
) -> Iterator[bytes]:
    """Every event that passes the filter, newest first, as CSV (UTF-8 with BOM and
    semicolons, as Excel in Norway opens it), yielded in chunks: the rows are read from
    the database as they are written, so a municipality's whole trail never sits in memory.
    Text typed by people (names, user agents) is never run as a formula."""
    from .meetings import _cell  # the one formula-safe cell; imported here: meetings imports this module

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow(columns)
    statement = filtered(municipality_id, audit_filter).order_by(*NEWEST_FIRST)
    for number, item in enumerate(db.session.scalars(statement.execution_options(yield_per=500)), start=1):
        writer.writerow([
            _cell(value)
            for value in (
                format_moment(item.created_at),
                item.actor_label,
                action_labels.get(item.action, item.action),
                f"{object_labels.get(item.object_type, item.object_type)} {item.object_id}",
                state_labels.get(item.from_state, item.from_state),
                state_labels.get(item.to_state, item.to_state),
                item.ip,
                item.user_agent,
                json.dumps(item.details or {}, ensure_ascii=False, sort_keys=True),
            )
        ])
        if number % 500 == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")
