from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional


class InvitationAnswerForm(FlaskForm):
    answer = RadioField(
        _l("Kommer dere?"),
        choices=[SelectChoice("attending", _l("Ja, vi kommer")), SelectChoice("not_attending", _l("Nei, vi kommer ikke"))],
        validators=[InputRequired(_l("Velg om dere kommer."))],
    )
    comment = TextAreaField(
        _l("Kommentar"),
        validators=[Optional(), Length(max=2000, message=_l("Kommentaren kan ha høyst %(max)d tegn."))],
    )


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


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Begrunnelse"),
        validators=[DataRequired(_l("Skriv en begrunnelse, så kommunen vet hva som må til.")), Length(max=2000, message=_l("Begrunnelsen kan ha høyst %(max)d tegn."))],
    )
