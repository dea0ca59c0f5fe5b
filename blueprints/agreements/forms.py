from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from dugnad.sections import SECTIONS


def _section_field(section):
    return TextAreaField(
        section.title,
        description=section.guidance,
        validators=[
            Optional(),
            Length(
                max=section.max_length,
                message=_l("Teksten kan ha høyst %(max)d tegn.", max=section.max_length),
            ),
        ],
    )


class AgreementForm(FlaskForm):
    """The thin agreement: essential sections on one page."""

    title = StringField(
        _l("Tittel"),
        validators=[DataRequired(_l("Skriv en tittel på avtalen.")), Length(max=200, message=_l("Tittelen kan ha høyst %(max)d tegn."))],
    )
    valid_from = DateField(_l("Gjelder fra"), validators=[Optional()])
    valid_to = DateField(_l("Gjelder til"), validators=[Optional()])

    def validate_valid_to(self, field):
        if field.data and self.valid_from.data and field.data <= self.valid_from.data:
            raise ValidationError(_l("Sluttdatoen må være etter startdatoen."))

    def section_fields(self):
        return [self[section.key] for section in SECTIONS]

    def content(self) -> dict:
        content = {section.key: (self[section.key].data or "").strip() for section in SECTIONS}
        content["valid_from"] = self.valid_from.data.isoformat() if self.valid_from.data else ""
        content["valid_to"] = self.valid_to.data.isoformat() if self.valid_to.data else ""
        return content


for _section in SECTIONS:
    setattr(AgreementForm, _section.key, _section_field(_section))


class CountersignForm(FlaskForm):
    role = StringField(
        _l("Din rolle i kommunen"),
        description=_l("For eksempel kommunedirektør eller enhetsleder."),
        validators=[DataRequired(_l("Skriv rollen du signerer i.")), Length(max=120, message=_l("Rollen kan ha høyst %(max)d tegn."))],
    )


class CreateAgreementForm(FlaskForm):
    organization_id = StringField(validators=[DataRequired()])
