from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from dugnad import agreements as ops
from dugnad.access import admin_required, get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.models import Agreement, AuditEvent, Organization
from dugnad.sections import SECTIONS
from dugnad.ui import is_htmx

from ..actor import current_actor
from . import bp
from .forms import AgreementForm, CountersignForm


def _events(agreement: Agreement):
    return db.session.scalars(
        scoped(AuditEvent)
        .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement.id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()


def _panel(agreement: Agreement, countersign_form=None, status: int = 200, missing=(), message=None):
    """The status panel: a fragment for htmx, the whole page otherwise."""
    context = {
        "message": message,
        "agreement": agreement,
        "countersign_form": countersign_form or CountersignForm(role=current_user.title),
        "events": _events(agreement),
        "missing": missing,
        "sections": SECTIONS,
    }
    template = "agreements/_status.html" if is_htmx() else "agreements/show.html"
    return render_template(template, **context), status


def _after_action(agreement: Agreement, message: str):
    """POST-redirect-GET without JavaScript; the fresh panel for htmx."""
    if is_htmx():
        return _panel(agreement, message=message)
    flash(message, "success")
    return redirect(url_for("agreements.show", agreement_id=agreement.id))


@bp.route("/")
@staff_required
def index():
    """All agreements of the municipality."""
    agreements = db.session.scalars(
        scoped(Agreement).options(joinedload(Agreement.organization)).order_by(Agreement.number.desc())
    ).all()
    return render_template("agreements/index.html", agreements=agreements)


@bp.route("/new", methods=["POST"])
@staff_required
def create():
    """Start a draft for an organisation, pre-filled from the registry."""
    organization_id = request.form.get("organization_id", type=int)
    if organization_id is None:
        abort(400)
    organization = get_scoped_or_404(Organization, organization_id)
    if organization.deleted_at is not None:  # restore it first; no new work on a deleted one
        abort(404)
    agreement = ops.create_draft(organization, current_user, current_actor())
    db.session.commit()
    flash(_("Utkastet er opprettet. Fyll ut avsnittene og send avtalen."), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement.id))


@bp.route("/<int:agreement_id>")
@staff_required
def show(agreement_id: int):
    """The agreement: status, actions, versions and history."""
    return _panel(get_scoped_or_404(Agreement, agreement_id))


@bp.route("/<int:agreement_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(agreement_id: int):
    """Write the draft's sections."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    if agreement.state != "draft":
        flash(_("Bare utkast kan endres."), "error")
        return redirect(url_for("agreements.show", agreement_id=agreement.id))
    form = AgreementForm(data=_form_data(agreement)) if request.method == "GET" else AgreementForm()
    if form.validate_on_submit():
        ops.save_draft(agreement, form.title.data.strip(), form.content(), current_actor())
        db.session.commit()
        flash(_("Utkastet er lagret."), "success")
        return redirect(url_for("agreements.show", agreement_id=agreement.id))
    return render_template(
        "agreements/edit.html", agreement=agreement, form=form, REQUIRED_SECTIONS=ops.REQUIRED_SECTIONS
    ), 400 if form.errors else 200


def _form_data(agreement: Agreement) -> dict:
    data = {"title": agreement.title, **agreement.content}
    for key in ("valid_from", "valid_to"):
        data[key] = date.fromisoformat(data[key]) if data.get(key) else None
    return data


@bp.route("/<int:agreement_id>/send", methods=["POST"])
@staff_required
def send(agreement_id: int):
    """Freeze the draft as a version and email the organisation its link."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    missing = ops.missing_sections(agreement)
    if missing:
        return _panel(agreement, status=400, missing=missing)
    try:
        ops.send(agreement, current_actor())
    except ops.CannotSend:
        db.session.rollback()
        flash(_("Organisasjonen har ingen e-postadresse. Legg inn en kontaktperson med e-post først."), "error")
        return _panel(agreement, status=400)
    db.session.commit()
    return _after_action(agreement, _("Avtalen er sendt til %(org)s.", org=agreement.organization.name))


@bp.route("/<int:agreement_id>/withdraw", methods=["GET", "POST"])
@staff_required
def withdraw(agreement_id: int):
    """Withdraw the agreement (after a confirmation page); any link sent stops working."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    if request.method == "GET":
        return render_template("agreements/withdraw.html", agreement=agreement)
    ops.withdraw(agreement, current_actor())
    db.session.commit()
    return _after_action(agreement, _("Avtalen er trukket tilbake."))


@bp.route("/<int:agreement_id>/revise", methods=["POST"])
@staff_required
def revise(agreement_id: int):
    """Open a new draft after a decline or a request for changes."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    ops.revise(agreement, current_actor())
    db.session.commit()
    flash(_("Avtalen er et utkast igjen. Gjør endringene og send den på nytt."), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement.id))


@bp.route("/<int:agreement_id>/countersign", methods=["POST"])
@admin_required
def countersign(agreement_id: int):
    """The municipality's signature; renders and stores the signed PDF once."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    form = CountersignForm()
    if not form.validate_on_submit():
        return _panel(agreement, countersign_form=form, status=400)
    ops.countersign(agreement, current_user, form.role.data.strip(), current_actor())
    db.session.commit()
    return _after_action(agreement, _("Avtalen er signert. Den signerte PDF-en er klar."))


@bp.route("/<int:agreement_id>/signed.pdf")
@admin_required
def signed_pdf(agreement_id: int):
    """The signed PDF, always the stored bytes, never rendered again."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    document = agreement.signed_document
    if document is None:
        abort(404)
    disposition = "inline" if request.args.get("inline") else "attachment"
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="samarbeidsavtale-{agreement.number}.pdf"',
            "X-Content-SHA256": document.sha256,
        },
    )


@bp.route("/<int:agreement_id>/print")
@admin_required
def print_view(agreement_id: int):
    """A page to print the signed agreement from the browser."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    if agreement.signed_document is None:
        abort(404)
    return render_template("agreements/print.html", agreement=agreement, version=agreement.accepted_version)
