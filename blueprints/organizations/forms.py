from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from stdnum.exceptions import ValidationError as StdnumError
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Email, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from dugnad.models import ActivityArea
from dugnad.registry import find_by_org_number, normalise_org_number, visible_areas
from dugnad.ui import ORG_TYPE_LABELS

from ..formtools import StrippedMeta

#: The longest note (stated next to the field).
NOTES_MAX = 2000
#: More contact rows than this are not read (a form, not a bulk import).
CONTACTS_MAX = 20


class ContactForm(Form):
    """One row of the contacts list (no CSRF of its own: it is part of OrganizationForm)."""

    class Meta(StrippedMeta):
        pass

    #: An existing contact of this organisation; any other id is ignored when saving.
    id = HiddenField()
    # No Optional(): it would stop validate_name, which needs the empty name.
    name = StringField(_l("Navn på kontaktperson"), validators=[Length(max=120, message=_l("Navnet kan ha høyst %(max)d tegn."))])
    role = StringField(
        _l("Rolle i organisasjonen"),
        validators=[Optional(), Length(max=120, message=_l("Rollen kan ha høyst %(max)d tegn."))],
    )
    email = EmailField(
        _l("Kontaktpersonens e-postadresse"),
        validators=[
            Optional(),
            Email(_l("Skriv en gyldig e-postadresse, for eksempel navn@lag.no.")),
            Length(max=254, message=_l("E-postadressen kan ha høyst %(max)d tegn.")),
        ],
    )
    phone = StringField(
        _l("Kontaktpersonens telefon"),
        validators=[
            Optional(),
            Length(max=30, message=_l("Telefonnummeret kan ha høyst %(max)d tegn.")),
            Regexp(r"^\+?[0-9 ()-]+$", message=_l("Telefonnummeret kan bare ha siffer, mellomrom, bindestrek, parenteser og + først.")),
        ],
    )
    is_primary = BooleanField(_l("Hovedkontakt"))

    def has_details(self) -> bool:
        return any((self.name.data, self.role.data, self.email.data, self.phone.data))

    def validate_name(self, field):
        if self.has_details() and not field.data:
            raise ValidationError(_l("Skriv navnet på kontaktpersonen."))


class AreaCheckboxes(SelectMultipleField):
    """Activity areas as checkboxes; an id not offered (another municipality's) is refused."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        offered = {choice.value for choice in self.choices}
        if any(value not in offered for value in self.data or ()):
            raise ValidationError(_l("Velg aktivitetsområder fra listen."))


class OrganizationForm(FlaskForm):
    class Meta(StrippedMeta):
        pass

    name = StringField(
        _l("Navn"),
        validators=[DataRequired(_l("Skriv organisasjonens navn.")), Length(max=200, message=_l("Navnet kan ha høyst %(max)d tegn."))],
    )
    org_number = StringField(
        _l("Organisasjonsnummer"),
        validators=[Optional(), Length(max=20, message=_l("Organisasjonsnummeret har 9 siffer."))],
    )
    org_type = SelectField(
        _l("Type organisasjon"), choices=[SelectChoice(value, label) for value, label in ORG_TYPE_LABELS.items()],
        default="other",
    )
    address = StringField(_l("Adresse"), validators=[Optional(), Length(max=200, message=_l("Adressen kan ha høyst %(max)d tegn."))])
    postal_code = StringField(
        _l("Postnummer"),
        validators=[Optional(), Regexp(r"^\d{4}$", message=_l("Postnummeret har 4 siffer."))],
    )
    city = StringField(_l("Poststed"), validators=[Optional(), Length(max=100, message=_l("Poststedet kan ha høyst %(max)d tegn."))])
    email = EmailField(
        _l("E-postadresse"),
        validators=[Optional(), Email(_l("Skriv en gyldig e-postadresse, for eksempel post@lag.no.")), Length(max=254)],
    )
    phone = StringField(_l("Telefon"), validators=[Optional(), Length(max=30, message=_l("Telefonnummeret kan ha høyst %(max)d tegn."))])
    website = URLField(
        _l("Nettside"),
        validators=[Optional(), URL(message=_l("Skriv en hel adresse, for eksempel https://lag.no.")), Length(max=300)],
    )
    contacts = FieldList(FormField(ContactForm), label=_l("Kontaktperson"), min_entries=1, max_entries=CONTACTS_MAX)
    activity_areas = AreaCheckboxes(_l("Aktivitetsområder"), coerce=int)
    notes = TextAreaField(
        _l("Notater"),
        validators=[Optional(), Length(max=NOTES_MAX, message=_l("Notatene kan ha høyst %(max)d tegn."))],
    )

    def __init__(self, *args, editing_id: int | None = None, linked_areas: list[ActivityArea] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.editing_id = editing_id
        #: The organisation that already has this number, to link to it.
        self.duplicate_of = None
        # Visible entries, plus hidden ones the organisation already has (kept unless unticked).
        offered = list(visible_areas(current_user.municipality_id))
        offered += [area for area in linked_areas if area.hidden]
        offered.sort(key=lambda area: (area.position, area.id))
        self.activity_areas.choices = [SelectChoice(area.id, area.name) for area in offered]

    def validate_org_number(self, field):
        try:
            number = normalise_org_number(field.data)
        except StdnumError:
            raise ValidationError(
                _l("Organisasjonsnummeret er ikke gyldig. Det har 9 siffer, og det siste er et kontrollsiffer.")
            ) from None
        existing = find_by_org_number(current_user.municipality_id, number)
        if existing is not None and existing.id != self.editing_id:
            self.duplicate_of = existing
            raise ValidationError(_l("En organisasjon med dette nummeret er allerede registrert."))
        field.data = number

    def validate_contacts(self, field):
        """Exactly one primary contact among the filled-in rows (a single row is primary anyway)."""
        filled = [entry.form for entry in field.entries if entry.form.has_details()]
        primaries = [row for row in filled if row.is_primary.data]
        if len(filled) > 1 and not primaries:
            filled[0].is_primary.errors.append(_l("Velg hvem som er hovedkontakt."))
        for row in primaries[1:]:
            row.is_primary.errors.append(_l("Bare én kontaktperson kan være hovedkontakt."))
        # The messages sit on the rows' own fields, so the summary can link to each.
        field.errors = [entry.errors for entry in field.entries] if any(e.errors for e in field.entries) else []

    def organization_fields(self) -> dict:
        return {
            "name": self.name.data,
            "org_number": self.org_number.data or None,
            "org_type": self.org_type.data,
            "address": self.address.data or "",
            "postal_code": self.postal_code.data or "",
            "city": self.city.data or "",
            "email": self.email.data or "",
            "phone": self.phone.data or "",
            "website": self.website.data or "",
            "notes": self.notes.data or "",
        }

    def contact_list(self) -> list[dict]:
        """The filled-in rows, in order; empty rows are left out."""
        rows = []
        for entry in self.contacts.entries:
            row = entry.form
            if not row.has_details():
                continue
            rows.append({
                "id": int(row.id.data) if str(row.id.data or "").isdigit() else None,
                "name": row.name.data,
                "role": row.role.data or "",
                "email": row.email.data or "",
                "phone": row.phone.data or "",
                "is_primary": bool(row.is_primary.data),
            })
        return rows

    def add_contact_row(self) -> int | None:
        """One more empty row (for the 'add' button); its index, or None when full."""
        if len(self.contacts.entries) >= CONTACTS_MAX:
            return None
        self.contacts.append_entry()
        return len(self.contacts.entries) - 1

    def remove_contact_row(self, index: int) -> None:
        if 0 <= index < len(self.contacts.entries):
            self.contacts.pop_entry(index)
