"""The audit trail: one row per thing that happened, written with the change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .extensions import db
from .models import AuditEvent

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
