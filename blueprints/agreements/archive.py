"""Printing and archive: many signed agreements as one PDF, or as an archive export (zip);
and the municipality's case reference on an agreement, which the export carries."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import Form, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length

from dugnad import archive
from dugnad.access import admin_required, get_scoped_or_404, staff_required
from dugnad.extensions import db
from dugnad.models import Agreement
from dugnad.timeutil import now_utc, to_oslo
from dugnad.ui import STATE_LABELS, is_htmx

from ..actor import current_actor
from ..formtools import StrippedMeta
from . import bp

_ID = re.compile(r"[0-9]{1,10}")


class CaseReferenceForm(FlaskForm):
    class Meta(StrippedMeta):
        pass

    case_reference = StringField(
        _l("Saksnummer i kommunens arkiv"),
        description=_l("For eksempel 2026/1234. Følger med i arkivuttrekket. La feltet stå tomt hvis avtalen ikke har saksnummer ennå."),
        validators=[Length(max=archive.CASE_REFERENCE_MAX, message=_l("Saksnummeret kan ha høyst %(max)d tegn."))],
    )


@bp.route("/<int:agreement_id>/case-reference", methods=["GET", "POST"])
@staff_required
def case_reference(agreement_id: int):
    """The agreement's case or archive reference (saksnummer), any text up to 64 characters."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    form = CaseReferenceForm(data={"case_reference": agreement.case_reference} if request.method == "GET" else None)
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("agreements/case_reference.html", agreement=agreement, form=form), 400
        changed = archive.set_case_reference(agreement, form.case_reference.data or "", current_actor())
        db.session.commit()
        if changed:
            flash(_("Saksnummeret er lagret."), "success")
        return redirect(url_for("agreements.show", agreement_id=agreement.id))
    return render_template("agreements/case_reference.html", agreement=agreement, form=form)


class FilterForm(Form):
    """The batch page's filters, read from the query string (GET; on a post, from the form)."""

    class Meta(StrippedMeta):
        pass

    year = SelectField(_l("År signert"))
    state = SelectField(_l("Status"))
    organization = SelectField(_l("Organisasjon"))
    #: The checkboxes of the list; its errors show next to them.
    agreement = SelectMultipleField(_l("Avtaler"), validate_choice=False)


def _filter_form(formdata) -> FilterForm:
    choices = archive.filter_choices(current_user.municipality_id)
    form = FilterForm(formdata)
    form.year.choices = [("", _("Alle år"))] + [(str(year), str(year)) for year in choices["years"]]
    form.state.choices = [("", _("Alle"))] + [(state, str(STATE_LABELS.get(state, state))) for state in choices["states"]]
    form.organization.choices = [("", _("Alle organisasjoner"))] + [(str(org_id), name) for org_id, name in choices["organizations"]]
    return form


def _filters(form: FilterForm) -> archive.Filters | None:
    """The filters chosen, or None (with messages next to the fields) if one names nothing."""
    messages = {
        form.year: _("Velg et år fra listen."),
        form.state: _("Velg en status fra listen."),
        form.organization: _("Velg en organisasjon fra listen."),
    }
    valid = True
    for field, message in messages.items():
        field.errors = []
        if field.data and field.data not in {value for value, _label in field.choices}:
            field.errors.append(message)
            valid = False
    if not valid:
        return None
    return archive.Filters(
        year=int(form.year.data) if form.year.data else None,
        state=form.state.data or None,
        organization_id=int(form.organization.data) if form.organization.data else None,
    )


def _page(form: FilterForm, checked: set[str], status: int = 200):
    """The batch page (the list fragment for htmx), for the filters in `form`."""
    filters = _filters(form)
    rows = archive.printable(current_user.municipality_id, filters) if filters is not None else []
    if filters is None:
        status = 400
    template = "agreements/_batch_selection.html" if is_htmx() else "agreements/batch.html"
    query = {name: form[name].data for name in ("year", "state", "organization") if form[name].data}
    return render_template(template, form=form, rows=rows, checked=checked, query=query), status


@bp.route("/print")
@admin_required
def batch():
    """Choose signed agreements to print as one PDF or to export to the archive."""
    form = _filter_form(request.args)
    checked = set()
    if request.args.get("select") == "all":
        filters = _filters(form)
        if filters is not None:
            checked = {str(agreement.id) for agreement, _signed in archive.printable(current_user.municipality_id, filters)}
    return _page(form, checked)


def _chosen():
    """The posted agreements, or the page again with the reason (400)."""
    form = _filter_form(request.form)
    values = request.form.getlist("agreement")
    if not values:
        form.agreement.errors = [_("Velg minst én avtale.")]
        return None, _page(form, set(), status=400)
    if len(values) > archive.BATCH_MAX:
        form.agreement.errors = [_("Velg høyst %(max)d avtaler om gangen.", max=archive.BATCH_MAX)]
        return None, _page(form, set(values), status=400)
    try:
        if not all(_ID.fullmatch(value) for value in values):
            raise archive.NotPrintable()
        return archive.selected(current_user.municipality_id, [int(value) for value in values]), None
    except archive.NotPrintable:
        form.agreement.errors = [_("En eller flere av de valgte avtalene finnes ikke eller er ikke signert. Velg avtalene på nytt fra listen.")]
        return None, _page(form, set(), status=400)


def _download_name(kind: str) -> str:
    return f"samarbeidsavtaler-{to_oslo(now_utc()).date().isoformat()}.{kind}"


@bp.route("/print/merged.pdf", methods=["POST"])
@admin_required
def batch_pdf():
    """The chosen signed PDFs as one PDF to print, in number order; the stored files, not re-rendered."""
    agreements, refusal = _chosen()
    if refusal:
        return refusal
    return send_file(
        archive.merged_pdf(agreements), mimetype="application/pdf",
        as_attachment=True, download_name=_download_name("pdf"), max_age=0,
    )


@bp.route("/print/archive.zip", methods=["POST"])
@admin_required
def archive_zip():
    """The archive export: each signed PDF with its metadata, and a manifest."""
    agreements, refusal = _chosen()
    if refusal:
        return refusal
    return send_file(
        archive.archive_zip(agreements, exported_by=current_user.name), mimetype="application/zip",
        as_attachment=True, download_name=_download_name("zip"), max_age=0,
    )
