from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from stdnum.exceptions import ValidationError as StdnumError
from wtforms import EmailField, StringField, URLField
from wtforms.validators import URL, DataRequired, Email, Length, Optional, Regexp, ValidationError

from dugnad.registry import find_by_org_number, normalise_org_number


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class OrganizationForm(FlaskForm):
    class Meta:
        # Leading and trailing spaces are never meaningful in these fields.
        def bind_field(self, form, unbound_field, options):
            filters = [_strip, *unbound_field.kwargs.get("filters", [])]
            return unbound_field.bind(form=form, filters=filters, **options)

    name = StringField(
        _l("Navn"),
        validators=[DataRequired(_l("Skriv organisasjonens navn.")), Length(max=200, message=_l("Navnet kan ha høyst %(max)d tegn."))],
    )
    org_number = StringField(
        _l("Organisasjonsnummer"),
        validators=[Optional(), Length(max=20, message=_l("Organisasjonsnummeret har 9 siffer."))],
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
    # No Optional(): it would stop validate_contact_name, which needs the empty name.
    contact_name = StringField(
        _l("Navn på kontaktperson"), validators=[Length(max=120, message=_l("Navnet kan ha høyst %(max)d tegn."))]
    )
    contact_role = StringField(
        _l("Rolle i organisasjonen"), validators=[Optional(), Length(max=120, message=_l("Rollen kan ha høyst %(max)d tegn."))]
    )
    contact_email = EmailField(
        _l("Kontaktpersonens e-postadresse"),
        validators=[Optional(), Email(_l("Skriv en gyldig e-postadresse, for eksempel navn@lag.no.")), Length(max=254)],
    )
    contact_phone = StringField(
        _l("Kontaktpersonens telefon"), validators=[Optional(), Length(max=30, message=_l("Telefonnummeret kan ha høyst %(max)d tegn."))]
    )

    def __init__(self, *args, editing_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing_id = editing_id
        #: The organisation that already has this number, to link to it.
        self.duplicate_of = None

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

    def validate_contact_name(self, field):
        has_details = self.contact_email.data or self.contact_phone.data or self.contact_role.data
        if has_details and not field.data:
            raise ValidationError(_l("Skriv navnet på kontaktpersonen."))

    def organization_fields(self) -> dict:
        return {
            "name": self.name.data,
            "org_number": self.org_number.data or None,
            "address": self.address.data or "",
            "postal_code": self.postal_code.data or "",
            "city": self.city.data or "",
            "email": self.email.data or "",
            "phone": self.phone.data or "",
            "website": self.website.data or "",
        }

    def contact_fields(self) -> dict:
        return {
            "name": self.contact_name.data or "",
            "role": self.contact_role.data or "",
            "email": self.contact_email.data or "",
            "phone": self.contact_phone.data or "",
        }
