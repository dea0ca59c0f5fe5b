from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dugnad import evaluations as ops
from dugnad.access import get_scoped_or_404, staff_required
from dugnad.extensions import db
from dugnad.models import Agreement, Evaluation
from dugnad.timeutil import now_utc, today_oslo
from dugnad.tokens import LinkProblem, Purpose, resolve

from ..actor import current_actor, link_actor
from . import bp
from .forms import AnswerForm, ViewForm

#: Each status with its label and tag colour, for the staff pages.
STATUS_LABELS = {
    "unsent": (_l("Ikke sendt: organisasjonen mangler e-postadresse"), "danger"),
    "waiting": (_l("Sendt, venter på svar"), "info"),
    "expired": (_l("Ikke besvart, lenken er utløpt"), "warning"),
    "answered": (_l("Besvart, mangler kommunens vurdering"), "warning"),
    "done": (_l("Besvart og vurdert"), "success"),
}


def count_text(number: int | None) -> str:
    """1200 -> '1 200' (a no-break space between thousands, as Norwegians write it)."""
    return "–" if number is None else f"{number:,}".replace(",", "\u00a0")


@bp.app_context_processor
def evaluation_helpers():
    """What the agreement page's evaluations fragment needs, without the agreement view
    having to know about evaluations."""

    def evaluations_of(agreement: Agreement) -> dict:
        today = today_oslo()
        items = ops.of_agreement(agreement)
        active = agreement.state == "signed"
        return {
            "items": items,
            "interval": ops.interval_months(agreement) if agreement.accepted_version else None,
            # After the newest one made, should it have been made ahead of its date.
            "next_due": ops.next_due(agreement, max([today, *(item.due_on for item in items)])) if active else None,
            "latest_answered": next((item for item in items if item.answered_at), None),
            "now": now_utc(),
        }

    return {
        "evaluations_of": evaluations_of,
        "count_text": count_text,
        "evaluation_status": ops.status,
        "EVALUATION_STATUS_LABELS": STATUS_LABELS,
    }


# --- The organisation's form, behind the emailed link ------------------------------------


def _linked_evaluation(link) -> Evaluation:
    """The evaluation a link points to, in the link's own municipality."""
    evaluation = db.session.scalar(
        select(Evaluation)
        .where(Evaluation.id == link.object_id, Evaluation.municipality_id == link.municipality_id)
        .options(joinedload(Evaluation.agreement).joinedload(Agreement.organization))
    )
    if evaluation is None:
        raise LinkProblem("unknown", 404)
    return evaluation


def _receipt(evaluation: Evaluation, status: int = 200):
    return render_template(
        "evaluations/answered.html", evaluation=evaluation, agreement=evaluation.agreement, refused=status == 409
    ), status


@bp.route("/r/evaluation/<token>", methods=["GET", "POST"])
def respond(token: str):
    """The organisation answers the evaluation. Once answered (through this link or
    another one), the link shows the answer read-only; a post then gets 409."""
    link = resolve(token, Purpose.EVALUATE_AGREEMENT, allow_used=True)
    evaluation = _linked_evaluation(link)
    if evaluation.answered_at is not None:
        return _receipt(evaluation, 200 if request.method == "GET" else 409)
    form = AnswerForm()
    if form.validate_on_submit():
        given = ops.Answer(
            went_well=form.went_well.data,
            went_badly=form.went_badly.data or "",
            volunteers=form.volunteers.number,
            participants=form.participants.number,
            wishes=form.wishes.data or "",
            answered_by=form.name.data,
        )
        organization = evaluation.agreement.organization.name
        try:
            ops.answer(evaluation, link, given, link_actor(f"{given.answered_by} ({organization})"))
        except ops.AlreadyAnswered:
            # Someone answered through another link since the check above.
            db.session.rollback()
            db.session.refresh(evaluation)
            return _receipt(evaluation, 409)
        db.session.commit()
        flash(_("Takk! Evalueringen er sendt til kommunen."), "success")
        return redirect(url_for("evaluations.respond", token=token))
    return render_template(
        "evaluations/respond.html", evaluation=evaluation, agreement=evaluation.agreement, form=form
    ), 400 if form.errors else 200


# --- Staff ---------------------------------------------------------------------------------


@bp.route("/evaluations/")
@staff_required
def index():
    """All the municipality's evaluations, the newest first, with their status."""
    return render_template(
        "evaluations/index.html", evaluations=ops.of_municipality(current_user.municipality_id), now=now_utc()
    )


def _show(evaluation: Evaluation, form: ViewForm | None = None, status: int = 200):
    if form is None:
        form = ViewForm(formdata=None, data={"municipality_view": evaluation.municipality_view})
    return render_template(
        "evaluations/show.html", evaluation=evaluation, agreement=evaluation.agreement, form=form, now=now_utc()
    ), status


@bp.route("/evaluations/<int:evaluation_id>")
@staff_required
def show(evaluation_id: int):
    """One evaluation: the organisation's answer and the municipality's view."""
    return _show(get_scoped_or_404(Evaluation, evaluation_id))


@bp.route("/evaluations/<int:evaluation_id>/view", methods=["POST"])
@staff_required
def view(evaluation_id: int):
    """Add or change the municipality's view; back to the agreement's page."""
    evaluation = get_scoped_or_404(Evaluation, evaluation_id)
    form = ViewForm()
    if not form.validate_on_submit():
        return _show(evaluation, form, 400)
    if ops.add_municipality_view(evaluation, current_user, form.municipality_view.data, current_actor()):
        db.session.commit()
    flash(_("Kommunens vurdering er lagret."), "success")
    return redirect(url_for("agreements.show", agreement_id=evaluation.agreement_id, _anchor=f"evaluation-{evaluation.id}"))

