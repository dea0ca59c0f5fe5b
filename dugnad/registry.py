"""The registry of local organisations."""

from __future__ import annotations

from sqlalchemy import select
from stdnum.no import orgnr

from . import audit
from .extensions import db
from .lifecycle import Actor
from .models import Contact, Organization


def normalise_org_number(value: str) -> str:
    """'923 609 016' -> '923609016'; raises stdnum's ValidationError when invalid."""
    return orgnr.validate(value)


def find_by_org_number(municipality_id: int, number: str) -> Organization | None:
    return db.session.scalar(
        select(Organization).where(
            Organization.municipality_id == municipality_id,
            Organization.org_number == number,
        )
    )


def save_organization(
    organization: Organization, fields: dict, contact: dict | None, actor: Actor
) -> Organization:
    """Create or update an organisation and its primary contact."""
    is_new = organization.id is None
    for name, value in fields.items():
        setattr(organization, name, value)
    if is_new:
        db.session.add(organization)
    if contact and contact.get("name"):
        primary = organization.primary_contact
        if primary is None:
            primary = Contact(
                municipality_id=organization.municipality_id, is_primary=True
            )
            organization.contacts.append(primary)
        for name, value in contact.items():
            setattr(primary, name, value)
    db.session.flush()
    audit.record(
        organization.municipality_id,
        actor,
        "create" if is_new else "update",
        "organization",
        organization.id,
    )
    return organization
