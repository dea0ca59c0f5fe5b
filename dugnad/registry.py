"""The registry of local organisations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, func, not_, or_, select
from stdnum.no import orgnr

from . import audit
from .extensions import db
from .lifecycle import Actor
from .models import Agreement, Contact, Invitation, Organization, organization_activity

#: Where an organisation stands in the workflow, furthest step first.
STAGES = ("signed", "in_agreement", "answered", "invited", "not_invited")

#: Agreements that are under way (not signed, not withdrawn).
OPEN_AGREEMENT_STATES = ("draft", "sent", "accepted", "declined", "changes_requested")

SORTS = {
    "name": (Organization.name, Organization.id),
    "-name": (Organization.name.desc(), Organization.id.desc()),
    "created": (Organization.created_at, Organization.id),
    "-created": (Organization.created_at.desc(), Organization.id.desc()),
}


@dataclass(frozen=True)
class RegistryFilter:
    """What the registry list shows; every field comes from the URL's query string."""

    q: str = ""
    org_type: str = ""
    activity_area_id: int | None = None
    stage: str = ""
    sort: str = "name"


def _has_agreement(*states: str):
    return exists().where(
        Agreement.organization_id == Organization.id, Agreement.state.in_(states)
    )


def _has_invitation(answered: bool = False):
    condition = Invitation.organization_id == Organization.id
    if answered:
        condition = and_(condition, Invitation.answered_at.is_not(None))
    return exists().where(condition)


def stage_condition(stage: str):
    """SQL for 'the furthest step this organisation has reached is `stage`'."""
    signed = _has_agreement("signed")
    in_agreement = _has_agreement(*OPEN_AGREEMENT_STATES)
    answered = _has_invitation(answered=True)
    invited = _has_invitation()
    return {
        "signed": signed,
        "in_agreement": and_(in_agreement, not_(signed)),
        "answered": and_(answered, not_(in_agreement), not_(signed)),
        "invited": and_(invited, not_(answered), not_(in_agreement), not_(signed)),
        "not_invited": and_(not_(invited), not_(in_agreement), not_(signed)),
    }[stage]


def registry_query(municipality_id: int, registry_filter: RegistryFilter) -> Select:
    """The municipality's organisations (not deleted) matching the filter, sorted."""
    f = registry_filter
    statement = select(Organization).where(
        Organization.municipality_id == municipality_id, Organization.deleted_at.is_(None)
    )
    if f.q:
        like = f"%{f.q.lower()}%"
        contact_match = select(Contact.organization_id).where(
            Contact.municipality_id == municipality_id,
            or_(func.lower(Contact.name).like(like), func.lower(Contact.email).like(like)),
        )
        statement = statement.where(
            or_(
                func.lower(Organization.name).like(like),
                Organization.org_number.like(f"%{f.q.replace(' ', '')}%"),
                Organization.id.in_(contact_match),
            )
        )
    if f.org_type:
        statement = statement.where(Organization.org_type == f.org_type)
    if f.activity_area_id is not None:
        statement = statement.where(
            exists().where(
                organization_activity.c.organization_id == Organization.id,
                organization_activity.c.activity_area_id == f.activity_area_id,
            )
        )
    if f.stage in STAGES:
        statement = statement.where(stage_condition(f.stage))
    return statement.order_by(*SORTS.get(f.sort, SORTS["name"]))


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
