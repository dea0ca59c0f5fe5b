from collections import Counter

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from dugnad.access import get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.meetings import create_meeting, invite
from dugnad.models import Invitation, Meeting, Organization

from ..actor import current_actor
from . import bp
from .forms import InviteForm, MeetingForm

#: The invitations with their organisations, loaded with the meeting, not one per row.
WITH_INVITATIONS = selectinload(Meeting.invitations).joinedload(Invitation.organization)


def _invite_form(meeting: Meeting) -> InviteForm:
    form = InviteForm()
    invited = {inv.organization_id for inv in meeting.invitations}
    candidates = db.session.scalars(
        scoped(Organization).options(selectinload(Organization.contacts)).order_by(Organization.name)
    ).all()
    form.organizations.choices = [
        SelectChoice(org.id, org.name if org.notify_email else _("%(name)s (mangler e-postadresse)", name=org.name))
        for org in candidates
        if org.id not in invited
    ]
    return form


@bp.route("/")
@staff_required
def index():
    """All meetings, newest first."""
    meetings = db.session.scalars(
        scoped(Meeting).options(selectinload(Meeting.invitations)).order_by(Meeting.starts_at.desc())
    ).all()
    return render_template("meetings/index.html", meetings=meetings)


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new():
    """Plan a meeting with the local voluntary organisations."""
    form = MeetingForm()
    if form.validate_on_submit():
        meeting = create_meeting(current_user.municipality_id, form.meeting_fields(), current_user, current_actor())
        db.session.commit()
        flash(_("Møtet er opprettet. Velg hvem som skal inviteres."), "success")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template("meetings/form.html", form=form), 400 if form.errors else 200


def _render_show(meeting: Meeting, form: InviteForm, status: int = 200):
    tally = Counter(inv.answer for inv in meeting.invitations)
    return render_template("meetings/show.html", meeting=meeting, form=form, tally=tally), status


@bp.route("/<int:meeting_id>")
@staff_required
def show(meeting_id: int):
    """The meeting, its invitations and their answers."""
    meeting = get_scoped_or_404(Meeting, meeting_id, WITH_INVITATIONS)
    return _render_show(meeting, _invite_form(meeting))


@bp.route("/<int:meeting_id>/invite", methods=["POST"])
@staff_required
def invite_organizations(meeting_id: int):
    """Invite the ticked organisations; each gets an email with its own link."""
    meeting = get_scoped_or_404(Meeting, meeting_id)
    form = _invite_form(meeting)
    if not form.validate_on_submit():
        return _render_show(meeting, form, 400)
    chosen = db.session.scalars(scoped(Organization).where(Organization.id.in_(form.organizations.data))).all()
    created, without_email = invite(meeting, chosen, current_actor())
    db.session.commit()
    if created:
        flash(ngettext("%(num)d organisasjon er invitert.", "%(num)d organisasjoner er invitert.", len(created)), "success")
    if without_email:
        names = ", ".join(org.name for org in without_email)
        flash(_("Ikke invitert fordi e-postadresse mangler: %(names)s. Legg inn en adresse og inviter på nytt.", names=names), "warning")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))

