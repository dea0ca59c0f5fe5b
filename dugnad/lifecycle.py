"""The agreement's life: one transition table, one function that applies it.

Nothing else in Dugnad assigns `Agreement.state`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from . import audit
from .extensions import db
from .models import Agreement

STATES = (
    "draft",
    "sent",
    "accepted",
    "declined",
    "changes_requested",
    "signed",
    "withdrawn",
    "terminated",
)

#: (state, action) -> new state. Every pair not listed is illegal.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "send"): "sent",
    ("sent", "accept"): "accepted",
    ("sent", "decline"): "declined",
    ("sent", "request_changes"): "changes_requested",
    ("accepted", "countersign"): "signed",
    # A signed agreement ends early by one party's notice (date and reason in the audit event).
    ("signed", "terminate"): "terminated",
    # After a decline or a request for changes, staff revise a new draft.
    ("changes_requested", "revise"): "draft",
    ("declined", "revise"): "draft",
    ("draft", "withdraw"): "withdrawn",
    ("sent", "withdraw"): "withdrawn",
    ("accepted", "withdraw"): "withdrawn",
    ("changes_requested", "withdraw"): "withdrawn",
    ("declined", "withdraw"): "withdrawn",
}

ACTIONS = tuple(sorted({action for _, action in TRANSITIONS}))


class IllegalTransition(Exception):
    """The action is not allowed from the agreement's current state."""

    def __init__(self, state: str, action: str):
        super().__init__(f"cannot {action} an agreement that is {state}")
        self.state = state
        self.action = action


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit trail: a user, or a person following an emailed link."""

    label: str
    user_id: int | None = None
    ip: str = ""
    user_agent: str = ""


def allowed_actions(state: str) -> list[str]:
    return [action for (s, action) in TRANSITIONS if s == state]


def can(agreement: Agreement, action: str) -> bool:
    return (agreement.state, action) in TRANSITIONS


def apply_action(
    agreement: Agreement,
    action: str,
    actor: Actor,
    details: dict | None = None,
    also: dict | None = None,
) -> str:
    """Move the agreement by `action` and audit it, in the caller's transaction.

    The update is conditional on the state read, so of two racing requests (a
    double click, an answer against a withdrawal) exactly one wins; the other
    raises IllegalTransition and changes nothing. `also` sets other columns in
    the same UPDATE, for values tied to the state by check constraints.
    """
    from_state = agreement.state
    to_state = TRANSITIONS.get((from_state, action))
    if to_state is None:
        raise IllegalTransition(from_state, action)
    result = db.session.execute(
        update(Agreement)
        .where(Agreement.id == agreement.id, Agreement.state == from_state)
        .values(state=to_state, **(also or {}))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(agreement)
        raise IllegalTransition(agreement.state, action)
    # The row is already updated; keep the loaded object in step with it.
    set_committed_value(agreement, "state", to_state)
    for column, value in (also or {}).items():
        set_committed_value(agreement, column, value)
    audit.record(
        agreement.municipality_id,
        actor,
        action,
        "agreement",
        agreement.id,
        from_state=from_state,
        to_state=to_state,
        details=details,
    )
    return to_state
