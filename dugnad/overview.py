"""The start page's figures: where every organisation stands, what needs the user, and
which activity areas the agreements in force cover.

Each function is a fixed number of SQL queries, whatever the municipality's size: the
start page is opened many times a day by every member of staff (issue 6 measures it with
600 organisations, 400 agreements and 30,000 audit events).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from .evaluations import evaluations_due_query
from .extensions import db
from .models import ActivityArea, Agreement, AgreementSection, Invitation, Meeting, Organization
from .registry import PIPELINE, stage_column
from .timeutil import now_utc, today_oslo

#: "Expiring" on the start page: the agreement's last day within this many days.
EXPIRING_WITHIN_DAYS = 60
#: Items shown per list on the start page; the rest are one "show all" link away.
LIST_LIMIT = 8


@dataclass(frozen=True)
class Step:
    stage: str
    count: int


def pipeline(municipality_id: int, today: date | None = None) -> list[Step]:
    """How many organisations stand at each step, in the workflow's order. One query, with
    the registry's own stage expression, so each number equals what its filter lists."""
    stage = stage_column(today or today_oslo())
    counts = dict(
        db.session.execute(
            select(stage, func.count(Organization.id))
            .where(Organization.municipality_id == municipality_id, Organization.deleted_at.is_(None))
            .group_by(stage)
        ).all()
    )
    return [Step(name, counts.get(name, 0)) for name in PIPELINE]


@dataclass(frozen=True)
class Coverage:
    area: ActivityArea
    agreements: int


def _active(today: date):
    return (
        Agreement.state == "signed",
        or_(Agreement.valid_from.is_(None), Agreement.valid_from <= today),
        or_(Agreement.valid_to.is_(None), Agreement.valid_to >= today),
    )


def coverage(municipality_id: int, today: date | None = None) -> list[Coverage]:
    """For each visible activity area, how many agreements in force have an activity in it:
    a 0 is a gap. Two queries. A signed agreement's sections are frozen (changing one
    means a new agreement), so its "activities" section is what it signed."""
    today = today or today_oslo()
    areas = db.session.scalars(
        select(ActivityArea)
        .where(ActivityArea.municipality_id == municipality_id, ActivityArea.hidden.is_(False))
        .order_by(ActivityArea.position, ActivityArea.name)
    ).all()
    rows = db.session.execute(
        select(AgreementSection.agreement_id, AgreementSection.data)
        .join(Agreement, Agreement.id == AgreementSection.agreement_id)
        .where(
            AgreementSection.municipality_id == municipality_id,
            AgreementSection.key == "activities",
            *_active(today),
        )
    ).all()
    covered = Counter()
    for _agreement_id, data in rows:
        area_ids = {str(row.get("area_id", "")) for row in (data or {}).get("rows", [])}
        covered.update(area_ids - {""})
    return [Coverage(area, covered.get(str(area.id), 0)) for area in areas]


@dataclass
class Items:
    """The first LIST_LIMIT items of a list, and how many there are in all."""

    shown: list
    total: int

    def __bool__(self) -> bool:
        return self.total > 0

    def __iter__(self):
        return iter(self.shown)


@dataclass
class NeedsMe:
    """What waits for the user, each list ready to link to the place to act."""

    #: (meeting, number of invitations without an answer), meetings still to come.
    unanswered_invitations: Items
    waiting_for_organisation: Items
    answered: Items
    to_countersign: Items
    expiring: Items
    #: Evaluations sent and not answered, and answers still without the municipality's view.
    evaluations_due: Items

    def __bool__(self) -> bool:
        return any(
            (self.unanswered_invitations, self.waiting_for_organisation, self.answered, self.to_countersign,
             self.expiring, self.evaluations_due)
        )


def needs_me(municipality_id: int, user, today: date | None = None) -> NeedsMe:
    """The start page's "what needs me": six queries. Administrators see the agreements
    to countersign; the answers list leaves out accepted ones for them (they are in that
    list); staff see accepted answers among the answers. The owner's own come first."""
    today = today or today_oslo()
    own_first = (Agreement.owner_id == user.id).desc()

    def first(statement) -> Items:
        """The first LIST_LIMIT rows and the total, in one query (a window count)."""
        rows = db.session.execute(statement.add_columns(func.count().over()).limit(LIST_LIMIT)).all()
        shown = [row[0] if len(row) == 2 else tuple(row[:-1]) for row in rows]
        return Items(shown, rows[0][-1] if rows else 0)

    def agreements(*conditions, order) -> Items:
        return first(
            select(Agreement)
            .options(joinedload(Agreement.organization))
            .where(Agreement.municipality_id == municipality_id, *conditions)
            .order_by(own_first, *order)
        )

    unanswered = first(
        select(Meeting, func.count(Invitation.id))
        .join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(
            Meeting.municipality_id == municipality_id,
            Meeting.cancelled_at.is_(None),
            Meeting.starts_at > now_utc(),
            Invitation.answer == "pending",
        )
        .group_by(Meeting.id)
        .order_by(Meeting.starts_at)
    )
    answer_states = ("declined", "changes_requested") if user.is_admin else ("accepted", "declined", "changes_requested")
    return NeedsMe(
        unanswered_invitations=unanswered,
        waiting_for_organisation=agreements(Agreement.state == "sent", order=(Agreement.updated_at,)),
        answered=agreements(Agreement.state.in_(answer_states), order=(Agreement.updated_at.desc(),)),
        to_countersign=(
            agreements(Agreement.state == "accepted", order=(Agreement.updated_at,)) if user.is_admin else Items([], 0)
        ),
        expiring=agreements(
            Agreement.state == "signed",
            Agreement.valid_to.is_not(None),
            Agreement.valid_to >= today,
            Agreement.valid_to <= today + timedelta(days=EXPIRING_WITHIN_DAYS),
            order=(Agreement.valid_to,),
        ),
        evaluations_due=first(evaluations_due_query(municipality_id, today)),
    )
