from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from dugnad import agreements as ops
from dugnad import meetings, review_codes
from dugnad.extensions import db
from dugnad.lifecycle import IllegalTransition
from dugnad.models import Agreement, Invitation, Municipality
from dugnad.pdf import render_pdf
from dugnad.tokens import LinkProblem, Purpose, resolve

from ..actor import link_actor
from . import bp
from .forms import AcceptForm, CodeForm, InvitationAnswerForm, ReasonForm


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


# --- The one-time code (when the municipality asks for it) ----------------------------

#: Review links this browser session has opened with a code (a short list, newest last).
VERIFIED_LINKS = "verified_review_links"
VERIFIED_KEEP = 10


def _code_needed(link) -> bool:
    """Whether this request must show the code page instead of what the link opens."""
    municipality = db.session.get(Municipality, link.municipality_id)
    return municipality.review_code_required and link.id not in session.get(VERIFIED_LINKS, [])


def _remember_verified(link) -> None:
    kept = [link_id for link_id in session.get(VERIFIED_LINKS, []) if link_id != link.id]
    session[VERIFIED_LINKS] = [*kept, link.id][-VERIFIED_KEEP:]


def _code_page(link, agreement, form=None, status=200, problem=None, **extra):
    """Asks for the code: first a button that sends one (never a GET: mail scanners open
    links), then the field for it. `problem` names why a code was refused or not sent."""
    municipality = db.session.get(Municipality, link.municipality_id)
    address = review_codes.recipient(link, agreement)
    can_send = bool(address) and link.codes_sent < review_codes.max_sends()
    if problem is None and not can_send and review_codes.state(link) != "active":
        problem = "no_recipient" if not address else "too_many"
    return render_template(
        "respond/agreement_code.html",
        token=request.view_args["token"],
        address=review_codes.mask(address),
        can_send=can_send,
        code_state=review_codes.state(link),
        expires_at=link.code_expires_at,
        form=form or CodeForm(formdata=None),
        problem=problem,
        municipality=municipality,
        minutes=review_codes.minutes(),
        **extra,
    ), status


@bp.route("/agreement/<token>/code/send", methods=["POST"])
def agreement_code_send(token: str):
    """Email a one-time code to the address the link was sent to."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    agreement = _linked(Agreement, link)
    if not _code_needed(link):
        return redirect(url_for("respond.agreement", token=token))
    try:
        review_codes.send_code(link, link_actor(agreement.organization.name))
    except review_codes.TooSoon as refused:
        db.session.rollback()
        return _code_page(link, agreement, status=429, problem="too_soon", seconds=refused.seconds)
    except review_codes.TooManySends:
        db.session.rollback()
        return _code_page(link, agreement, status=429, problem="too_many")
    except review_codes.NoRecipient:
        db.session.rollback()
        return _code_page(link, agreement, status=409, problem="no_recipient")
    db.session.commit()
    flash(
        _("Vi har sendt en kode til %(address)s. Den gjelder i %(minutes)d minutter.",
          address=review_codes.mask(review_codes.recipient(link, agreement)), minutes=review_codes.minutes()),
        "success",
    )
    return redirect(url_for("respond.agreement", token=token))


@bp.route("/agreement/<token>/code", methods=["POST"])
def agreement_code(token: str):
    """Take the one-time code; a right one opens the link in this browser session."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    agreement = _linked(Agreement, link)
    if not _code_needed(link):
        return redirect(url_for("respond.agreement", token=token))
    form = CodeForm()
    # Without a live code, whatever was typed gets the same answer: ask for a new one.
    if review_codes.state(link) == "active" and not form.validate_on_submit():
        return _code_page(link, agreement, form, status=400)
    try:
        review_codes.check_code(link, form.code.data, link_actor(agreement.organization.name))
    except review_codes.WrongCode as wrong:
        db.session.commit()  # the wrong try counts, whatever the answer
        form.code.errors.append(
            ngettext("Koden er feil. Du har %(num)d forsøk igjen.", "Koden er feil. Du har %(num)d forsøk igjen.", wrong.tries_left)
        )
        return _code_page(link, agreement, form, status=400)
    except review_codes.CodeVoid:
        db.session.commit()
        return _code_page(link, agreement, status=429, problem="void")
    except review_codes.CodeExpired:
        db.session.rollback()
        return _code_page(link, agreement, status=410, problem="expired")
    except review_codes.NoCode:
        db.session.rollback()
        return _code_page(link, agreement, status=400, problem="no_code")
    db.session.commit()
    _remember_verified(link)
    return redirect(url_for("respond.agreement", token=token))


# --- Read-only once answered ----------------------------------------------------------


def _link_version(agreement: Agreement, link):
    """The version the link was sent for: the newest one made before the link."""
    made = [version for version in agreement.versions if version.created_at <= link.created_at]
    return made[-1] if made else agreement.latest_version


def _read_only(agreement: Agreement, link) -> bool:
    """Nothing to answer through this link: it answered, someone answered through
    another link (an agreement can go to several contacts), or a newer version exists."""
    return (
        link.used_at is not None
        or agreement.state != "sent"
        or _link_version(agreement, link) is not agreement.latest_version
    )


#: The audit actions that are the organisation's answer.
ANSWERS = ("accept", "decline", "request_changes")

#: The read-only page's heading, by the agreement's state.
STATUS_HEADINGS = {
    "accepted": _l("Avtalen er godtatt"),
    "declined": _l("Avtalen er avslått"),
    "changes_requested": _l("Organisasjonen har bedt om endringer"),
    "draft": _l("Kommunen arbeider med en ny versjon"),
    "signed": _l("Avtalen er signert"),
    "terminated": _l("Avtalen er sagt opp"),
    "withdrawn": _l("Avtalen er trukket tilbake"),
}


def _status_page(agreement: Agreement, link, status: int = 200, message=None):
    """What was answered, by whom and when, and the signed PDF once there is one."""
    events = ops.history(agreement)
    answer = next((event for event in reversed(events) if event.action in ANSWERS), None)
    countersigned = next((event for event in reversed(events) if event.action == "countersign"), None)
    if message is None:
        message = (
            _("Det finnes en nyere versjon av avtalen")
            if agreement.state == "sent"
            else STATUS_HEADINGS.get(agreement.state, _("Status for avtalen"))
        )
    return render_template(
        "respond/agreement_done.html",
        agreement=agreement,
        message=message,
        answer=answer,
        countersigned=countersigned,
        newer_version=_link_version(agreement, link) is not agreement.latest_version,
        link_answered=link.used_at is not None,
        refused=status == 409,
    ), status


@bp.route("/agreement/<token>", methods=["GET", "POST"])
def agreement(token: str):
    """The organisation reads the exact version sent, then accepts, declines or asks for changes.

    Once there is nothing left to answer through the link, it shows the status read-only
    (a post then gets 409 and changes nothing)."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    agreement = _linked(Agreement, link)
    if request.method == "GET":
        # Before the code too: the sender's timeline says when the link was first opened.
        ops.link_opened(link, link_actor(agreement.organization.name))
        db.session.commit()
    if _code_needed(link):
        return _code_page(link, agreement, status=200 if request.method == "GET" else 403)
    if _read_only(agreement, link):
        return _status_page(agreement, link, 200 if request.method == "GET" else 409)

    accept_form = AcceptForm(prefix="accept")
    decline_form = ReasonForm(prefix="decline")
    changes_form = ReasonForm(prefix="changes")
    if request.method == "GET":
        return _agreement_page(agreement, accept_form, decline_form, changes_form)

    action = request.form.get("action")
    organization = agreement.organization.name
    try:
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
    except (IllegalTransition, LinkProblem) as lost:
        # Another answer (through this link or another one) won the race since the check above.
        if isinstance(lost, LinkProblem) and lost.reason != "used":
            raise
        db.session.rollback()
        db.session.refresh(agreement)
        db.session.refresh(link)
        return _status_page(agreement, link, 409)
    db.session.commit()
    return redirect(url_for("respond.agreement_done", token=token))


@bp.route("/agreement/<token>/done")
def agreement_done(token: str):
    """The receipt after answering: what was answered, read-only."""
    link = resolve(token, Purpose.REVIEW_AGREEMENT, allow_used=True)
    if link.used_at is None:
        return redirect(url_for("respond.agreement", token=token))
    agreement = _linked(Agreement, link)
    if _code_needed(link):
        return _code_page(link, agreement)
    return _status_page(agreement, link, message=_("Takk for svaret."))


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
    if _code_needed(link):
        return _code_page(link, agreement)
    version = _link_version(agreement, link)
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
    if _code_needed(link):
        return _code_page(link, agreement)
    document = agreement.signed_document
    if document is None:
        abort(404)
    return _pdf_response(document.pdf, f"samarbeidsavtale-{agreement.number}.pdf", document.sha256)
