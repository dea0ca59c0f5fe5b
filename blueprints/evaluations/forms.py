from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dugnad.evaluations import ANSWER_MAX, COUNT_MAX, NAME_MAX, CountError, parse_count

from ..formtools import StrippedMeta

#: Limits as Norwegians write numbers: "100 000".
_COUNT_MAX = f"{COUNT_MAX:,}".replace(",", " ")
_ANSWER_MAX = f"{ANSWER_MAX:,}".replace(",", " ")
_TOO_LONG = _l("Svaret kan ha høyst %(max)s tegn.", max=_ANSWER_MAX)

#: What the form says for each way a count can be wrong.
_COUNT_MESSAGES = {
    "format": _l("Skriv antallet med sifre, for eksempel 12."),
    "negative": _l("Antallet kan ikke være mindre enn 0."),
    "decimals": _l("Skriv et helt tall, uten komma."),
    "too_large": _l("Skriv et tall fra 0 til %(max)s.", max=_COUNT_MAX),
}


class _Count(StringField):
    """A count typed as text, not IntegerField: the message for "ti" or "-1" must be ours."""

    def __init__(self, label, required_message, **kwargs):
        super().__init__(
            label,
            description=_l("Et helt tall fra 0 til %(max)s. Et omtrentlig tall holder. Skriv 0 om ingen.", max=_COUNT_MAX),
            validators=[DataRequired(required_message)],
            render_kw={"inputmode": "numeric", "autocomplete": "off"},
            **kwargs,
        )
        self.number = None

    def post_validate(self, form, validation_stopped):
        if validation_stopped or self.errors:
            return
        try:
            self.number = parse_count(self.data)
        except CountError as error:
            self.errors.append(_COUNT_MESSAGES[error.code])


class AnswerForm(FlaskForm):
    """The organisation's evaluation: a few questions, readable on a phone."""

    class Meta(StrippedMeta):
        pass

    went_well = TextAreaField(
        _l("Hva har fungert godt?"),
        validators=[
            DataRequired(_l("Skriv hva som har fungert godt i samarbeidet.")),
            Length(max=ANSWER_MAX, message=_TOO_LONG),
        ],
    )
    went_badly = TextAreaField(
        _l("Hva har ikke fungert?"),
        description=_l("La feltet stå tomt hvis alt har fungert."),
        validators=[Optional(), Length(max=ANSWER_MAX, message=_TOO_LONG)],
    )
    volunteers = _Count(_l("Hvor mange frivillige har vært med?"), _l("Skriv omtrent hvor mange frivillige som har vært med."))
    participants = _Count(_l("Hvor mange deltakere har vært med?"), _l("Skriv omtrent hvor mange deltakere som har vært med."))
    wishes = TextAreaField(
        _l("Ønsker for neste år"),
        description=_l("For eksempel nye aktiviteter, lokaler eller hva dere trenger fra kommunen."),
        validators=[Optional(), Length(max=ANSWER_MAX, message=_TOO_LONG)],
    )
    name = StringField(
        _l("Ditt navn"),
        description=_l("Den som fyller ut skjemaet på vegne av organisasjonen."),
        validators=[
            DataRequired(_l("Skriv navnet ditt.")),
            Length(max=NAME_MAX, message=_l("Navnet kan ha høyst %(max)d tegn.", max=NAME_MAX)),
        ],
    )


class ViewForm(FlaskForm):
    """The municipality's view of an evaluation."""

    class Meta(StrippedMeta):
        pass

    municipality_view = TextAreaField(
        _l("Kommunens vurdering"),
        description=_l("Hva kommunen mener om samarbeidet i perioden. Høyst %(max)s tegn.", max=_ANSWER_MAX),
        validators=[
            DataRequired(_l("Skriv kommunens vurdering.")),
            Length(max=ANSWER_MAX, message=_l("Vurderingen kan ha høyst %(max)s tegn.", max=_ANSWER_MAX)),
        ],
    )

