"""Meetings with the local voluntary sector, and the invitations to them.

Each operation mutates, flushes, queues mail and audits in the caller's
transaction; the view commits. An invitation's emailed link is a token of its
own (only the hash is stored): a reminder or an update therefore carries a new
token, and every earlier link for the same invitation keeps working.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from flask import render_template, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from . import audit, calendar, mail, tokens
from .agreements import create_draft
from .extensions import db
from .lifecycle import Actor
from .models import (
    ActivityArea,
    Agreement,
    Invitation,
    InvitationAnswer,
    LinkToken,
    Meeting,
    Municipality,
    Organization,
    User,
)
from .pdf import render_pdf
from .timeutil import now_utc

#: An invitation link keeps showing the meeting (read-only after the start) this
#: long after the meeting ends; then it is an expired link like any other.
LINK_DAYS_AFTER_END = 30

#: Fields that say when and where: changing one sends every invitee an update.
WHEN_AND_WHERE = ("starts_at", "ends_at", "place", "room", "digital_link")
EDITABLE = ("title", *WHEN_AND_WHERE, "agenda", "message")

#: The most people one organisation can announce.
MAX_PARTICIPANTS = 50


class AnswerClosed(Exception):
    """The meeting has started; answers can no longer change."""


class MeetingCancelled(Exception):
    """The meeting is cancelled: no answers, edits or new invitations."""


class MeetingChanged(Exception):
    """Someone else saved the meeting since this form was loaded."""


class InvitationInactive(Exception):
    """The invited organisation was deleted from the registry."""


class NotAttended(Exception):
    """An agreement is started from a meeting only for organisations that came."""


def link_expiry(meeting: Meeting):
    return meeting.ends_at + timedelta(days=LINK_DAYS_AFTER_END)


def has_started(meeting: Meeting) -> bool:
    return now_utc() >= meeting.starts_at


def create_meeting(municipality_id: int, fields: dict, user: User, actor: Actor) -> Meeting:
    meeting = Meeting(municipality_id=municipality_id, created_by_id=user.id, **fields)
    db.session.add(meeting)
    db.session.flush()
    audit.record(municipality_id, actor, "create", "meeting", meeting.id)
    return meeting


def visible_activity_areas(municipality_id: int) -> list[ActivityArea]:
    """The catalogue an organisation chooses from (hidden entries are not offered)."""
    return db.session.scalars(
        select(ActivityArea)
        .where(ActivityArea.municipality_id == municipality_id, ActivityArea.hidden.is_(False))
        .order_by(ActivityArea.position, ActivityArea.name)
    ).all()


def _active(invitation: Invitation) -> bool:
    return invitation.organization.deleted_at is None


def _new_link(invitation: Invitation) -> str:
    token = tokens.issue(
        invitation.municipality_id,
        tokens.Purpose.ANSWER_INVITATION,
        invitation.id,
        expires_at=link_expiry(invitation.meeting),
    )
    return url_for("respond.invitation", token=token, _external=True)


def _municipality(meeting: Meeting) -> Municipality:
    return db.session.get(Municipality, meeting.municipality_id)


def _queue_invitation_mail(
    invitation: Invitation, municipality: Municipality, address: str, template: str, subject, method: str = "REQUEST"
) -> None:
    """One email to the organisation, with its own link and the calendar invitation."""
    link = _new_link(invitation) if method == "REQUEST" else None
    mail.queue(
        invitation.municipality_id,
        address,
        subject,
        template,
        attachments=(calendar.attachment(invitation, municipality, address, link, method),),
        meeting=invitation.meeting,
        organization=invitation.organization,
        invitation=invitation,
        link=link,
    )


def invitation_subject(meeting: Meeting):
    return _l("Invitasjon: %(title)s", title=meeting.title)


def preview_invitation(meeting: Meeting, organization: Organization) -> dict:
    """The invitation email exactly as `invite` writes it, with a placeholder link."""
    link = url_for("respond.invitation", token="lenken-til-organisasjonen", _external=True)
    context = {"meeting": meeting, "organization": organization, "invitation": None, "link": link}
    with force_locale("nb"):
        return {
            "subject": str(invitation_subject(meeting)),
            "text": render_template("mail/invitation.txt", **context),
            "html": render_template("mail/invitation.html", **context),
            "link": link,
        }


def invite(
    meeting: Meeting, organizations: list[Organization], actor: Actor
) -> tuple[list[Invitation], list[Organization]]:
    """Invite each organisation not yet invited; email each its own link and .ics.

    Idempotent: an organisation already invited is skipped, so a second click on
    "send" invites nobody twice (and the unique (meeting, organisation) constraint
    stops two requests racing). Returns (new invitations, organisations skipped
    because they have no email address), so the caller names the latter instead
    of skipping them silently.
    """
    if meeting.cancelled_at is not None:
        raise MeetingCancelled()
    if has_started(meeting):
        raise AnswerClosed()
    already = set(
        db.session.scalars(select(Invitation.organization_id).where(Invitation.meeting_id == meeting.id))
    )
    pending, without_email = [], []
    for organization in organizations:
        if organization.id in already or organization.deleted_at is not None:
            continue
        already.add(organization.id)
        address = organization.notify_email
        if not address:
            without_email.append(organization)
            continue
        invitation = Invitation(municipality_id=meeting.municipality_id, meeting=meeting, organization=organization)
        db.session.add(invitation)
        pending.append((invitation, address))
    # One flush for all: the ids are needed for the links and the calendar UIDs.
    db.session.flush()
    municipality = _municipality(meeting)
    subject = invitation_subject(meeting)
    for invitation, address in pending:
        _queue_invitation_mail(invitation, municipality, address, "invitation", subject)
        audit.record(
            meeting.municipality_id,
            actor,
            "invite",
            "invitation",
            invitation.id,
            details={"meeting_id": meeting.id, "organization_id": invitation.organization_id},
        )
    return [invitation for invitation, _address in pending], without_email


def update_meeting(meeting: Meeting, fields: dict, expected_version: int, actor: Actor) -> int:
    """Save the staff's edit; a change of time or place sends every invitee an update.

    `expected_version` is the version the form was loaded with: if someone saved
    in between, MeetingChanged is raised and nothing is written (the database's
    version check catches the same race at flush time). Returns how many
    invitees were sent an update.
    """
    if meeting.cancelled_at is not None:
        raise MeetingCancelled()
    if meeting.version != expected_version:
        raise MeetingChanged()
    changed = [name for name in EDITABLE if getattr(meeting, name) != fields[name]]
    if not changed:
        return 0
    for name in changed:
        setattr(meeting, name, fields[name])
    moved = [name for name in changed if name in WHEN_AND_WHERE]
    if moved:
        meeting.sequence += 1
    db.session.flush()
    audit.record(meeting.municipality_id, actor, "update", "meeting", meeting.id, details={"changed": changed})
    if not moved:
        return 0
    if {"starts_at", "ends_at"} & set(moved):
        _move_link_expiry(meeting)
    municipality = _municipality(meeting)
    subject = _l("Endret: %(title)s", title=meeting.title)
    sent = 0
    for invitation in meeting.invitations:
        address = invitation.organization.notify_email
        if _active(invitation) and address:
            _queue_invitation_mail(invitation, municipality, address, "invitation_update", subject)
            sent += 1
    return sent


def _move_link_expiry(meeting: Meeting) -> None:
    """Links follow the meeting: a later meeting must not leave them expiring early."""
    ids = [invitation.id for invitation in meeting.invitations]
    if not ids:
        return
    db.session.execute(
        update(LinkToken)
        .where(
            LinkToken.purpose == tokens.Purpose.ANSWER_INVITATION.value,
            LinkToken.municipality_id == meeting.municipality_id,
            LinkToken.object_id.in_(ids),
        )
        .values(expires_at=link_expiry(meeting))
        .execution_options(synchronize_session=False)
    )


def cancel_meeting(meeting: Meeting, actor: Actor) -> int:
    """Cancel: every invitee gets METHOD:CANCEL; the links then show the cancellation."""
    if meeting.cancelled_at is not None:
        return 0  # a second click cancels nothing more and emails nobody twice
    meeting.cancelled_at = now_utc()
    meeting.sequence += 1
    db.session.flush()
    audit.record(meeting.municipality_id, actor, "cancel", "meeting", meeting.id)
    municipality = _municipality(meeting)
    subject = _l("Avlyst: %(title)s", title=meeting.title)
    sent = 0
    for invitation in meeting.invitations:
        address = invitation.organization.notify_email
        if _active(invitation) and address:
            _queue_invitation_mail(invitation, municipality, address, "invitation_cancelled", subject, method="CANCEL")
            sent += 1
    return sent


def remind(meeting: Meeting, actor: Actor) -> list[Invitation]:
    """Remind every organisation that has not answered, with a fresh link to the same answer page."""
    if meeting.cancelled_at is not None:
        raise MeetingCancelled()
    if has_started(meeting):
        raise AnswerClosed()
    municipality = _municipality(meeting)
    subject = _l("Påminnelse: %(title)s", title=meeting.title)
    reminded = []
    for invitation in meeting.invitations:
        address = invitation.organization.notify_email
        if invitation.answer != InvitationAnswer.PENDING.value or not _active(invitation) or not address:
            continue
        invitation.reminders_sent += 1
        invitation.last_reminded_at = now_utc()
        _queue_invitation_mail(invitation, municipality, address, "invitation_reminder", subject)
        audit.record(meeting.municipality_id, actor, "remind", "invitation", invitation.id)
        reminded.append(invitation)
    return reminded


@dataclass(frozen=True)
class Answer:
    attending: bool
    participants: int | None
    participant_names: str
    activity_area_ids: tuple[int, ...]
    comment: str


def check_answerable(invitation: Invitation) -> None:
    """Raise why the invitation cannot be answered now, if it cannot."""
    if not _active(invitation):
        raise InvitationInactive()
    if invitation.meeting.cancelled_at is not None:
        raise MeetingCancelled()
    if has_started(invitation.meeting):
        raise AnswerClosed()


def answer_invitation(invitation: Invitation, answer: Answer, actor: Actor) -> None:
    """Record (or change) the organisation's answer and tell the meeting's owner."""
    check_answerable(invitation)
    meeting = invitation.meeting
    invitation.answer = (
        InvitationAnswer.ATTENDING if answer.attending else InvitationAnswer.NOT_ATTENDING
    ).value
    invitation.participants = answer.participants if answer.attending else None
    invitation.participant_names = answer.participant_names if answer.attending else ""
    offered = {area.id: area for area in visible_activity_areas(invitation.municipality_id)}
    # An area hidden from the catalogue since it was chosen is not offered any more,
    # so it cannot be ticked again: keep it rather than lose it silently.
    kept = [area for area in invitation.activity_areas if area.hidden]
    invitation.activity_areas = kept + [offered[i] for i in answer.activity_area_ids if i in offered]
    invitation.comment = answer.comment
    invitation.answered_at = now_utc()
    audit.record(
        invitation.municipality_id,
        actor,
        "answer",
        "invitation",
        invitation.id,
        to_state=invitation.answer,
    )
    owner = db.session.get(User, meeting.created_by_id) if meeting.created_by_id else None
    if owner is not None:
        mail.queue(
            invitation.municipality_id,
            owner.email,
            _l("Svar fra %(org)s: %(title)s", org=invitation.organization.name, title=meeting.title),
            "invitation_answered",
            locale=owner.locale,
            invitation=invitation,
            link=url_for("meetings.show", meeting_id=meeting.id, _external=True),
        )


def tally(meeting: Meeting) -> dict:
    """Counts for the staff page: answers, people coming, organisations left to answer."""
    counts = Counter(invitation.answer for invitation in meeting.invitations)
    return {
        "invited": len(meeting.invitations),
        "attending": counts[InvitationAnswer.ATTENDING.value],
        "not_attending": counts[InvitationAnswer.NOT_ATTENDING.value],
        "pending": counts[InvitationAnswer.PENDING.value],
        # Who a reminder would reach: not answered, still in the registry, with an address.
        "remindable": sum(
            1
            for invitation in meeting.invitations
            if invitation.answer == InvitationAnswer.PENDING.value
            and _active(invitation)
            and invitation.organization.notify_email
        ),
        "people": sum(
            invitation.participants or 0
            for invitation in meeting.invitations
            if invitation.answer == InvitationAnswer.ATTENDING.value
        ),
    }


def record_attendance(
    meeting: Meeting, attended_ids: set[int], notes: str, expected_version: int, actor: Actor
) -> None:
    """After the meeting: who came (ticked invitations) and the notes."""
    if meeting.cancelled_at is not None:
        raise MeetingCancelled()
    if meeting.version != expected_version:
        raise MeetingChanged()
    for invitation in meeting.invitations:
        invitation.attended = invitation.id in attended_ids
    meeting.notes = notes
    db.session.flush()
    audit.record(
        meeting.municipality_id, actor, "attendance", "meeting", meeting.id,
        details={"attended": sorted(attended_ids)},
    )


def start_agreement(invitation: Invitation, user: User, actor: Actor) -> tuple[Agreement, bool]:
    """A draft for an organisation that came, with the activity areas it chose.

    Returns (agreement, created): an open draft for the organisation is reused,
    so a double click does not make two.
    """
    if invitation.attended is not True:
        raise NotAttended()
    if not _active(invitation):
        raise InvitationInactive()
    existing = db.session.scalar(
        select(Agreement)
        .where(
            Agreement.municipality_id == invitation.municipality_id,
            Agreement.organization_id == invitation.organization_id,
            Agreement.state == "draft",
        )
        .order_by(Agreement.id.desc())
    )
    if existing is not None:
        return existing, False
    return create_draft(invitation.organization, user, actor, activity_areas=list(invitation.activity_areas)), True


CSV_COLUMNS = (
    _l("Organisasjon"), _l("E-post"), _l("Svar"), _l("Antall"), _l("Navn"),
    _l("Aktivitetsområder"), _l("Kommentar"), _l("Påminnelser"), _l("Møtte"),
)


def _cell(value) -> str:
    """A spreadsheet cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def participants_csv(meeting: Meeting, answer_labels: dict) -> bytes:
    """Every invitation as a row: UTF-8 with BOM and semicolons, as Excel in Norway opens it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(column) for column in CSV_COLUMNS])
    for invitation in meeting.invitations:
        attended = {None: "", True: "ja", False: "nei"}[invitation.attended]
        writer.writerow([
            _cell(value)
            for value in (
                invitation.organization.name,
                invitation.organization.notify_email,
                answer_labels[invitation.answer],
                invitation.participants,
                " / ".join(line.strip() for line in invitation.participant_names.splitlines() if line.strip()),
                ", ".join(area.name for area in invitation.activity_areas),
                invitation.comment,
                invitation.reminders_sent,
                attended,
            )
        ])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def attendance_pdf(meeting: Meeting) -> bytes:
    """A printable attendance list: those who said they come, and blank rows for others."""
    attending = [
        invitation
        for invitation in meeting.invitations
        if invitation.answer == InvitationAnswer.ATTENDING.value and _active(invitation)
    ]
    with force_locale("nb"):
        html = render_template(
            "pdf/attendance.html", meeting=meeting, municipality=_municipality(meeting), invitations=attending
        )
    return render_pdf(html)
