import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2 import pass_context
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dugnad import personal_data
from dugnad.access import admin_required, get_scoped_or_404, staff_required
from dugnad.extensions import db
from dugnad.models import Contact, Municipality

from ..actor import current_actor
from . import bp
from .forms import PrivacySettingsForm

# --- Public pages -------------------------------------------------------------------------

#: What a page about one municipality may have in its context, to link to its privacy pages.
_OWNED = ("agreement", "invitation", "evaluation", "meeting", "link")


@bp.app_template_global()
@pass_context
def privacy_link_args(context) -> dict:
    """The query string for the footer's links: a visitor without an account (e.g. behind an
    emailed link) gets the municipality of what the page shows; a logged-in user, their own."""
    if current_user.is_authenticated:
        return {}
    municipality = context.get("municipality")
    if isinstance(municipality, Municipality):
        return {"kommune": municipality.kommunenummer}
    for name in _OWNED:
        municipality_id = getattr(context.get(name), "municipality_id", None)
        if isinstance(municipality_id, int):
            municipality = db.session.get(Municipality, municipality_id)
            return {"kommune": municipality.kommunenummer} if municipality else {}
    return {}


def _municipality() -> tuple[Municipality | None, bool]:
    """Whose page to show: ?kommune=<kommunenummer>, else the user's, else the only one
    there is. (None, asked) when the visitor must choose; `asked` when the number was unknown."""
    number = request.args.get("kommune", "").strip()
    if number:
        municipality = None
        if len(number) == 4 and number.isdigit():
            municipality = db.session.scalar(select(Municipality).where(Municipality.kommunenummer == number))
        return municipality, municipality is None
    if current_user.is_authenticated and current_user.municipality_id:
        return db.session.get(Municipality, current_user.municipality_id), False
    first_two = db.session.scalars(select(Municipality).order_by(Municipality.id).limit(2)).all()
    return (first_two[0] if len(first_two) == 1 else None), False


def _public_page(template: str, endpoint: str):
    municipality, unknown = _municipality()
    if municipality is None:
        municipalities = db.session.scalars(select(Municipality).order_by(Municipality.name)).all()
        return render_template(
            "privacy/choose_municipality.html", municipalities=municipalities, endpoint=endpoint, unknown=unknown,
        ), 404 if unknown else 200
    return render_template(template, municipality=municipality)


@bp.route("/personvern")
def notice():
    """The municipality's privacy notice for Dugnad (its own text, or Dugnad's)."""
    return _public_page("privacy/notice.html", "privacy.notice")


@bp.route("/tilgjengelighet")
def accessibility():
    """The municipality's accessibility statement for Dugnad (its own text, or Dugnad's)."""
    return _public_page("privacy/accessibility.html", "privacy.accessibility")


# --- A contact person's data (staff) ------------------------------------------------------


def _contact(contact_id: int) -> Contact:
    return get_scoped_or_404(Contact, contact_id, joinedload(Contact.organization))


@bp.route("/privacy/contacts/<int:contact_id>")
@staff_required
def contact(contact_id: int):
    """What Dugnad holds about one contact person, readable (for a request for access)."""
    contact = _contact(contact_id)
    return render_template("privacy/contact.html", contact=contact, data=personal_data.export_contact(contact))


@bp.route("/privacy/contacts/<int:contact_id>/export.json")
@staff_required
def contact_export(contact_id: int):
    """The same as a file, to hand to the person."""
    contact = _contact(contact_id)
    body = json.dumps(personal_data.export_contact(contact), ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="kontaktperson-{contact.id}.json"'
    response.headers["Cache-Control"] = "no-store"  # personal data: not kept by the browser
    return response


@bp.route("/privacy/contacts/<int:contact_id>/anonymise", methods=["GET", "POST"])
@staff_required
def anonymise(contact_id: int):
    """Erase a contact person, after a page that says what goes and what stays."""
    contact = _contact(contact_id)
    back = url_for("organizations.show", organization_id=contact.organization_id)
    if request.method == "POST":
        try:
            personal_data.anonymise_contact(contact, current_actor())
        except personal_data.AlreadyAnonymised:
            flash(_("Kontaktpersonen var allerede anonymisert."), "warning")
            return redirect(back)
        db.session.commit()
        flash(_("Kontaktpersonen er anonymisert. Signerte avtaler er ikke endret: de er arkivdokumenter og beholder navnet."), "success")
        return redirect(back)
    data = personal_data.export_contact(contact) if contact.anonymised_at is None else None
    return render_template(
        "privacy/anonymise.html", contact=contact, data=data, back=back, ANONYMISED_NAME=personal_data.ANONYMISED_NAME
    )


# --- The municipality's settings (administrators) -----------------------------------------


@bp.route("/privacy/settings", methods=["GET", "POST"])
@admin_required
def settings():
    """The retention period for contact persons, and the privacy notice and accessibility
    statement the public pages show."""
    municipality = db.session.get(Municipality, current_user.municipality_id)
    months = municipality.contact_retention_months
    form = PrivacySettingsForm(
        contact_retention_months="" if months is None else str(months),
        privacy_notice=municipality.privacy_notice,
        accessibility_statement=municipality.accessibility_statement,
    )
    if form.validate_on_submit():
        personal_data.save_settings(
            municipality, form.months, form.privacy_notice.data or "", form.accessibility_statement.data or "",
            current_actor(),
        )
        db.session.commit()
        flash(_("Lagret"), "success")
        return redirect(url_for("privacy.settings"))
    return render_template("privacy/settings.html", form=form, municipality=municipality), 400 if form.errors else 200
