from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from dugnad.meetings import MAX_PARTICIPANTS


class InvitationAnswerForm(FlaskForm):
    answer = RadioField(
        _l("Kommer dere?"),
        choices=[SelectChoice("attending", _l("Ja, vi kommer")), SelectChoice("not_attending", _l("Nei, vi kommer ikke"))],
        validators=[InputRequired(_l("Velg om dere kommer."))],
    )
    # Text, not IntegerField: the error for "ti" or "-1" must be ours, in bokmål.
    participants = StringField(
        _l("Hvor mange kommer?"),
        description=_l("Et tall fra 0 til %(max)d. Gjelder bare om dere kommer.", max=MAX_PARTICIPANTS),
    )
    participant_names = TextAreaField(
        _l("Hvem kommer?"),
        validators=[Optional(), Length(max=2000, message=_l("Navnene kan ha høyst %(max)d tegn."))],
    )
    activity_areas = SelectMultipleField(
        _l("Hva kan dere bidra med?"),
        coerce=str,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        # Strings, checked by the operation: ids outside the catalogue are dropped, not reported.
        validate_choice=False,
    )
    comment = TextAreaField(
        _l("Kommentar"),
        validators=[Optional(), Length(max=2000, message=_l("Kommentaren kan ha høyst %(max)d tegn."))],
    )

    def validate_participants(self, field):
        text = (field.data or "").strip()
        if not text:
            field.data = None
            return
        if not text.isdigit() or int(text) > MAX_PARTICIPANTS:
            raise ValidationError(
                _l("Skriv antallet som et helt tall fra 0 til %(max)d.", max=MAX_PARTICIPANTS)
            )
        field.data = int(text)

    def area_ids(self) -> tuple[int, ...]:
        return tuple(int(value) for value in self.activity_areas.data or () if value.isdigit() and len(value) < 10)


class AcceptForm(FlaskForm):
    name = StringField(
        _l("Fullt navn"),
        validators=[DataRequired(_l("Skriv fullt navn.")), Length(max=120, message=_l("Navnet kan ha høyst %(max)d tegn."))],
    )
    role = StringField(
        _l("Rolle i organisasjonen"),
        validators=[DataRequired(_l("Skriv rollen din, for eksempel styreleder.")), Length(max=120, message=_l("Rollen kan ha høyst %(max)d tegn."))],
    )
    authority = BooleanField(
        _l("Jeg bekrefter at jeg har fullmakt til å inngå avtalen på vegne av organisasjonen."),
        validators=[DataRequired(_l("Du må bekrefte at du har fullmakt til å binde organisasjonen."))],
    )
    #: The name typed again: the act of signing, so accepting is a deliberate step, not a stray click.
    signature = StringField(
        _l("Signatur"),
        description=_l("Skriv det fulle navnet ditt en gang til. Det er din elektroniske signatur."),
        validators=[DataRequired(_l("Skriv navnet ditt som signatur."))],
    )

    def validate_signature(self, field):
        # Only against a name that is itself valid: a missing name is reported once, at the name.
        if self.name.errors or not (self.name.data or "").strip():
            return
        if same_name(field.data, self.name.data):
            return
        raise ValidationError(_l("Signaturen må være det samme navnet som i «Fullt navn»."))


def same_name(a: str | None, b: str | None) -> bool:
    """Names compared as a reader would: case and extra spaces do not matter."""
    return " ".join((a or "").split()).casefold() == " ".join((b or "").split()).casefold()


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Begrunnelse"),
        validators=[DataRequired(_l("Skriv en begrunnelse, så kommunen vet hva som må til.")), Length(max=2000, message=_l("Begrunnelsen kan ha høyst %(max)d tegn."))],
    )


def _digits_only(value):
    """Spaces people type or paste in a code ("123 456") do not count."""
    return "".join(value.split()) if isinstance(value, str) else value


class CodeForm(FlaskForm):
    """The one-time code from the email, before a review link opens."""

    code = StringField(
        _l("Engangskode"),
        description=_l("Koden har 6 siffer og står i e-posten vi sendte deg."),
        filters=[_digits_only],
        validators=[
            DataRequired(_l("Skriv koden fra e-posten.")),
            Regexp(r"^[0-9]{6}$", message=_l("Koden har 6 siffer. Skriv bare sifrene fra e-posten.")),
        ],
        render_kw={"inputmode": "numeric", "spellcheck": "false"},
    )
