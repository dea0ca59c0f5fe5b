from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from dugnad import agreements as ops
from dugnad import meetings
from dugnad.extensions import db
from dugnad.models import Agreement, Invitation
from dugnad.pdf import render_pdf
from dugnad.tokens import LinkProblem, Purpose, resolve

from ..actor import link_actor
from . import bp
from .forms import AcceptForm, InvitationAnswerForm, ReasonForm


def _linked(model, link):
    """The object a link points to, in the link's own municipality."""
    obj = db.session.scalar(
        select(model).where(model.id == link.object_id, model.municipality_id == link.municipality_id)
    )
    if obj is None:  # the object was deleted after the link was sent
        raise LinkProblem("unknown", 404)
    return obj


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """An organisation answers an invitation; the answer can change until the start.

    A cancelled meeting shows the cancellation (200, no form). After the start the
    page shows the recorded answer read-only with status 410: the answer is gone
    for good, not merely refused this once. An organisation deleted from the
    registry gets 410 with "no longer active".
    """
    link = resolve(token, Purpose.ANSWER_INVITATION)
    invitation = _linked(Invitation, link)
    meeting = invitation.meeting
    areas = meetings.visible_activity_areas(invitation.municipality_id)
    try:
        meetings.check_answerable(invitation)
    except (meetings.InvitationInactive, meetings.MeetingCancelled, meetings.AnswerClosed) as closed:
        return _closed_page(invitation, closed)

    form = InvitationAnswerForm(data=None if request.method == "POST" else _answer_data(invitation))
    form.activity_areas.choices = [SelectChoice(str(area.id), area.name) for area in areas]
    if form.validate_on_submit():
        answer = meetings.Answer(
            attending=form.answer.data == "attending",
            participants=form.participants.data,
            participant_names=(form.participant_names.data or "").strip(),
            activity_area_ids=form.area_ids(),
            comment=(form.comment.data or "").strip(),
        )
        try:
            meetings.answer_invitation(invitation, answer, link_actor(invitation.organization.name))
        except (meetings.InvitationInactive, meetings.MeetingCancelled, meetings.AnswerClosed) as closed:
            db.session.rollback()  # it closed while the form was being filled in
            return _closed_page(invitation, closed)
        db.session.commit()
        return redirect(url_for("respond.invitation", token=token, saved=1))
    return render_template(
        "respond/invitation.html",
        invitation=invitation,
        meeting=meeting,
        form=form,
        saved=request.args.get("saved") == "1" and not form.errors,
    ), 400 if form.errors else 200


def _closed_page(invitation: Invitation, closed: Exception):
    """Why the invitation can no longer be answered, with the meeting and the answer on record."""
    reason, status = {
        meetings.InvitationInactive: ("inactive", 410),
        # A cancellation is news to read, not a broken link; a post after it changes nothing.
        meetings.MeetingCancelled: ("cancelled", 200 if request.method == "GET" else 410),
        meetings.AnswerClosed: ("started", 410),
    }[type(closed)]
    return render_template(
        "respond/invitation_closed.html", invitation=invitation, meeting=invitation.meeting, reason=reason
    ), status


def _answer_data(invitation: Invitation) -> dict:
    return {
        "answer": None if invitation.answer == "pending" else invitation.answer,
        "participants": "" if invitation.participants is None else str(invitation.participants),
        "participant_names": invitation.participant_names,
        "activity_areas": [str(area.id) for area in invitation.activity_areas],
        "comment": invitation.comment,
    }


def _agreement_page(agreement, accept_form, decline_form, changes_form, status=200):
    return render_template(
        "respond/agreement.html",
        agreement=agreement,
        version=agreement.latest_version,
        accept_form=accept_form,
        decline_form=decline_form,
        changes_form=changes_form,
    ), status


@bp.route("/agreement/<token>", methods=["GET", "POST"])
def agreement(token: str):
    """The organisation reads the exact version sent, then accepts, declines or asks for changes."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT)
    agreement = _linked(Agreement, link)
    accept_form = AcceptForm(prefix="accept")
    decline_form = ReasonForm(prefix="decline")
    changes_form = ReasonForm(prefix="changes")
    if request.method == "GET":
        ops.link_opened(link, link_actor(agreement.organization.name))
        db.session.commit()
        return _agreement_page(agreement, accept_form, decline_form, changes_form)

    action = request.form.get("action")
    organization = agreement.organization.name
    if action == "accept" and accept_form.validate_on_submit():
        name, role = accept_form.name.data.strip(), accept_form.role.data.strip()
        ops.accept(agreement, link, name, role, link_actor(f"{name}, {role} ({organization})"), typed_signature=True)
    elif action in ("decline", "request_changes"):
        form = decline_form if action == "decline" else changes_form
        if not form.validate_on_submit():
            return _agreement_page(agreement, accept_form, decline_form, changes_form, 400)
        ops.answer_with_reason(agreement, link, action, form.reason.data.strip(), link_actor(organization))
    elif action == "accept":
        return _agreement_page(agreement, accept_form, decline_form, changes_form, 400)
    else:
        abort(400)
    db.session.commit()
    return redirect(url_for("respond.agreement_done", token=token))


@bp.route("/agreement/<token>/done")
def agreement_done(token: str):
    """The receipt after answering: what was answered, read-only."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    if link.used_at is None:
        return redirect(url_for("respond.agreement", token=token))
    agreement = _linked(Agreement, link)
    return render_template("respond/agreement_done.html", agreement=agreement, message=_("Takk for svaret."))


def _pdf_response(pdf: bytes, filename: str, sha256: str):
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-SHA256": sha256},
    )


@bp.route("/agreement/<token>/version.pdf")
def agreement_version_pdf(token: str):
    """The version sent for review as a PDF, to read, print or pass on to the board.
    Rendered from the frozen HTML, so it says exactly what the page says."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    agreement = _linked(Agreement, link)
    version = agreement.latest_version
    if version is None:
        abort(404)
    with force_locale(version.content.get("language", "nb")):
        html = render_template("pdf/version.html", agreement=agreement, version=version)
    return _pdf_response(render_pdf(html), f"samarbeidsavtale-{agreement.number}-versjon-{version.number}.pdf", version.sha256)


@bp.route("/agreement/<token>/signed.pdf")
def agreement_signed_pdf(token: str):
    """Once both parties have signed: the stored signed PDF, the same bytes the municipality keeps."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    agreement = _linked(Agreement, link)
    document = agreement.signed_document
    if document is None:
        abort(404)
    return _pdf_response(document.pdf, f"samarbeidsavtale-{agreement.number}.pdf", document.sha256)
