from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from dugnad.timeutil import from_oslo_local, now_utc

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class MeetingForm(FlaskForm):
    title = StringField(
        _l("Tittel"),
        validators=[DataRequired(_l("Skriv en tittel på møtet.")), Length(max=200, message=_l("Tittelen kan ha høyst %(max)d tegn."))],
    )
    starts_at = DateTimeLocalField(
        _l("Starter"),
        format=DATETIME_FORMAT,
        validators=[DataRequired(_l("Velg dato og klokkeslett for når møtet starter."))],
    )
    ends_at = DateTimeLocalField(
        _l("Slutter"),
        format=DATETIME_FORMAT,
        validators=[DataRequired(_l("Velg dato og klokkeslett for når møtet slutter."))],
    )
    place = StringField(
        _l("Sted"),
        validators=[DataRequired(_l("Skriv hvor møtet holdes.")), Length(max=300, message=_l("Stedet kan ha høyst %(max)d tegn."))],
    )
    agenda = TextAreaField(
        _l("Dagsorden"), validators=[Optional(), Length(max=5000, message=_l("Dagsordenen kan ha høyst %(max)d tegn."))]
    )

    def validate_starts_at(self, field):
        if field.data and from_oslo_local(field.data) <= now_utc():
            raise ValidationError(_l("Møtet må starte fram i tid."))

    def validate_ends_at(self, field):
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("Møtet må slutte etter at det starter."))

    def meeting_fields(self) -> dict:
        return {
            "title": self.title.data,
            "starts_at": from_oslo_local(self.starts_at.data),
            "ends_at": from_oslo_local(self.ends_at.data),
            "place": self.place.data,
            "agenda": self.agenda.data or "",
        }


class InviteForm(FlaskForm):
    organizations = SelectMultipleField(
        _l("Organisasjoner"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(_l("Velg minst én organisasjon."))],
    )
