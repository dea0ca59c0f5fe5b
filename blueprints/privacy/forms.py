from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from dugnad.personal_data import RETENTION_MAX, RETENTION_MIN, TEXT_MAX

from ..formtools import StrippedMeta

TEXT_HINT = _l("Vanlig tekst; en tom linje starter et nytt avsnitt. La feltet stå tomt for å bruke Dugnads standardtekst.")


class PrivacySettingsForm(FlaskForm):
    """How long contact persons are kept, and the municipality's own public texts."""

    class Meta(StrippedMeta):
        pass

    contact_retention_months = StringField(
        _l("Anonymiser kontaktpersoner etter (antall måneder)"),
        description=_l(
            "Kontaktpersoner i organisasjoner som ikke har en avtale som gjelder eller er under arbeid, "
            "anonymiseres når så mange måneder har gått siden siste avtale sluttet, siste invitasjon, "
            "eller siden organisasjonen ble registrert. Fra 1 til 120. La feltet stå tomt for å aldri "
            "anonymisere automatisk."
        ),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    privacy_notice = TextAreaField(
        _l("Personvernerklæring"),
        description=TEXT_HINT,
        validators=[Length(max=TEXT_MAX, message=_l("Personvernerklæringen kan ha høyst %(max)s tegn.", max="20 000"))],
    )
    accessibility_statement = TextAreaField(
        _l("Tilgjengelighetserklæring"),
        description=TEXT_HINT,
        validators=[Length(max=TEXT_MAX, message=_l("Tilgjengelighetserklæringen kan ha høyst %(max)s tegn.", max="20 000"))],
    )

    #: The months as a number after validation (None: off).
    months: int | None = None

    def validate_contact_retention_months(self, field):
        value = (field.data or "").replace(" ", "")
        if not value:
            self.months = None
            return
        if not (value.isdigit() and len(value) < 4 and RETENTION_MIN <= int(value) <= RETENTION_MAX):
            raise ValidationError(_l("Skriv et helt antall måneder fra 1 til 120, eller la feltet stå tomt."))
        self.months = int(value)
