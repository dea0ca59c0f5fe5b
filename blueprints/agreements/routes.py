from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from dugnad import accounts, seal
from dugnad import agreements as ops
from dugnad.access import admin_required, get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.models import Agreement, OutboxMessage
from dugnad.paging import page_of, requested_page
from dugnad.timeutil import format_oslo
from dugnad.ui import STATE_LABELS, is_htmx

from ..actor import current_actor
from . import bp
from .forms import CountersignForm


def _outbox_ids(event) -> list[int]:
    """The messages an event names: a list since an agreement can go to several
    recipients, one id in events from before."""
    value = event.details.get("outbox")
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, int)]


def _deliveries(events) -> dict[int, list[OutboxMessage]]:
    """The emails each event of the timeline names (queued, then delivered), by event id, in one query."""
    ids = [message_id for event in events for message_id in _outbox_ids(event)]
    if not ids:
        return {}
    messages = {message.id: message for message in db.session.scalars(scoped(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
    return {
        event.id: [messages[message_id] for message_id in _outbox_ids(event) if message_id in messages]
        for event in events
    }


def _panel(agreement: Agreement, countersign_form=None, status: int = 200, message=None, countersign_error=None):
    """The status panel: a fragment for htmx, the whole page otherwise."""
    context = {
        "message": message,
        "countersign_error": countersign_error,
        "agreement": agreement,
        "countersign_form": countersign_form or CountersignForm(role=current_user.title),
        "events": (events := ops.history(agreement)),
        "deliveries": _deliveries(events),
        "recipients": ops.current_recipients(agreement) if agreement.state == "sent" else [],
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
    """The municipality's agreements; `?state=` (repeatable) keeps those in the states named,
    as the start page's "show all" links ask. Unknown states are ignored, not an error."""
    states = [state for state in request.args.getlist("state") if state in STATE_LABELS]
    statement = scoped(Agreement).options(joinedload(Agreement.organization)).order_by(Agreement.number.desc())
    if states:
        statement = statement.where(Agreement.state.in_(states))
    page = page_of(statement, requested_page(request.args.get("page")))
    return render_template(
        "agreements/index.html", agreements=page.rows, page=page, states=states,
        page_url=lambda n: url_for("agreements.index", state=states, page=n if n > 1 else None),
    )


@bp.route("/<int:agreement_id>")
@staff_required
def show(agreement_id: int):
    """The agreement: status, actions, versions and history."""
    return _panel(get_scoped_or_404(Agreement, agreement_id))


@bp.route("/<int:agreement_id>/resend", methods=["POST"])
@staff_required
def resend(agreement_id: int):
    """Email the same version again, a new link to each of its recipients; the old links stop working."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    try:
        addresses = ops.resend(agreement, current_actor())
    except ops.CannotSend:
        db.session.rollback()
        flash(_("Organisasjonen har ingen e-postadresse. Legg inn en kontaktperson med e-post først."), "error")
        return _panel(agreement, status=400)
    db.session.commit()
    if len(addresses) > 1:
        message = _(
            "Avtalen er sendt på nytt med en ny lenke til hver mottaker (%(to)s). De gamle lenkene virker ikke lenger.",
            to=", ".join(addresses),
        )
    else:
        message = _("Avtalen er sendt på nytt med en ny lenke. Den gamle lenken virker ikke lenger.")
    return _after_action(agreement, message)


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
    locked_until = accounts.countersign_locked_until(current_user)
    if locked_until is not None:
        # Refused before the password is looked at: guessing on gains nothing.
        return _panel(agreement, countersign_form=form, status=429, countersign_error=_countersign_locked(locked_until))
    valid = form.validate_on_submit()
    if form.password.data and not accounts.confirm_password_to_countersign(
        current_user, form.password.data, current_actor(), agreement.id
    ):
        db.session.commit()  # the wrong attempt is kept (and counted) though nothing is signed
        form.password.errors.append(_("Passordet stemmer ikke."))
        locked_until = accounts.countersign_locked_until(current_user)
        if locked_until is not None:
            return _panel(agreement, countersign_form=form, status=429, countersign_error=_countersign_locked(locked_until))
        valid = False
    if not valid:
        return _panel(agreement, countersign_form=form, status=400)
    try:
        # No fingerprint is no proof of what the signer read: refused like a wrong one.
        ops.countersign(
            agreement, current_user, form.role.data.strip(), current_actor(),
            expected_sha256=form.version_sha256.data or "",
        )
    except ops.VersionMismatch:
        db.session.rollback()
        message = _("Avtalen er endret siden du åpnet siden. Se over versjonen organisasjonen godtok, og signer på nytt.")
        return _panel(agreement, countersign_form=form, status=409, countersign_error=message)
    except seal.SealError:
        # Nothing is kept: the agreement stays accepted, and signing again works once the certificate does.
        db.session.rollback()
        current_app.logger.exception("sealing agreement %s failed", agreement_id)
        message = _("Avtalen ble ikke signert fordi kommunens segl-sertifikat ikke kunne brukes. En administrator må laste opp sertifikatet på nytt under «Segl». Avtalen er fortsatt godtatt, og du kan signere når det er ordnet.")
        return _panel(agreement, countersign_form=form, status=503, countersign_error=message)
    db.session.commit()
    return _after_action(agreement, _("Avtalen er signert. Den signerte PDF-en er klar."))


def _countersign_locked(until) -> str:
    return _(
        "Du har skrevet feil passord for mange ganger på rad. Av sikkerhetshensyn kan du ikke signere før %(when)s. Prøv igjen da.",
        when=format_oslo(until),
    )


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
