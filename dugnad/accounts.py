"""Municipalities and their users (used by the admin pages and the CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from . import audit
from .catalogue import DEFAULT_ACTIVITY_AREAS
from .extensions import db
from .lifecycle import Actor
from .models import ActivityArea, AuditEvent, Municipality, User
from .timeutil import now_utc

#: Countersigning asks for the password again; this many wrong ones in a row,
#: within the window, stop further attempts for the length of the window.
COUNTERSIGN_MAX_FAILURES = 5
COUNTERSIGN_LOCK = timedelta(minutes=15)
COUNTERSIGN_PASSWORD_FAILED = "countersign_password_failed"


def create_municipality(name: str, kommunenummer: str, org_number: str, address: str = "") -> Municipality:
    """A new tenant, with the seed activity catalogue."""
    municipality = Municipality(
        name=name, kommunenummer=kommunenummer, org_number=org_number, address=address
    )
    db.session.add(municipality)
    db.session.flush()
    db.session.add_all(
        ActivityArea(municipality_id=municipality.id, name=name, position=position)
        for position, name in enumerate(DEFAULT_ACTIVITY_AREAS)
    )
    return municipality


def create_user(
    municipality_id: int | None,
    email: str,
    name: str,
    role: str,
    password: str,
    title: str = "",
    actor: Actor | None = None,
) -> User:
    user = User(
        municipality_id=municipality_id,
        email=email.strip().lower(),
        name=name.strip(),
        role=role,
        title=title.strip(),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    if municipality_id is not None:
        audit.record(
            municipality_id, actor or Actor(label="flask create-user"), "create", "user", user.id
        )
    return user


def countersign_locked_until(user: User) -> datetime | None:
    """When `user` may try to countersign again, if too many wrong passwords in a row
    stopped them; None when they may try now.

    Counted from the audit trail, not the session, so every app server sees the
    same attempts. A countersignature by the user ends a run of failures."""
    now = now_utc()
    since = now - 2 * COUNTERSIGN_LOCK  # a run that still locks began no earlier
    mine = (AuditEvent.municipality_id == user.municipality_id, AuditEvent.actor_user_id == user.id)
    last_signed = db.session.scalar(
        select(func.max(AuditEvent.created_at)).where(*mine, AuditEvent.action == "countersign")
    )
    if last_signed is not None and last_signed > since:
        since = last_signed
    failures = db.session.scalars(
        select(AuditEvent.created_at)
        .where(*mine, AuditEvent.action == COUNTERSIGN_PASSWORD_FAILED, AuditEvent.created_at > since)
        .order_by(AuditEvent.created_at)
    ).all()
    first = COUNTERSIGN_MAX_FAILURES - 1
    for last in range(len(failures) - 1, first - 1, -1):
        if failures[last] - failures[last - first] <= COUNTERSIGN_LOCK and failures[last] + COUNTERSIGN_LOCK > now:
            return failures[last] + COUNTERSIGN_LOCK
    return None


def confirm_password_to_countersign(user: User, password: str, actor: Actor, agreement_id: int) -> bool:
    """Whether `password` is the user's; a wrong one is written to the audit trail
    (without the password), where countersign_locked_until counts it."""
    if user.check_password(password):
        return True
    audit.record(
        user.municipality_id, actor, COUNTERSIGN_PASSWORD_FAILED, "user", user.id,
        details={"agreement_id": agreement_id},
    )
    db.session.flush()
    return False
