"""The evaluation of each active agreement, at the interval it sets (yearly by default).

Dugnad emails the organisation a link to a short form on each due date (for cron, through
`flask evaluations`), reminds it like other links, and keeps the answer with the
agreement; staff add the municipality's view. Every step is an audit event on the
agreement, so it shows in the agreement's timeline. Operations work in the caller's
transaction; the view or the command commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from . import audit, mail, tokens
from .agreements import add_months
from .extensions import db
from .lifecycle import Actor
from .models import Agreement, AgreementVersion, Evaluation, LinkToken, Municipality, Organization, User
from .sections import TEXT_MAX
from .timeutil import now_utc, today_oslo

#: When the agreement states no interval (or an unreadable one): once a year.
DEFAULT_INTERVAL_MONTHS = 12
#: An agreement shorter than its interval is evaluated once, this many days before it ends.
FINAL_EVALUATION_DAYS = 30
#: More volunteers or participants than this is a typing error, not a local organisation.
COUNT_MAX = 100_000
#: The longest answer to one question; the same limit as an agreement's section text.
ANSWER_MAX = TEXT_MAX
#: The column's length.
NAME_MAX = 120

# The audit actions, each shown in the agreement's timeline (labels in dugnad/ui.py).
SENT = "evaluation_sent"
REMINDED = "evaluation_remind"
ANSWERED = "evaluation_answered"
VIEW_ADDED = "evaluation_view"
VIEW_CHANGED = "evaluation_view_edit"


class AlreadyAnswered(Exception):
    """The evaluation was answered already (through this link or another one)."""


# --- Counts as Norwegians type them ---------------------------------------------------------

# Spaces Norwegians and spreadsheets put between thousands: space, no-break, narrow no-break, thin.
_GROUP_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")
# "ca. 40", "cirka 40", "omtrent 40": an estimate is what the form asks for.
_ABOUT = re.compile(r"^(ca\.?|cirka|omtrent|om lag|rundt)\s*", re.IGNORECASE)


class CountError(ValueError):
    """Why the text is not a count; `code` picks the form's message."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code  # format | negative | decimals | too_large


def parse_count(text: str) -> int:
    """'40', '1 200', '1.200', 'ca. 40' -> an int from 0 to COUNT_MAX; CountError otherwise."""
    value = _ABOUT.sub("", (text or "").strip()).strip()
    negative = value.startswith(("-", "\u2212"))
    if negative:
        value = value[1:].strip()
    value = _GROUP_SPACES.sub("", value)
    if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})+", value):
        value = value.replace(".", "")  # a thousands dot: people are counted in whole numbers
    if re.fullmatch(r"[0-9]+[.,][0-9]+", value):
        raise CountError("decimals")
    if not re.fullmatch(r"[0-9]+", value):
        raise CountError("format")
    number = int(value)
    if negative and number:
        raise CountError("negative")
    if number > COUNT_MAX:
        raise CountError("too_large")
    return number


# --- When an agreement is evaluated ------------------------------------------------------


def interval_months(agreement: Agreement) -> int:
    """The months between evaluations, as the accepted version states them (12 when blank)."""
    version = agreement.accepted_version
    sections = ((version.content if version else None) or {}).get("sections") or {}
    value = str((sections.get("evaluation") or {}).get("interval_months") or "").strip()
    # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
    if re.fullmatch(r"[0-9]{1,3}", value) and int(value) > 0:
        return int(value)
    return DEFAULT_INTERVAL_MONTHS


def _last_day(agreement: Agreement, until: date) -> date:
    return min(until, agreement.valid_to) if agreement.valid_to else until


def _closing_due(agreement: Agreement) -> date | None:
    """The one due date of an agreement that ends before its first interval is up (a
    one-year agreement evaluated yearly): FINAL_EVALUATION_DAYS before its last day, so
    the evaluation comes in time to decide on renewing. None for every other agreement."""
    start, end = agreement.valid_from, agreement.valid_to
    if start is None or end is None or add_months(start, interval_months(agreement)) <= end:
        return None
    return max(start, end - timedelta(days=FINAL_EVALUATION_DAYS))


def latest_due(agreement: Agreement, today: date) -> date | None:
    """The newest due date on or before `today`: valid_from + n × interval (n ≥ 1), never
    after the agreement's last day. None before the first one (or without a start)."""
    start = agreement.valid_from
    if start is None:
        return None
    closing = _closing_due(agreement)
    if closing is not None:
        return closing if closing <= today else None
    limit = _last_day(agreement, today)
    months = interval_months(agreement)
    n = ((limit.year - start.year) * 12 + limit.month - start.month) // months
    # Counted from the start each time (not step by step), so 31.01 stays the month's end.
    while n >= 1 and add_months(start, n * months) > limit:
        n -= 1
    return add_months(start, n * months) if n >= 1 else None


def next_due(agreement: Agreement, today: date) -> date | None:
    """The first due date after `today` within the agreement's period, if any."""
    start = agreement.valid_from
    if start is None:
        return None
    closing = _closing_due(agreement)
    if closing is not None:
        return closing if closing > today else None
    months = interval_months(agreement)
    n = max(1, ((today.year - start.year) * 12 + today.month - start.month) // months)
    while add_months(start, n * months) <= today:
        n += 1
    due = add_months(start, n * months)
    return due if agreement.valid_to is None or due <= agreement.valid_to else None


def _active(today: date):
    """Signed, begun and not ended: the agreements that are evaluated."""
    return (
        Agreement.state == "signed",
        Agreement.valid_from.is_not(None),
        Agreement.valid_from <= today,
        or_(Agreement.valid_to.is_(None), Agreement.valid_to >= today),
    )


@dataclass(frozen=True)
class Due:
    agreement: Agreement
    due_on: date


def due_evaluations(today: date | None = None) -> list[Due]:
    """Every active agreement (of every municipality) whose latest due date has come and
    has no evaluation yet. Two queries: the agreements, and the evaluations they have."""
    today = today or today_oslo()
    agreements = db.session.scalars(
        select(Agreement)
        .join(Organization, Organization.id == Agreement.organization_id)
        .where(*_active(today), Organization.deleted_at.is_(None))
        .options(
            joinedload(Agreement.organization).selectinload(Organization.contacts),
            # The interval is in the content; the frozen HTML is not needed.
            selectinload(Agreement.accepted_version).load_only(AgreementVersion.id, AgreementVersion.content),
        )
        .order_by(Agreement.id)
    ).all()
    existing = set(
        tuple(row) for row in db.session.execute(
            select(Evaluation.agreement_id, Evaluation.due_on)
            .join(Agreement, Agreement.id == Evaluation.agreement_id)
            .where(*_active(today))
        )
    )
    due = []
    for agreement in agreements:
        day = latest_due(agreement, today)
        if day is not None and (agreement.id, day) not in existing:
            due.append(Due(agreement, day))
    return due


# --- Sending and reminding ---------------------------------------------------------------


def _email_link(evaluation: Evaluation, address: str, reminder: bool):
    """A fresh link for the evaluation, emailed in the agreement's language."""
    agreement = evaluation.agreement
    days = current_app.config["EVALUATION_LINK_DAYS"]
    token = tokens.issue(
        evaluation.municipality_id,
        tokens.Purpose.EVALUATE_AGREEMENT,
        evaluation.id,
        expires_at=now_utc() + timedelta(days=days),
        recipient=address,
    )
    subject = (
        _l("Påminnelse: evaluering av samarbeidsavtalen %(title)s", title=agreement.title)
        if reminder
        else _l("Evaluering av samarbeidsavtalen %(title)s", title=agreement.title)
    )
    message = mail.queue(
        evaluation.municipality_id,
        address,
        subject,
        "evaluation_request",
        locale=agreement.language,
        agreement=agreement,
        evaluation=evaluation,
        municipality=db.session.get(Municipality, evaluation.municipality_id),
        link=url_for("evaluations.respond", token=token, _external=True),
        days=days,
        reminder=reminder,
    )
    db.session.flush()  # its id goes into the audit event: the timeline shows the delivery
    return message


def _send(evaluation: Evaluation, actor: Actor) -> bool:
    """Email the evaluation's first link; False when the organisation has no address
    (the evaluation waits, and the next run tries again)."""
    agreement = evaluation.agreement
    address = agreement.organization.notify_email
    if not address:
        return False
    message = _email_link(evaluation, address, reminder=False)
    evaluation.sent_at = now_utc()
    audit.record(
        evaluation.municipality_id, actor, SENT, "agreement", agreement.id,
        details={"evaluation": evaluation.id, "due_on": evaluation.due_on.isoformat(), "to": [address], "outbox": [message.id]},
    )
    return True


def request_evaluation(agreement: Agreement, due_on: date, actor: Actor) -> Evaluation | None:
    """The agreement's evaluation for `due_on`, created and emailed to the organisation.
    None when it exists already (two runs at once: the unique constraint keeps one)."""
    evaluation = Evaluation(municipality_id=agreement.municipality_id, agreement_id=agreement.id, due_on=due_on)
    try:
        with db.session.begin_nested():
            db.session.add(evaluation)
            db.session.flush()
    except IntegrityError:
        return None
    _send(evaluation, actor)
    return evaluation


def send_due(actor: Actor, today: date | None = None) -> int:
    """Create and email the evaluations that are due (for cron, through `flask
    evaluations`); also those left unsent earlier because the organisation had no address.
    Returns the number of evaluations emailed."""
    today = today or today_oslo()
    sent = 0
    unsent = db.session.scalars(
        select(Evaluation)
        .join(Agreement, Agreement.id == Evaluation.agreement_id)
        .where(Evaluation.sent_at.is_(None), *_active(today))
        .options(joinedload(Evaluation.agreement).joinedload(Agreement.organization))
        .order_by(Evaluation.id)
    ).all()
    for evaluation in unsent:
        sent += _send(evaluation, actor)
    for due in due_evaluations(today):
        evaluation = request_evaluation(due.agreement, due.due_on, actor)
        sent += evaluation is not None and evaluation.sent_at is not None
    return sent


def send_reminders(actor: Actor, now: datetime | None = None) -> int:
    """Remind organisations that have not answered, EVALUATION_REMINDER_DAYS after the
    evaluation was sent (default after 7 and 14 days); each reminder once, with a fresh
    link to every address whose link still works (the earlier links keep working). A run
    that missed a step sends one reminder, not one per step missed. Returns the number of
    reminders queued."""
    schedule = sorted(current_app.config["EVALUATION_REMINDER_DAYS"])
    now = now or now_utc()
    if not schedule:
        return 0
    waiting = db.session.scalars(
        select(Evaluation)
        .where(
            Evaluation.answered_at.is_(None),
            # Only those with a step left that may have come: the old unanswered ones are done with.
            Evaluation.sent_at <= now - timedelta(days=schedule[0]),
            Evaluation.reminders_sent < len(schedule),
        )
        .options(joinedload(Evaluation.agreement))
        .order_by(Evaluation.id)
    ).all()
    waiting = [
        evaluation for evaluation in waiting
        if sum(1 for days in schedule if now >= evaluation.sent_at + timedelta(days=days)) > evaluation.reminders_sent
    ]
    if not waiting:
        return 0
    # Where the live links went, for all of them in one query.
    live: dict[int, list[str]] = {}
    for object_id, recipient in db.session.execute(
        select(LinkToken.object_id, LinkToken.recipient)
        .where(
            LinkToken.purpose == tokens.Purpose.EVALUATE_AGREEMENT.value,
            LinkToken.object_id.in_([evaluation.id for evaluation in waiting]),
            LinkToken.revoked_at.is_(None),
            LinkToken.used_at.is_(None),
            LinkToken.expires_at > now,
        )
        .order_by(LinkToken.id)
    ):
        addresses = live.setdefault(object_id, [])
        if recipient and recipient.lower() not in {address.lower() for address in addresses}:
            addresses.append(recipient)
    queued = 0
    for evaluation in waiting:
        addresses = live.get(evaluation.id)
        if not addresses:
            continue  # revoked or expired: nothing left to remind about
        steps = [days for days in schedule if now >= evaluation.sent_at + timedelta(days=days)]
        messages = [_email_link(evaluation, address, reminder=True) for address in addresses]
        evaluation.reminders_sent = len(steps)
        evaluation.last_reminded_at = now
        audit.record(
            evaluation.municipality_id, actor, REMINDED, "agreement", evaluation.agreement_id,
            details={
                "evaluation": evaluation.id,
                "due_on": evaluation.due_on.isoformat(),
                "to": [message.to_addr for message in messages],
                "outbox": [message.id for message in messages],
                "days": steps[-1],
            },
        )
        queued += 1
    return queued


# --- Answering, and the municipality's view ----------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The organisation's answer, as the form checked it."""

    went_well: str
    went_badly: str
    volunteers: int | None
    participants: int | None
    wishes: str
    answered_by: str


def answer(evaluation: Evaluation, link: LinkToken, given: Answer, actor: Actor) -> None:
    """Keep the organisation's answer (once: AlreadyAnswered if someone was first) and
    tell the agreement's owner."""
    result = db.session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation.id, Evaluation.answered_at.is_(None))
        .values(
            answered_at=now_utc(),
            answered_by=given.answered_by[:NAME_MAX],
            went_well=given.went_well,
            went_badly=given.went_badly,
            volunteers=given.volunteers,
            participants=given.participants,
            wishes=given.wishes,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(evaluation)
    if result.rowcount != 1:
        raise AlreadyAnswered()
    try:
        tokens.mark_used(link)
    except tokens.LinkProblem as used:
        raise AlreadyAnswered() from used
    agreement = evaluation.agreement
    audit.record(
        evaluation.municipality_id, actor, ANSWERED, "agreement", agreement.id,
        details={"evaluation": evaluation.id, "due_on": evaluation.due_on.isoformat(), "answered_by": evaluation.answered_by},
    )
    owner = agreement.owner
    if owner is not None and owner.active:
        mail.queue(
            agreement.municipality_id,
            owner.email,
            _l("Evaluering besvart: %(title)s", title=agreement.title),
            "evaluation_answered",
            locale=owner.locale,
            agreement=agreement,
            evaluation=evaluation,
            link=url_for("agreements.show", agreement_id=agreement.id, _anchor=f"evaluation-{evaluation.id}", _external=True),
        )


def add_municipality_view(evaluation: Evaluation, user: User, text: str, actor: Actor) -> bool:
    """Keep (or replace) the municipality's view of the evaluation. Returns False when the
    text is what is stored already (a double submit)."""
    text = text.strip()
    if not text:
        raise ValueError("empty view")
    if text == evaluation.municipality_view:
        return False
    first = not evaluation.municipality_view
    evaluation.municipality_view = text[:ANSWER_MAX]
    evaluation.municipality_view_by_id = user.id
    evaluation.municipality_view_at = now_utc()
    audit.record(
        evaluation.municipality_id, actor, VIEW_ADDED if first else VIEW_CHANGED, "agreement", evaluation.agreement_id,
        details={"evaluation": evaluation.id, "due_on": evaluation.due_on.isoformat()},
    )
    return True


# --- What staff see ------------------------------------------------------------------------


def link_expires_at(evaluation: Evaluation) -> datetime | None:
    """When the newest link sent for the evaluation stops working."""
    sent = evaluation.last_reminded_at or evaluation.sent_at
    return sent + timedelta(days=current_app.config["EVALUATION_LINK_DAYS"]) if sent else None


def status(evaluation: Evaluation, now: datetime | None = None) -> str:
    """unsent | waiting | expired | answered (no view yet) | done."""
    if evaluation.answered_at is not None:
        return "done" if evaluation.municipality_view else "answered"
    if evaluation.sent_at is None:
        return "unsent"
    return "expired" if link_expires_at(evaluation) <= (now or now_utc()) else "waiting"


def of_agreement(agreement: Agreement) -> list[Evaluation]:
    """The agreement's evaluations, the newest due date first."""
    return list(
        db.session.scalars(
            select(Evaluation)
            .where(Evaluation.municipality_id == agreement.municipality_id, Evaluation.agreement_id == agreement.id)
            .options(joinedload(Evaluation.municipality_view_by))
            .order_by(Evaluation.due_on.desc(), Evaluation.id.desc())
        )
    )


def of_municipality(municipality_id: int) -> list[Evaluation]:
    """All the municipality's evaluations, the newest due date first, with their agreements."""
    return list(
        db.session.scalars(
            select(Evaluation)
            .where(Evaluation.municipality_id == municipality_id)
            .options(joinedload(Evaluation.agreement).joinedload(Agreement.organization))
            .order_by(Evaluation.due_on.desc(), Evaluation.id.desc())
        )
    )


def evaluations_due_query(municipality_id: int, today: date | None = None):
    """The statement behind `evaluations_due_for`, to add a count or a limit to (the start
    page's lists take the first few and the total in one query)."""
    today = today or today_oslo()
    return (
        select(Evaluation)
        .where(
            Evaluation.municipality_id == municipality_id,
            Evaluation.due_on <= today,
            or_(
                and_(Evaluation.sent_at.is_not(None), Evaluation.answered_at.is_(None)),
                and_(Evaluation.answered_at.is_not(None), Evaluation.municipality_view == ""),
            ),
        )
        .options(joinedload(Evaluation.agreement).joinedload(Agreement.organization))
        # Answers waiting for the municipality's view first (staff can act on them), then
        # those waiting for the organisation; the oldest first in each.
        .order_by(Evaluation.answered_at.is_(None), Evaluation.answered_at, Evaluation.sent_at, Evaluation.id)
    )


def evaluations_due_for(municipality_id: int, today: date | None = None) -> list[Evaluation]:
    """For the start page: evaluations sent and not answered, and answers without the
    municipality's view yet. One query (agreement and organisation joined)."""
    return list(db.session.scalars(evaluations_due_query(municipality_id, today)).unique())
