"""The yearly report to the municipality's leadership and council (issue 6).

`council_report` computes the year's figures with a fixed number of aggregate queries
(seven, whatever the municipality's size); `tables` lays them out as the tables the page,
the PDF, the CSV file and the workbook all show, so the four can never disagree.

The period is the calendar year in Norway; for the current year it ends today ("so far this
year"), so nothing planned later in the year counts as done. Amounts are integer øre while
counting and Decimal kroner when shown, never floats.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask import render_template
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import case, func, literal, or_, select, union_all

from .extensions import db
from .models import (
    ActivityArea,
    Agreement,
    AgreementVersion,
    Evaluation,
    Invitation,
    Meeting,
    Municipality,
    Organization,
    Party,
    Signature,
)
from .money import canonical, format_nok
from .pdf import render_pdf
from .timeutil import OSLO, now_utc, to_oslo

#: The earliest year a report can be asked for; older years are typing errors.
FIRST_YEAR = 2000
#: The PDF shortens each evaluation answer to about this many characters, so a year of
#: answers fits on a few pages (and renders within the issue's 2 s); the page, the CSV
#: file and the workbook keep them whole.
PDF_TEXT_LENGTH = 100
#: Agreements that count: signed by both, whether still running or terminated early.
IN_FORCE_STATES = ("signed", "terminated")


class BadYear(ValueError):
    """A year the report cannot be made for (before FIRST_YEAR, or not begun yet)."""


@dataclass(frozen=True)
class MeetingFigures:
    title: str
    starts_at: datetime
    invited: int
    #: Answered that they would come.
    attending: int
    #: Recorded as present after the meeting.
    attended: int
    #: Whether staff recorded who came (before that, `attended` means nothing).
    recorded: bool


@dataclass(frozen=True)
class AreaFigures:
    """An activity area of the catalogue: agreements in force covering it, and its grants."""

    name: str
    hidden: bool
    agreements: int
    grant_ore: int

    @property
    def grant(self) -> Decimal:
        return kroner(self.grant_ore)


@dataclass(frozen=True)
class EvaluationSummary:
    organization: str
    agreement_number: str
    answered_at: datetime
    answered_by: str
    volunteers: int | None
    participants: int | None
    went_well: str
    went_badly: str
    wishes: str
    municipality_view: str


@dataclass(frozen=True)
class Report:
    municipality: str
    year: int
    first_day: date
    last_day: date
    #: False for the current year: the figures are "so far this year".
    whole_year: bool
    organisations_engaged: int
    organisations_invited: int
    organisations_with_agreement: int
    meetings: list[MeetingFigures]
    #: Meetings later this year, not yet held (current year only).
    meetings_planned: int
    agreements_signed: int
    agreements_active: int
    agreements_ended: int
    #: Of those ended: ended early by notice.
    agreements_terminated: int
    agreements_with_grant: int
    #: The catalogue in its order: every visible area, and hidden ones still in use.
    areas: list[AreaFigures]
    grant_without_area_ore: int
    grant_total_ore: int
    evaluations: list[EvaluationSummary] = field(default_factory=list)

    @property
    def meetings_held(self) -> int:
        return len(self.meetings)

    @property
    def invited(self) -> int:
        return sum(meeting.invited for meeting in self.meetings)

    @property
    def attending(self) -> int:
        return sum(meeting.attending for meeting in self.meetings)

    @property
    def attended(self) -> int:
        return sum(meeting.attended for meeting in self.meetings)

    @property
    def grant_total(self) -> Decimal:
        return kroner(self.grant_total_ore)

    @property
    def grant_without_area(self) -> Decimal:
        return kroner(self.grant_without_area_ore)

    @property
    def granted_areas(self) -> list[AreaFigures]:
        return [area for area in self.areas if area.grant_ore]

    @property
    def gaps(self) -> list[AreaFigures]:
        return [area for area in self.areas if not area.agreements and not area.hidden]

    @property
    def volunteers(self) -> int:
        return sum(evaluation.volunteers or 0 for evaluation in self.evaluations)

    @property
    def participants(self) -> int:
        return sum(evaluation.participants or 0 for evaluation in self.evaluations)

    @property
    def notes(self) -> list[str]:
        """How the figures are counted, in the reader's language (needs an app context)."""
        notes = []
        if not self.whole_year:
            notes.append(_("Året er ikke over: tallene gjelder fra 1. januar til og med %(day)s.",
                           day=self.last_day.strftime("%d.%m.%Y")))
        notes += [
            _("Engasjerte organisasjoner er de som ble invitert til et møte i perioden, eller som hadde en "
              "signert avtale som gjaldt minst én dag i perioden. Hver organisasjon telles én gang."),
            _("Møter som er avlyst, telles ikke. Oppmøte er det som er registrert etter møtet."),
            _("En avtale i kraft er signert av begge parter og gjaldt minst én dag i perioden. "
              "En avsluttet avtale hadde sin siste dag i perioden, enten den utløp eller ble sagt opp."),
            _("Tilskudd er beløpet i avtalens del om økonomi, for hver avtale i kraft i perioden. "
              "En avtale som gjelder over flere år, telles med hele beløpet hvert år."),
            _("En avtale med aktiviteter i flere aktivitetsområder får tilskuddet delt likt mellom "
              "områdene (øre som ikke går opp, går til det første området i katalogen). Tilskudd i "
              "avtaler uten aktivitetsområde står for seg."),
            _("Evalueringer telles når organisasjonen svarte i perioden."),
        ]
        return notes


def kroner(ore: int) -> Decimal:
    return (Decimal(ore) / 100).quantize(Decimal("0.01"))


def _ore(stored) -> int:
    """The economy section's grant ("12500.00", as the form stores it) in øre; 0 when none."""
    try:
        amount = Decimal(str(stored or "").strip() or "0")
    except InvalidOperation:
        return 0
    if not amount.is_finite() or amount <= 0:
        return 0
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def _split(ore: int, parts: int) -> list[int]:
    """`ore` in `parts` equal shares, the first shares a øre larger where it does not go up."""
    share, rest = divmod(ore, parts)
    return [share + (1 if index < rest else 0) for index in range(parts)]


def _start_of(day: date) -> datetime:
    """Midnight in Norway at the start of `day`, as UTC (the stored times are UTC)."""
    return datetime(day.year, day.month, day.day, tzinfo=OSLO).astimezone(UTC)


def period(year: int, today: date | None = None) -> tuple[date, date]:
    """The report's first and last day: the calendar year, up to today for the current year."""
    today = today or to_oslo(now_utc()).date()
    if year < FIRST_YEAR or year > today.year:
        raise BadYear(year)
    return date(year, 1, 1), min(date(year, 12, 31), today)


def _in_force(municipality_id: int, first: date, last: date) -> tuple:
    """Signed agreements valid at least one day between `first` and `last`."""
    return (
        Agreement.municipality_id == municipality_id,
        Agreement.state.in_(IN_FORCE_STATES),
        or_(Agreement.valid_from.is_(None), Agreement.valid_from <= last),
        or_(Agreement.valid_to.is_(None), Agreement.valid_to >= first),
    )


def years_with_data(municipality_id: int, today: date | None = None) -> list[int]:
    """The years a report can be shown for, newest first: from the first year anything
    happened (a meeting, a signature, an agreement's start, an evaluation) to this year.
    One query."""
    today = today or to_oslo(now_utc()).date()

    def earliest(column, *conditions):
        return select(func.min(column)).where(*conditions).scalar_subquery()

    row = db.session.execute(
        select(
            earliest(Meeting.starts_at, Meeting.municipality_id == municipality_id),
            earliest(Signature.signed_at, Signature.municipality_id == municipality_id),
            earliest(Agreement.valid_from, Agreement.municipality_id == municipality_id,
                     Agreement.state.in_(IN_FORCE_STATES)),
            earliest(Evaluation.answered_at, Evaluation.municipality_id == municipality_id),
        )
    ).one()
    years = [today.year]
    for value in row:
        if isinstance(value, datetime):
            years.append(to_oslo(value).year)
        elif isinstance(value, date):
            years.append(value.year)
    first = max(FIRST_YEAR, min(years))
    return list(range(today.year, first - 1, -1))


def council_report(municipality_id: int, year: int, today: date | None = None) -> Report:
    """The year's figures for the municipality; BadYear for a year not begun (or absurd).
    Seven queries, whatever the number of organisations, meetings or agreements."""
    now = now_utc()
    today = today or to_oslo(now).date()
    first, last = period(year, today)
    whole_year = last == date(year, 12, 31)
    starts, ends = _start_of(first), _start_of(date(year + 1, 1, 1))
    held_before = ends if whole_year else now
    in_force = _in_force(municipality_id, first, last)

    municipality = db.session.get(Municipality, municipality_id)

    # 1. Every meeting of the year with its invitations counted, in one grouped query.
    meeting_rows = db.session.execute(
        select(
            Meeting.title,
            Meeting.starts_at,
            func.count(Invitation.id),
            func.coalesce(func.sum(case((Invitation.answer == "attending", 1), else_=0)), 0),
            func.coalesce(func.sum(case((Invitation.attended.is_(True), 1), else_=0)), 0),
            func.count(Invitation.attended),
        )
        .outerjoin(Invitation, Invitation.meeting_id == Meeting.id)
        .where(
            Meeting.municipality_id == municipality_id,
            Meeting.cancelled_at.is_(None),
            Meeting.starts_at >= starts,
            Meeting.starts_at < ends,
        )
        .group_by(Meeting.id, Meeting.title, Meeting.starts_at)
        .order_by(Meeting.starts_at, Meeting.id)
    ).all()
    meetings = [
        MeetingFigures(title, starts_at, invited, int(attending), int(attended), recorded > 0)
        for title, starts_at, invited, attending, attended, recorded in meeting_rows
        if starts_at < held_before
    ]

    # 2. Organisations engaged: invited to a meeting held in the period, or party to an
    # agreement in force; each counted once, and each way counted too.
    invited = (
        select(Invitation.organization_id.label("organization_id"), literal("invited").label("way"))
        .join(Meeting, Meeting.id == Invitation.meeting_id)
        .where(
            Invitation.municipality_id == municipality_id,
            Meeting.municipality_id == municipality_id,
            Meeting.cancelled_at.is_(None),
            Meeting.starts_at >= starts,
            Meeting.starts_at < held_before,
        )
    )
    agreed = select(Agreement.organization_id.label("organization_id"), literal("agreement").label("way")).where(
        *in_force
    )
    ways = union_all(invited, agreed).subquery()
    engaged, engaged_invited, engaged_agreed = db.session.execute(
        select(
            func.count(func.distinct(ways.c.organization_id)),
            func.count(func.distinct(case((ways.c.way == "invited", ways.c.organization_id)))),
            func.count(func.distinct(case((ways.c.way == "agreement", ways.c.organization_id)))),
        )
    ).one()

    # 3. Agreements: signed (countersigned) in the period, in force, ended, ended early.
    countersigned = (
        select(Signature.agreement_id)
        .where(
            Signature.municipality_id == municipality_id,
            Signature.party == Party.MUNICIPALITY.value,
            Signature.signed_at >= starts,
            Signature.signed_at < held_before,
        )
    )
    ended = (Agreement.valid_to >= first) & (Agreement.valid_to <= last)
    signed, active, ended_count, terminated = db.session.execute(
        select(
            func.coalesce(func.sum(case((Agreement.id.in_(countersigned), 1), else_=0)), 0),
            func.coalesce(func.sum(case((_all(in_force), 1), else_=0)), 0),
            func.coalesce(func.sum(case((_all(in_force) & ended, 1), else_=0)), 0),
            func.coalesce(
                func.sum(case((_all(in_force) & ended & (Agreement.state == "terminated"), 1), else_=0)), 0
            ),
        ).where(Agreement.municipality_id == municipality_id, Agreement.state.in_(IN_FORCE_STATES))
    ).one()

    # 4. The grant and the activity areas of each agreement in force, read from the version
    # both parties signed (its JSON, the two values only, not whole documents).
    content = AgreementVersion.content
    grant_rows = db.session.execute(
        select(
            content[("sections", "economy", "grant")].as_string(),
            content[("sections", "activities", "rows")],
        )
        .join(Agreement, Agreement.accepted_version_id == AgreementVersion.id)
        .where(AgreementVersion.municipality_id == municipality_id, *in_force)
    ).all()

    # 5. The catalogue.
    catalogue = db.session.execute(
        select(ActivityArea.id, ActivityArea.name, ActivityArea.hidden)
        .where(ActivityArea.municipality_id == municipality_id)
        .order_by(ActivityArea.position, ActivityArea.name, ActivityArea.id)
    ).all()
    order = {str(area_id): index for index, (area_id, _name, _hidden) in enumerate(catalogue)}
    covered = {key: 0 for key in order}
    granted = {key: 0 for key in order}
    without_area = total = with_grant = 0
    for stored_grant, rows in grant_rows:
        ore = _ore(stored_grant)
        area_ids = sorted(
            {str(row.get("area_id") or "") for row in (rows or []) if isinstance(row, dict)} & order.keys(),
            key=order.__getitem__,
        )
        for area_id in area_ids:
            covered[area_id] += 1
        if not ore:
            continue
        total += ore
        with_grant += 1
        if not area_ids:
            without_area += ore
            continue
        for area_id, share in zip(area_ids, _split(ore, len(area_ids)), strict=True):
            granted[area_id] += share
    areas = [
        AreaFigures(name, hidden, covered[str(area_id)], granted[str(area_id)])
        for area_id, name, hidden in catalogue
        if not hidden or covered[str(area_id)] or granted[str(area_id)]
    ]

    # 6. Evaluations answered in the period, with the organisation's name.
    evaluation_rows = db.session.execute(
        select(Evaluation, Organization.name, Agreement.number)
        .join(Agreement, Agreement.id == Evaluation.agreement_id)
        .join(Organization, Organization.id == Agreement.organization_id)
        .where(
            Evaluation.municipality_id == municipality_id,
            Agreement.municipality_id == municipality_id,
            Evaluation.answered_at.is_not(None),
            Evaluation.answered_at >= starts,
            Evaluation.answered_at < held_before,
        )
        .order_by(Organization.name, Evaluation.answered_at, Evaluation.id)
    ).all()
    evaluations = [
        EvaluationSummary(
            organization=name,
            agreement_number=number,
            answered_at=evaluation.answered_at,
            answered_by=evaluation.answered_by,
            volunteers=evaluation.volunteers,
            participants=evaluation.participants,
            went_well=evaluation.went_well,
            went_badly=evaluation.went_badly,
            wishes=evaluation.wishes,
            municipality_view=evaluation.municipality_view,
        )
        for evaluation, name, number in evaluation_rows
    ]

    return Report(
        municipality=municipality.name,
        year=year,
        first_day=first,
        last_day=last,
        whole_year=whole_year,
        organisations_engaged=engaged,
        organisations_invited=engaged_invited,
        organisations_with_agreement=engaged_agreed,
        meetings=meetings,
        meetings_planned=len(meeting_rows) - len(meetings),
        agreements_signed=int(signed),
        agreements_active=int(active),
        agreements_ended=int(ended_count),
        agreements_terminated=int(terminated),
        agreements_with_grant=with_grant,
        areas=areas,
        grant_without_area_ore=without_area,
        grant_total_ore=total,
        evaluations=evaluations,
    )


def _all(conditions: tuple):
    """The conditions joined with AND, as one expression (for a CASE)."""
    expression = conditions[0]
    for condition in conditions[1:]:
        expression = expression & condition
    return expression


# --- Charts: bars with their numbers written out, the same numbers as the tables -------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    #: The value as the reader reads it, next to the bar ("kr 12 500", "3").
    shown: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: list[Bar]

    @property
    def widest(self) -> int:
        return max((bar.value for bar in self.bars), default=0) or 1

    @property
    def description(self) -> str:
        """The chart as text, for screen readers and anyone who cannot see it."""
        return "; ".join(f"{bar.label}: {bar.shown}" for bar in self.bars) + "."


def nok(amount: Decimal) -> str:
    """'kr 12 500' (0 as 'kr 0': the template filter leaves an empty amount empty)."""
    return format_nok(canonical(amount))


def figure(value) -> str:
    """A figure as Norwegians write it: '29 922' (a no-break space between thousands, so a
    number never breaks across lines), amounts as 'kr 12 500'; None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        return nok(value)
    return f"{value:,}".replace(",", "\u00a0")


def charts(report: Report) -> dict[str, Chart]:
    grant_bars = [Bar(area.name, area.grant_ore, nok(area.grant)) for area in report.granted_areas]
    if report.grant_without_area_ore:
        grant_bars.append(Bar(_("Uten aktivitetsområde"), report.grant_without_area_ore, nok(report.grant_without_area)))
    return {
        "agreements": Chart("chart-agreements", _("Avtaler i %(year)d", year=report.year), [
            Bar(_("Signert"), report.agreements_signed, figure(report.agreements_signed)),
            Bar(_("I kraft"), report.agreements_active, figure(report.agreements_active)),
            Bar(_("Avsluttet"), report.agreements_ended, figure(report.agreements_ended)),
        ]),
        "attendance": Chart("chart-attendance", _("Invitasjoner og oppmøte på møtene"), [
            Bar(_("Invitert"), report.invited, figure(report.invited)),
            Bar(_("Svarte at de kommer"), report.attending, figure(report.attending)),
            Bar(_("Møtte"), report.attended, figure(report.attended)),
        ]),
        "grants": Chart("chart-grants", _("Tilskudd per aktivitetsområde"), grant_bars),
        "coverage": Chart("chart-coverage", _("Avtaler i kraft per aktivitetsområde"), [
            Bar(area.name, area.agreements, figure(area.agreements)) for area in report.areas
        ]),
    }


# --- The tables: what the CSV file and the workbook hold ----------------------------------


@dataclass(frozen=True)
class Table:
    #: A worksheet's name (Excel allows 31 characters, no / \ ? * [ ]).
    sheet: str
    title: str
    columns: list[str]
    #: Cells: str, int, Decimal (kroner), date or datetime; None for empty.
    rows: list[list]


def key_figures(report: Report) -> list[tuple[str, object]]:
    """The report's headline figures, in the order the page shows them."""
    figures = [
        (_("Organisasjoner engasjert"), report.organisations_engaged),
        (_("– invitert til møte"), report.organisations_invited),
        (_("– med avtale i kraft"), report.organisations_with_agreement),
        (_("Møter holdt"), report.meetings_held),
        (_("Invitasjoner til møtene"), report.invited),
        (_("Svarte at de kommer"), report.attending),
        (_("Registrert oppmøte"), report.attended),
        (_("Avtaler signert"), report.agreements_signed),
        (_("Avtaler i kraft"), report.agreements_active),
        (_("Avtaler avsluttet"), report.agreements_ended),
        (_("– sagt opp før tiden"), report.agreements_terminated),
        (_("Avtaler med tilskudd"), report.agreements_with_grant),
        (_("Tilskudd i alt (kr)"), report.grant_total),
        (_("Evalueringer besvart"), len(report.evaluations)),
        (_("Frivillige (fra evalueringene)"), report.volunteers),
        (_("Deltakere (fra evalueringene)"), report.participants),
    ]
    if report.meetings_planned:
        figures.insert(4, (_("Møter planlagt senere i år"), report.meetings_planned))
    return figures


def tables(report: Report) -> list[Table]:
    figures = key_figures(report)
    grant_rows = [[area.name, area.grant] for area in report.granted_areas]
    if report.grant_without_area_ore:
        grant_rows.append([_("Uten aktivitetsområde"), report.grant_without_area])
    grant_rows.append([_("Sum"), report.grant_total])
    return [
        Table(
            _("Nøkkeltall"), _("Nøkkeltall %(year)d", year=report.year), [_("Hva"), _("Tall")],
            [[label, value] for label, value in figures],
        ),
        Table(
            _("Møter"), _("Møter holdt"),
            [_("Møte"), _("Dato"), _("Invitert"), _("Svarte at de kommer"), _("Møtte")],
            [
                [meeting.title, to_oslo(meeting.starts_at).date(), meeting.invited, meeting.attending,
                 meeting.attended if meeting.recorded else None]
                for meeting in report.meetings
            ] + [[_("Sum"), None, report.invited, report.attending, report.attended]],
        ),
        Table(
            _("Tilskudd"), _("Tilskudd per aktivitetsområde (kr)"), [_("Aktivitetsområde"), _("Tilskudd (kr)")],
            grant_rows,
        ),
        Table(
            _("Aktivitetsdekning"), _("Avtaler i kraft per aktivitetsområde"),
            [_("Aktivitetsområde"), _("Avtaler i kraft")],
            [[area.name, area.agreements] for area in report.areas],
        ),
        Table(
            _("Evalueringer"), _("Evalueringer"),
            [_("Organisasjon"), _("Avtale"), _("Besvart"), _("Frivillige"), _("Deltakere"), _("Dette gikk bra"),
             _("Dette gikk mindre bra"), _("Ønsker framover"), _("Kommunens vurdering")],
            [
                [item.organization, item.agreement_number, to_oslo(item.answered_at).date(), item.volunteers,
                 item.participants, item.went_well, item.went_badly, item.wishes, item.municipality_view]
                for item in report.evaluations
            ] + [[_("Sum"), None, None, report.volunteers, report.participants, None, None, None, None]],
        ),
        Table(_("Merknader"), _("Slik er tallene telt"), [_("Merknad")], [[note] for note in report.notes]),
    ]


# --- Files -------------------------------------------------------------------------------


def _csv_cell(value) -> str:
    """As Norwegian Excel reads it: decimal comma, dd.mm.yyyy; text never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, datetime):
        return to_oslo(value).strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not isinstance(value, int):
        return "'" + text
    return text


def to_csv(report: Report) -> bytes:
    """All tables in one file, one after another: a title row, a header row, the rows, a
    blank line. UTF-8 with BOM and semicolons, as Excel in Norway opens it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_("%(municipality)s: rapport til kommunestyret %(year)d", municipality=report.municipality,
                       year=report.year)])
    writer.writerow([])
    for table in tables(report):
        writer.writerow([table.title])
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([_csv_cell(value) for value in row])
        writer.writerow([])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """One worksheet per table, the header row bold; numbers and dates as such."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for table in tables(report):
        sheet = workbook.create_sheet(table.sheet[:31])
        sheet.append(table.columns)
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        for row in table.rows:
            sheet.append([to_oslo(value).replace(tzinfo=None) if isinstance(value, datetime) else value
                          for value in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text typed by someone, not a formula to run
                elif isinstance(cell.value, Decimal):
                    cell.number_format = "#,##0.00"
                elif isinstance(cell.value, date):
                    cell.number_format = "dd.mm.yyyy"
        for index, title in enumerate(table.columns, start=1):
            longest = max([len(str(title))] + [len(str(row[index - 1] or "")) for row in table.rows])
            sheet.column_dimensions[get_column_letter(index)].width = min(60, max(10, longest + 2))
    workbook.properties.title = _("Rapport til kommunestyret %(year)d", year=report.year)
    workbook.properties.creator = report.municipality
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def to_pdf(report: Report) -> bytes:
    """The printable report: the page's figures, charts and tables (PDF/A-2a, tagged)."""
    return render_pdf(render_template(
        "pdf/council_report.html", report=report, charts=charts(report), key_figures=key_figures(report),
        figure=figure, short_texts=PDF_TEXT_LENGTH,
    ))
