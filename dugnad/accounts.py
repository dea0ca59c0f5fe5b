"""Municipalities and their users (used by the admin pages and the CLI)."""

from __future__ import annotations

from . import audit
from .catalogue import DEFAULT_ACTIVITY_AREAS
from .extensions import db
from .lifecycle import Actor
from .models import ActivityArea, Municipality, User


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
