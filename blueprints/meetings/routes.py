from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields.choices import SelectChoice

from dugnad import meetings as ops
from dugnad.access import MAX_ID, get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.models import ActivityArea, Invitation, Meeting, Organization
from dugnad.registry import RegistryFilter, registry_query
from dugnad.ui import ANSWER_LABELS, is_htmx

from ..actor import current_actor
from . import bp
from .forms import AttendanceForm, ConfirmForm, EditMeetingForm, InviteForm, MeetingForm

#: The invitations with their organisations and chosen areas, loaded with the meeting.
WITH_INVITATIONS = (
    selectinload(Meeting.invitations).joinedload(Invitation.organization).selectinload(Organization.contacts),
    selectinload(Meeting.invitations).selectinload(Invitation.activity_areas),
)


def _meeting(meeting_id: int) -> Meeting:
    return get_scoped_or_404(Meeting, meeting_id, *WITH_INVITATIONS)


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
        meeting = ops.create_meeting(current_user.municipality_id, form.meeting_fields(), current_user, current_actor())
        db.session.commit()
        flash(_("Møtet er opprettet. Velg hvem som skal inviteres."), "success")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template("meetings/form.html", form=form, meeting=None), 400 if form.errors else 200


def _page_context(meeting: Meeting) -> dict:
    return {
        "meeting": meeting,
        "tally": ops.tally(meeting),
        "started": ops.has_started(meeting),
        "poll_seconds": current_app.config.get("MEETING_TALLY_POLL_SECONDS", 10),
        "confirm_form": ConfirmForm(),
    }


@bp.route("/<int:meeting_id>")
@staff_required
def show(meeting_id: int):
    """The meeting, a live tally, each organisation's answer, and what to do next."""
    meeting = _meeting(meeting_id)
    attendance_form = AttendanceForm(data={"notes": meeting.notes, "version": meeting.version})
    return render_template("meetings/show.html", attendance_form=attendance_form, **_page_context(meeting))


@bp.route("/<int:meeting_id>/tally")
@staff_required
def tally(meeting_id: int):
    """The tally alone: polled by the meeting page (htmx)."""
    meeting = _meeting(meeting_id)
    return render_template("meetings/_tally.html", **_page_context(meeting))


# --- Editing and cancelling ---------------------------------------------------------


@bp.route("/<int:meeting_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(meeting_id: int):
    """Change the meeting; a new time or place is sent to every invitee as an update."""
    meeting = _meeting(meeting_id)
    if meeting.cancelled_at is not None or ops.has_started(meeting):
        flash(_("Et avlyst eller påbegynt møte kan ikke endres."), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    if request.method == "GET":
        form = EditMeetingForm(data=EditMeetingForm.data_from(meeting))
        return render_template("meetings/form.html", form=form, meeting=meeting)
    form = EditMeetingForm()
    if not form.validate_on_submit():
        return render_template("meetings/form.html", form=form, meeting=meeting), 400
    try:
        sent = ops.update_meeting(meeting, form.meeting_fields(), form.loaded_version(), current_actor())
        db.session.commit()
    except (ops.MeetingChanged, StaleDataError):
        return _edit_conflict(meeting_id, form)
    if sent:
        flash(ngettext(
            "Møtet er lagret. %(num)d organisasjon har fått en oppdatert invitasjon.",
            "Møtet er lagret. %(num)d organisasjoner har fått en oppdatert invitasjon.",
            sent,
        ), "success")
    else:
        flash(_("Møtet er lagret."), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


def _edit_conflict(meeting_id: int, form: EditMeetingForm):
    """Someone saved in between: show their version next to this user's input, overwrite nothing."""
    db.session.rollback()
    saved = _meeting(meeting_id)
    # The next save is made knowing the other's changes: it carries their version.
    form.version.data = saved.version
    return render_template("meetings/form.html", form=form, meeting=saved, conflict=True), 409


@bp.route("/<int:meeting_id>/cancel", methods=["GET", "POST"])
@staff_required
def cancel(meeting_id: int):
    """Cancel the meeting (after a confirmation page); every invitee is told."""
    meeting = _meeting(meeting_id)
    form = ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("meetings/cancel.html", meeting=meeting, form=form)
    already = meeting.cancelled_at is not None
    sent = ops.cancel_meeting(meeting, current_actor())
    db.session.commit()
    if already:
        flash(_("Møtet var allerede avlyst."), "warning")
    else:
        flash(ngettext(
            "Møtet er avlyst. %(num)d organisasjon har fått beskjed.",
            "Møtet er avlyst. %(num)d organisasjoner har fått beskjed.",
            sent,
        ), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


# --- Choosing invitees -------------------------------------------------------------


def _ids(values) -> set[int]:
    ids = set()
    for value in values:
        if value.isdigit() and 0 < int(value) <= MAX_ID:
            ids.add(int(value))
    return ids


def _not_invited(meeting: Meeting):
    invited = select(Invitation.organization_id).where(Invitation.meeting_id == meeting.id)
    return Organization.id.not_in(invited)


def _candidates(meeting: Meeting, registry_filter: RegistryFilter) -> list[Organization]:
    """Organisations matching the filter: of this municipality, not deleted, not yet invited."""
    statement = registry_query(current_user.municipality_id, registry_filter).where(_not_invited(meeting))
    return db.session.scalars(statement.options(selectinload(Organization.contacts))).all()


def _chosen(meeting: Meeting, ids: set[int]) -> list[Organization]:
    """The ticked organisations that can still be invited (others' ids and deleted ones drop out)."""
    if not ids:
        return []
    statement = (
        registry_query(current_user.municipality_id, RegistryFilter())
        .where(_not_invited(meeting), Organization.id.in_(ids))
        .options(selectinload(Organization.contacts))
    )
    return db.session.scalars(statement).all()


def _open_for_invitations(meeting: Meeting):
    if meeting.cancelled_at is not None:
        flash(_("Møtet er avlyst. Det kan ikke sendes flere invitasjoner."), "error")
    elif ops.has_started(meeting):
        flash(_("Møtet har startet. Det kan ikke sendes flere invitasjoner."), "error")
    else:
        return None
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.route("/<int:meeting_id>/invite")
@staff_required
def choose(meeting_id: int):
    """Filter the registry and tick the organisations to invite; works without JavaScript."""
    meeting = _meeting(meeting_id)
    closed = _open_for_invitations(meeting)
    if closed:
        return closed
    # The same areas the registry offers: hidden ones are not for new choices.
    areas = db.session.scalars(
        scoped(ActivityArea).where(ActivityArea.hidden.is_(False)).order_by(ActivityArea.position, ActivityArea.id)
    ).all()
    registry_filter = RegistryFilter.from_query(request.args, areas)
    candidates = _candidates(meeting, registry_filter)
    ids = set() if request.args.get("clear") else _ids(request.args.getlist("organizations"))
    if request.args.get("select_all"):
        ids |= {organization.id for organization in candidates}
    chosen = _chosen(meeting, ids)
    chosen_ids = {organization.id for organization in chosen}
    candidate_ids = {organization.id for organization in candidates}
    return render_template(
        "meetings/choose.html",
        meeting=meeting,
        filter=registry_filter,
        candidates=candidates,
        chosen=chosen,
        chosen_ids=chosen_ids,
        chosen_elsewhere=[organization for organization in chosen if organization.id not in candidate_ids],
        without_email=[organization for organization in chosen if not organization.notify_email],
        areas=areas,
    )


@bp.route("/<int:meeting_id>/invite/count")
@staff_required
def choose_count(meeting_id: int):
    """'12 valgt, 2 mangler e-postadresse': the live count on the choosing page (htmx)."""
    meeting = _meeting(meeting_id)
    chosen = _chosen(meeting, _ids(request.args.getlist("organizations")))
    return render_template(
        "meetings/_choice_count.html",
        chosen=chosen,
        without_email=[organization for organization in chosen if not organization.notify_email],
    )


@bp.route("/<int:meeting_id>/invite/preview")
@staff_required
def preview(meeting_id: int):
    """The email exactly as it will be sent, and who lacks an address, before sending."""
    meeting = _meeting(meeting_id)
    closed = _open_for_invitations(meeting)
    if closed:
        return closed
    return _render_preview(meeting, _chosen(meeting, _ids(request.args.getlist("organizations"))))


def _render_preview(meeting: Meeting, chosen: list[Organization], error: str | None = None, status: int = 200):
    with_email = [organization for organization in chosen if organization.notify_email]
    example = with_email[0] if with_email else (chosen[0] if chosen else None)
    return render_template(
        "meetings/preview.html",
        meeting=meeting,
        chosen=chosen,
        with_email=with_email,
        without_email=[organization for organization in chosen if not organization.notify_email],
        email=ops.preview_invitation(meeting, example) if example else None,
        example=example,
        error=error,
        back_url=url_for("meetings.choose", meeting_id=meeting.id, organizations=[o.id for o in chosen]),
    ), status


def _invite_form(meeting: Meeting) -> InviteForm:
    form = InviteForm()
    candidates = db.session.scalars(
        registry_query(current_user.municipality_id, RegistryFilter()).where(_not_invited(meeting))
    ).all()
    form.organizations.choices = [SelectChoice(org.id, org.name) for org in candidates]
    return form


@bp.route("/<int:meeting_id>/invite", methods=["POST"])
@staff_required
def invite_organizations(meeting_id: int):
    """Invite the chosen organisations; each gets an email with its own link and a calendar invitation."""
    meeting = _meeting(meeting_id)
    closed = _open_for_invitations(meeting)
    if closed:
        return closed
    form = _invite_form(meeting)
    if not form.validate_on_submit():
        posted = _ids(request.form.getlist("organizations"))
        if posted and posted <= {invitation.organization_id for invitation in meeting.invitations}:
            # Everything chosen is invited already: the second click of a double click.
            flash(_("Invitasjonene er allerede sendt. Ingen er invitert to ganger."), "warning")
            return _after_invite(meeting)
        error = form.organizations.errors[0] if form.organizations.errors else None
        return _render_preview(meeting, [], error=error or _("Velg organisasjonene på nytt."), status=400)
    chosen = _chosen(meeting, set(form.organizations.data))
    try:
        created, without_email = ops.invite(meeting, chosen, current_actor())
        db.session.commit()
    except IntegrityError:
        # Another request (a double click) invited the same organisation first: its invitations stand.
        db.session.rollback()
        flash(_("Invitasjonene ble sendt fra en annen fane eller et dobbeltklikk. Ingen er invitert to ganger."), "warning")
        return _after_invite(meeting)
    if created:
        flash(ngettext("%(num)d organisasjon er invitert.", "%(num)d organisasjoner er invitert.", len(created)), "success")
    if without_email:
        names = ", ".join(org.name for org in without_email)
        flash(_("Ikke invitert fordi e-postadresse mangler: %(names)s. Legg inn en adresse og inviter på nytt.", names=names), "warning")
    return _after_invite(meeting)


def _after_invite(meeting: Meeting):
    url = url_for("meetings.show", meeting_id=meeting.id)
    if is_htmx():
        # The send button posts with htmx (disabled while it runs); then a plain page load.
        return Response(status=204, headers={"HX-Redirect": url})
    return redirect(url)


# --- Answers, reminders and lists ----------------------------------------------------


@bp.route("/<int:meeting_id>/remind", methods=["POST"])
@staff_required
def remind(meeting_id: int):
    """Remind every organisation that has not answered."""
    meeting = _meeting(meeting_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        reminded = ops.remind(meeting, current_actor())
    except (ops.MeetingCancelled, ops.AnswerClosed):
        flash(_("Påminnelser kan bare sendes før møtet starter, og ikke for et avlyst møte."), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    db.session.commit()
    if reminded:
        flash(ngettext("Påminnelse sendt til %(num)d organisasjon.", "Påminnelse sendt til %(num)d organisasjoner.", len(reminded)), "success")
    else:
        flash(_("Alle har svart; ingen påminnelse er sendt."), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.route("/<int:meeting_id>/participants.csv")
@staff_required
def participants_csv(meeting_id: int):
    """Every invitation and its answer, for a spreadsheet."""
    meeting = _meeting(meeting_id)
    return Response(
        ops.participants_csv(meeting, {key: str(label) for key, label in ANSWER_LABELS.items()}),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="deltakere-mote-{meeting.id}.csv"'},
    )


@bp.route("/<int:meeting_id>/attendance.pdf")
@staff_required
def attendance_pdf(meeting_id: int):
    """A printable attendance list with a signature line per organisation."""
    meeting = _meeting(meeting_id)
    return Response(
        ops.attendance_pdf(meeting),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="oppmote-mote-{meeting.id}.pdf"'},
    )


# --- After the meeting ----------------------------------------------------------------


@bp.route("/<int:meeting_id>/attendance", methods=["POST"])
@staff_required
def record_attendance(meeting_id: int):
    """Who came, and the notes; only once the meeting has started."""
    meeting = _meeting(meeting_id)
    if not ops.has_started(meeting) or meeting.cancelled_at is not None:
        flash(_("Oppmøte kan registreres når møtet har startet."), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    form = AttendanceForm()
    if not form.validate_on_submit():
        return render_template("meetings/show.html", attendance_form=form, **_page_context(meeting)), 400
    attended = _ids(request.form.getlist("attended"))
    try:
        ops.record_attendance(meeting, attended, form.notes.data or "", form.loaded_version(), current_actor())
        db.session.commit()
    except (ops.MeetingChanged, StaleDataError):
        db.session.rollback()
        meeting = _meeting(meeting_id)
        form.version.data = meeting.version
        conflict = _("Møtet er endret av noen andre mens du skrev. Se notatene som er lagret nå under, og lagre på nytt.")
        return render_template(
            "meetings/show.html", attendance_form=form, attendance_conflict=conflict, **_page_context(meeting)
        ), 409
    flash(_("Oppmøte og notater er lagret."), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id) + "#attendance")


@bp.route("/<int:meeting_id>/agreement", methods=["POST"])
@staff_required
def start_agreement(meeting_id: int):
    """An agreement draft for an organisation that came, with the areas it chose."""
    meeting = _meeting(meeting_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    organization_id = request.form.get("organization_id", type=int)
    invitation = next((inv for inv in meeting.invitations if inv.organization_id == organization_id), None)
    if invitation is None:
        abort(404)
    try:
        agreement, created = ops.start_agreement(invitation, current_user, current_actor())
    except (ops.NotAttended, ops.InvitationInactive):
        flash(_("Avtale kan startes herfra bare for organisasjoner som er registrert som møtt."), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    db.session.commit()
    if created:
        flash(_("Utkastet er opprettet med aktivitetene organisasjonen valgte. Fyll ut resten og send avtalen."), "success")
    else:
        flash(_("Organisasjonen har allerede et utkast; det er åpnet her."), "warning")
    return redirect(url_for("agreements.edit", agreement_id=agreement.id))

