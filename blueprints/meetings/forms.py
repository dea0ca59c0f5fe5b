from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from dugnad.timeutil import from_oslo_local, now_utc, to_oslo

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"

def _web_link(form, field):
    if field.data and not field.data.startswith(("https://", "http://")):
        raise ValidationError(_l("Lenken må begynne med https:// eller http://"))


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
        _l("Adresse"),
        validators=[DataRequired(_l("Skriv hvor møtet holdes.")), Length(max=300, message=_l("Adressen kan ha høyst %(max)d tegn."))],
    )
    room = StringField(
        _l("Rom"), validators=[Optional(), Length(max=120, message=_l("Rommet kan ha høyst %(max)d tegn."))]
    )
    digital_link = StringField(
        _l("Lenke for digital deltakelse"),
        validators=[Optional(), Length(max=500, message=_l("Lenken kan ha høyst %(max)d tegn.")), _web_link],
    )
    agenda = TextAreaField(
        _l("Dagsorden"), validators=[Optional(), Length(max=5000, message=_l("Dagsordenen kan ha høyst %(max)d tegn."))]
    )
    message = TextAreaField(
        _l("Personlig hilsen"),
        validators=[Optional(), Length(max=3000, message=_l("Hilsenen kan ha høyst %(max)d tegn."))],
    )

    def validate_starts_at(self, field):
        if field.data and from_oslo_local(field.data) <= now_utc():
            raise ValidationError(_l("Møtet må starte fram i tid."))

    def validate_ends_at(self, field):
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("Møtet må slutte etter at det starter."))

    def meeting_fields(self) -> dict:
        return {
            "title": self.title.data.strip(),
            "starts_at": from_oslo_local(self.starts_at.data),
            "ends_at": from_oslo_local(self.ends_at.data),
            "place": self.place.data.strip(),
            "room": (self.room.data or "").strip(),
            "digital_link": (self.digital_link.data or "").strip(),
            "agenda": self.agenda.data or "",
            "message": self.message.data or "",
        }


class EditMeetingForm(MeetingForm):
    #: The version the form was loaded with: a save by someone else in between is caught.
    version = HiddenField()

    @staticmethod
    def data_from(meeting) -> dict:
        return {
            "title": meeting.title,
            "starts_at": to_oslo(meeting.starts_at).replace(tzinfo=None),
            "ends_at": to_oslo(meeting.ends_at).replace(tzinfo=None),
            "place": meeting.place,
            "room": meeting.room,
            "digital_link": meeting.digital_link,
            "agenda": meeting.agenda,
            "message": meeting.message,
            "version": meeting.version,
        }

    def loaded_version(self) -> int:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1  # a form without a version never overwrites anything


class InviteForm(FlaskForm):
    organizations = SelectMultipleField(
        _l("Organisasjoner"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(_l("Velg minst én organisasjon."))],
    )


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token (cancel, remind)."""


class AttendanceForm(FlaskForm):
    notes = TextAreaField(
        _l("Referat og notater"),
        validators=[Optional(), Length(max=10000, message=_l("Notatene kan ha høyst %(max)d tegn."))],
    )
    version = HiddenField()

    def loaded_version(self) -> int:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1
