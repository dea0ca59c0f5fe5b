"""The registry of local organisations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, String, and_, case, exists, func, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction
from stdnum.no import orgnr

from . import audit
from .extensions import db
from .lifecycle import Actor
from .models import (
    ActivityArea,
    Agreement,
    Contact,
    Invitation,
    Organization,
    OrganizationType,
    organization_activity,
)
from .timeutil import now_utc, today_oslo

#: The steps of the workflow, in order: the start page's pipeline and the registry's filter.
PIPELINE = ("not_invited", "invited", "answered", "met", "drafted", "sent", "signed", "active")
#: Where an organisation stands: the furthest step it has reached.
STAGES = tuple(reversed(PIPELINE))

#: Agreements that are under way (not signed, not withdrawn).
OPEN_AGREEMENT_STATES = ("draft", "sent", "accepted", "declined", "changes_requested")

#: Agreements someone may still act on (the organisation through its emailed link, an
#: administrator by countersigning): their organisation cannot be deleted meanwhile.
DELETE_BLOCKING_STATES = ("sent", "accepted")

ORG_TYPES = tuple(t.value for t in OrganizationType)

SORTS = {
    "name": (Organization.name, Organization.id),
    "-name": (Organization.name.desc(), Organization.id.desc()),
    "created": (Organization.created_at, Organization.id),
    "-created": (Organization.created_at.desc(), Organization.id.desc()),
}


class unicode_lower(GenericFunction):  # noqa: N801 (SQL function names are lower case)
    """lower() that folds every letter (Æ, Ø, Å too) on SQLite as on PostgreSQL."""

    type = String()
    inherit_cache = True


@compiles(unicode_lower)
def _unicode_lower(element, compiler, **kw):
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _unicode_lower_sqlite(element, compiler, **kw):
    # A Python function registered on each connection (dugnad.extensions); slower than the
    # built-in lower(), so used only when the search text needs it.
    return f"unicode_lower({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class RegistryFilter:
    """What the registry list shows; every field comes from the URL's query string."""

    q: str = ""
    org_type: str = ""
    activity_area_id: int | None = None
    stage: str = ""
    sort: str = "name"

    @classmethod
    def from_query(cls, args, areas) -> RegistryFilter:
        """The filter in a query string (q, type, area, stage, sort), as the registry
        and the invitee chooser both spell it; unknown values mean 'no filter', never
        an error. `areas` are the activity areas the user may filter by."""
        area = args.get("area", "")
        area_ids = {str(a.id) for a in areas}
        org_type = args.get("type", "")
        stage = args.get("stage", "")
        sort = args.get("sort", "")
        return cls(
            q=args.get("q", "").strip()[:100],
            org_type=org_type if org_type in ORG_TYPES else "",
            activity_area_id=int(area) if area in area_ids else None,
            stage=stage if stage in STAGES else "",
            sort=sort if sort in SORTS else "name",
        )


def _has_agreement(*states: str):
    return exists().where(
        Agreement.organization_id == Organization.id, Agreement.state.in_(states)
    )


def _has_invitation(answered: bool = False, attended: bool = False):
    condition = Invitation.organization_id == Organization.id
    if answered:
        condition = and_(condition, Invitation.answered_at.is_not(None))
    if attended:
        condition = and_(condition, Invitation.attended.is_(True))
    return exists().where(condition)


def _has_active_agreement(today: date):
    """A signed agreement in force today (its period may have no end)."""
    return exists().where(
        Agreement.organization_id == Organization.id,
        Agreement.state == "signed",
        or_(Agreement.valid_from.is_(None), Agreement.valid_from <= today),
        or_(Agreement.valid_to.is_(None), Agreement.valid_to >= today),
    )


def _reached(today: date | None = None) -> list[tuple[str, object]]:
    """Each stage with 'has reached at least this far', furthest first. One table for the
    filter, the tag and the pipeline, so their numbers cannot disagree. Withdrawn and
    terminated agreements count for nothing: the organisation is back where it was."""
    today = today or today_oslo()
    return [
        ("active", _has_active_agreement(today)),
        ("signed", _has_agreement("signed")),
        # Accepted means the organisation has signed; it waits for the municipality's signature.
        ("sent", _has_agreement("sent", "accepted")),
        ("drafted", _has_agreement("draft", "declined", "changes_requested")),
        ("met", _has_invitation(attended=True)),
        ("answered", _has_invitation(answered=True)),
        ("invited", _has_invitation()),
    ]


def stage_condition(stage: str, today: date | None = None):
    """SQL for 'the furthest step this organisation has reached is `stage`'."""
    reached = _reached(today)
    further = []
    for name, condition in reached:
        if name == stage:
            return and_(condition, *[not_(c) for c in further])
        further.append(condition)
    return and_(*[not_(c) for c in further])  # not_invited: none of them


def stage_column(today: date | None = None):
    """The organisation's stage as one SQL expression, so a page of rows costs no extra query."""
    return case(*[(condition, name) for name, condition in _reached(today)], else_="not_invited").label("stage")


def stage_of(organization: Organization) -> str:
    return db.session.scalar(select(stage_column()).where(Organization.id == organization.id))


def stages_of(organizations: list[Organization]) -> list[str]:
    """Each organisation's stage, in one query (computed for these rows only, not the whole
    registry the page was picked from)."""
    if not organizations:
        return []
    stages = dict(db.session.execute(
        select(Organization.id, stage_column()).where(Organization.id.in_([o.id for o in organizations]))
    ).all())
    return [stages[organization.id] for organization in organizations]


def registry_query(municipality_id: int, registry_filter: RegistryFilter) -> Select:
    """The municipality's organisations (not deleted) matching the filter, sorted."""
    f = registry_filter
    statement = select(Organization).where(
        Organization.municipality_id == municipality_id, Organization.deleted_at.is_(None)
    )
    if f.q:
        like = f"%{f.q.lower()}%"
        # ASCII search text matches whatever the other letters fold to: the fast lower() will do.
        lower = func.lower if f.q.isascii() else unicode_lower
        contact_match = select(Contact.organization_id).where(
            Contact.municipality_id == municipality_id,
            or_(lower(Contact.name).like(like), lower(Contact.email).like(like)),
        )
        statement = statement.where(
            or_(
                lower(Organization.name).like(like),
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


def visible_areas(municipality_id: int) -> list[ActivityArea]:
    """The catalogue entries offered for new records, in the municipality's order."""
    return db.session.scalars(
        select(ActivityArea)
        .where(ActivityArea.municipality_id == municipality_id, ActivityArea.hidden.is_(False))
        .order_by(ActivityArea.position, ActivityArea.id)
    ).all()


def _areas_by_id(municipality_id: int, ids: list[int]) -> list[ActivityArea]:
    # Scoped: another municipality's ids find nothing, so they can never be linked.
    if not ids:
        return []
    return db.session.scalars(
        select(ActivityArea)
        .where(ActivityArea.municipality_id == municipality_id, ActivityArea.id.in_(ids))
        .order_by(ActivityArea.position, ActivityArea.id)
    ).all()


def save_organization(
    organization: Organization,
    fields: dict,
    contacts: list[dict] | None,
    actor: Actor,
    activity_area_ids: list[int] | None = None,
) -> Organization:
    """Create or update an organisation, its contacts and its activity areas.

    `contacts` is the whole list as the form shows it (None leaves them alone): each a dict
    with name, role, email, phone, is_primary and optionally the id of an existing contact
    of this organisation; contacts not in the list are removed. Exactly one should be
    primary; when none is, the first becomes primary.
    `activity_area_ids` (None leaves them alone) are ids of the municipality's catalogue.
    """
    is_new = organization.id is None
    for name, value in fields.items():
        setattr(organization, name, value)
    if is_new:
        db.session.add(organization)
    if contacts is not None:
        existing = {contact.id: contact for contact in organization.contacts}
        kept = []
        for data in contacts:
            contact = existing.pop(data.get("id"), None) or Contact(
                municipality_id=organization.municipality_id
            )
            for name in ("name", "role", "email", "phone"):
                setattr(contact, name, data.get(name) or "")
            contact.is_primary = bool(data.get("is_primary"))
            kept.append(contact)
        if kept and not any(c.is_primary for c in kept):
            kept[0].is_primary = True
        organization.contacts = kept
    if activity_area_ids is not None:
        organization.activity_areas = _areas_by_id(organization.municipality_id, activity_area_ids)
    db.session.flush()
    audit.record(
        organization.municipality_id,
        actor,
        "create" if is_new else "update",
        "organization",
        organization.id,
    )
    return organization


def delete_blocker(organization: Organization) -> Agreement | None:
    """An agreement that stops the organisation from being deleted, if any."""
    return db.session.scalar(
        select(Agreement)
        .where(
            Agreement.organization_id == organization.id,
            Agreement.state.in_(DELETE_BLOCKING_STATES),
        )
        .order_by(Agreement.id)
        .limit(1)
    )


class DeleteRefused(Exception):
    def __init__(self, agreement: Agreement):
        super().__init__(agreement.number)
        self.agreement = agreement


def delete_organization(organization: Organization, actor: Actor) -> None:
    """Soft delete: the organisation leaves the registry; its history stays."""
    blocker = delete_blocker(organization)
    if blocker is not None:
        raise DeleteRefused(blocker)
    if organization.deleted_at is None:
        organization.deleted_at = now_utc()
        db.session.flush()
        audit.record(organization.municipality_id, actor, "delete", "organization", organization.id)


def restore_organization(organization: Organization, actor: Actor) -> None:
    """Undo a deletion."""
    if organization.deleted_at is not None:
        organization.deleted_at = None
        db.session.flush()
        audit.record(organization.municipality_id, actor, "restore", "organization", organization.id)
