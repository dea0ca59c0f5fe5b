"""The versions of an agreement: each as it was sent, and what changed between two."""

from __future__ import annotations

import re

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Form, SelectField

from dugnad import agreements as ops
from dugnad import diff
from dugnad.access import get_scoped_or_404, staff_required
from dugnad.models import Agreement, AgreementVersion
from dugnad.timeutil import format_oslo

from . import bp

#: The compare form's value for the draft being written.
DRAFT = "draft"
_VERSION_NUMBER = re.compile(r"[0-9]+")
#: No agreement reaches a billion versions: a longer number names none (and is never parsed).
_DIGITS_MAX = 9


def _version_or_404(agreement: Agreement, number: int) -> AgreementVersion:
    version = next((v for v in agreement.versions if v.number == number), None)
    if version is None:
        abort(404)
    return version


def _has_draft(agreement: Agreement) -> bool:
    return agreement.state == "draft" and bool(agreement.sections)


def _choices(agreement: Agreement) -> list[tuple[str, str]]:
    """What can be compared, oldest first: every version sent, then the draft if any."""
    choices = [
        (str(version.number), _("Versjon %(n)d, sendt %(when)s", n=version.number, when=format_oslo(version.created_at)))
        for version in agreement.versions
    ]
    if _has_draft(agreement):
        choices.append((DRAFT, _("Gjeldende utkast")))
    return choices


class CompareForm(Form):
    """Two things to compare, read from the query string (a GET form: no CSRF)."""

    older = SelectField(_l("Sammenlign fra"), validate_choice=False)
    newer = SelectField(_l("Sammenlign med"), validate_choice=False)


def _compare_form(agreement: Agreement) -> CompareForm:
    # The fields' names are the URL's (?from=1&to=2); `from` is no Python name.
    form = CompareForm(prefix="")
    form.older.name, form.older.id = "from", "from"
    form.newer.name, form.newer.id = "to", "to"
    form.older.choices = form.newer.choices = _choices(agreement)
    form.older.data, form.newer.data = request.args.get("from"), request.args.get("to")
    form.older.errors, form.newer.errors = [], []
    return form


def _checked(agreement: Agreement, field, missing_message) -> str | None:
    """The field's value if it names something comparable in form; else None, with
    the reason added to the field's errors."""
    value = (field.data or "").strip()
    if not value:
        field.errors.append(missing_message)
    elif value == DRAFT:
        if _has_draft(agreement):
            return value
        field.errors.append(_("Avtalen har ikke noe utkast nå. Velg en av versjonene som er sendt."))
    elif _VERSION_NUMBER.fullmatch(value):
        return value
    else:
        field.errors.append(_("Velg en versjon fra listen."))
    return None


def _side(agreement: Agreement, value: str) -> dict:
    """What the page shows of one side: its name, its content, and its version (none
    for the draft); 404 for a version number the agreement does not have."""
    # The labels sit inside a sentence ("Changes from version 1 to the current draft").
    if value == DRAFT:
        return {"label": _("gjeldende utkast"), "content": ops.document_content(agreement), "version": None}
    version = _version_or_404(agreement, int(value) if len(value) <= _DIGITS_MAX else 0)
    return {"label": _("versjon %(n)d", n=version.number), "content": version.content, "version": version}


@bp.route("/<int:agreement_id>/versions/<int:number>")
@staff_required
def version(agreement_id: int, number: int):
    """One version exactly as the organisation received it, with its fingerprint."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    version = _version_or_404(agreement, number)
    previous = number - 1 if any(v.number == number - 1 for v in agreement.versions) else None
    return render_template(
        "agreements/version.html", agreement=agreement, version=version, previous=previous,
        has_draft=_has_draft(agreement),
    )


@bp.route("/<int:agreement_id>/compare")
@staff_required
def compare(agreement_id: int):
    """What changed between two versions (or a version and the draft), section by section.

    Without a choice yet, the two newest are compared."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    form = _compare_form(agreement)
    choices = [value for value, _label in form.older.choices]
    if "from" not in request.args and "to" not in request.args:
        if len(choices) < 2:
            return render_template("agreements/compare.html", agreement=agreement, form=None, groups=None)
        form.older.data, form.newer.data = choices[-2], choices[-1]

    older = _checked(agreement, form.older, _("Velg hva du vil sammenligne fra."))
    newer = _checked(agreement, form.newer, _("Velg hva du vil sammenligne med."))
    if older is None or newer is None:
        return render_template("agreements/compare.html", agreement=agreement, form=form, groups=None), 400
    older, newer = _side(agreement, older), _side(agreement, newer)
    diffs = diff.compare(older["content"], newer["content"])
    return render_template(
        "agreements/compare.html",
        agreement=agreement,
        form=form,
        older=older,
        newer=newer,
        groups=diff.collapsed(diffs),
        identical=not any(d.changed for d in diffs),
    )
