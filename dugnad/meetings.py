"""Meetings with the local voluntary sector, and the invitations to them."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l

from . import audit, mail, tokens
from .extensions import db
from .lifecycle import Actor
from .models import Invitation, InvitationAnswer, Meeting, Organization, User
from .timeutil import now_utc


class AnswerClosed(Exception):
    """The meeting has started; answers can no longer change."""


def create_meeting(municipality_id: int, fields: dict, user: User, actor: Actor) -> Meeting:
    meeting = Meeting(municipality_id=municipality_id, created_by_id=user.id, **fields)
    db.session.add(meeting)
    db.session.flush()
    audit.record(municipality_id, actor, "create", "meeting", meeting.id)
    return meeting


def invite(
    meeting: Meeting, organizations: list[Organization], actor: Actor
) -> tuple[list[Invitation], list[Organization]]:
    """Invite each organisation not yet invited; email each its own link.

    Returns (new invitations, organisations skipped because they have no email
    address), so the caller can name the latter instead of skipping them silently.
    """
    already = {inv.organization_id for inv in meeting.invitations}
    created, without_email = [], []
    for organization in organizations:
        if organization.id in already:
            continue
        address = organization.notify_email
        if not address:
            without_email.append(organization)
            continue
        invitation = Invitation(
            municipality_id=meeting.municipality_id,
            meeting=meeting,
            organization=organization,
        )
        db.session.add(invitation)
        db.session.flush()
        # The link works until the meeting starts; after that answers are closed.
        token = tokens.issue(
            meeting.municipality_id,
            tokens.Purpose.ANSWER_INVITATION,
            invitation.id,
            expires_at=meeting.starts_at,
        )
        mail.queue(
            meeting.municipality_id,
            address,
            _l("Invitasjon: %(title)s", title=meeting.title),
            "invitation",
            meeting=meeting,
            organization=organization,
            link=url_for("respond.invitation", token=token, _external=True),
        )
        audit.record(
            meeting.municipality_id,
            actor,
            "invite",
            "invitation",
            invitation.id,
            details={"meeting_id": meeting.id, "organization_id": organization.id},
        )
        created.append(invitation)
    return created, without_email


def answer_invitation(invitation: Invitation, attending: bool, comment: str, actor: Actor) -> None:
    """Record (or change) the organisation's answer and tell the meeting's owner."""
    meeting = invitation.meeting
    if now_utc() >= meeting.starts_at:
        raise AnswerClosed()
    invitation.answer = (
        InvitationAnswer.ATTENDING if attending else InvitationAnswer.NOT_ATTENDING
    ).value
    invitation.comment = comment
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
