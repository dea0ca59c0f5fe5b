from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, select
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import orgnr
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Regexp, ValidationError

from dugnad import catalogue, seal
from dugnad.extensions import db
from dugnad.models import Municipality, User
from dugnad.sections import TEXT_MAX

from ..formtools import StrippedMeta


class InviteForm(FlaskForm):
    """A new staff member or administrator; they choose their password through an emailed link."""

    # Control characters dropped before the address is looked up (PostgreSQL refuses a NUL).
    class Meta(StrippedMeta):
        pass

    name = StringField(_l("Navn"), validators=[DataRequired(_l("Skriv navnet.")), Length(max=120, message=_l("Navnet kan ha høyst %(max)d tegn."))])
    email = EmailField(
        _l("E-postadresse"),
        validators=[DataRequired(_l("Skriv e-postadressen.")), Email(_l("Skriv en gyldig e-postadresse.")), Length(max=254)],
    )
    title = StringField(_l("Stilling"), validators=[Length(max=120, message=_l("Stillingen kan ha høyst %(max)d tegn."))])
    role = SelectField(_l("Rolle"), choices=[SelectChoice("staff", _l("Saksbehandler")), SelectChoice("admin", _l("Administrator"))])

    def validate_email(self, field):
        exists = db.session.scalar(select(User.id).where(func.lower(User.email) == field.data.strip().lower()))
        if exists:
            raise ValidationError(_l("Det finnes allerede en bruker med denne e-postadressen."))


class MunicipalityForm(FlaskForm):
    # Control characters dropped before the number is looked up (PostgreSQL refuses a NUL).
    class Meta(StrippedMeta):
        pass

    name = StringField(_l("Navn"), validators=[DataRequired(_l("Skriv kommunens navn.")), Length(max=120, message=_l("Navnet kan ha høyst %(max)d tegn."))])
    kommunenummer = StringField(
        _l("Kommunenummer"),
        validators=[DataRequired(_l("Skriv kommunenummeret.")), Regexp(r"^\d{4}$", message=_l("Kommunenummeret har 4 siffer."))],
    )
    org_number = StringField(_l("Organisasjonsnummer"), validators=[DataRequired(_l("Skriv kommunens organisasjonsnummer."))])
    address = StringField(_l("Adresse"), validators=[Length(max=200, message=_l("Adressen kan ha høyst %(max)d tegn."))])

    def validate_kommunenummer(self, field):
        if db.session.scalar(select(Municipality.id).where(Municipality.kommunenummer == field.data)):
            raise ValidationError(_l("En kommune med dette nummeret finnes allerede."))

    def validate_org_number(self, field):
        try:
            field.data = orgnr.validate(field.data)
        except StdnumError:
            raise ValidationError(_l("Organisasjonsnummeret er ikke gyldig.")) from None


DUPLICATE_AREA = _l("Katalogen har allerede et aktivitetsområde med dette navnet.")


class ActivityAreaForm(FlaskForm):
    """The name of an activity catalogue entry (adding one, or renaming one)."""

    # Control characters dropped before the name is looked up (PostgreSQL refuses a NUL).
    class Meta(StrippedMeta):
        pass

    name = StringField(
        _l("Navn på aktivitetsområdet"),
        validators=[
            DataRequired(_l("Skriv navnet på aktivitetsområdet.")),
            Length(max=catalogue.NAME_MAX, message=_l("Navnet kan ha høyst %(max)d tegn.")),
        ],
    )

    def __init__(self, *args, municipality_id: int, area_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.municipality_id = municipality_id
        self.area_id = area_id

    def validate_name(self, field):
        if catalogue.name_taken(self.municipality_id, field.data, except_id=self.area_id):
            raise ValidationError(DUPLICATE_AREA)


CLAUSE_HINT = _l("Høyst %(max)s tegn. La feltet stå tomt hvis avsnittet skal starte uten tekst.", max="5 000")


class ClauseForm(FlaskForm):
    """A section's default wording, in both languages an agreement can be written in."""

    class Meta(StrippedMeta):
        pass

    nb = TextAreaField(
        _l("Bokmål"),
        description=CLAUSE_HINT,
        validators=[Length(max=TEXT_MAX, message=_l("Teksten på bokmål kan ha høyst %(max)s tegn.", max="5 000"))],
        render_kw={"lang": "nb"},
    )
    nn = TextAreaField(
        _l("Nynorsk"),
        description=CLAUSE_HINT,
        validators=[Length(max=TEXT_MAX, message=_l("Teksten på nynorsk kan ha høyst %(max)s tegn.", max="5 000"))],
        render_kw={"lang": "nn"},
    )


#: Next to the file field when a seal certificate is too large: from the form, or from the
#: request limit (admin.seal's 413).
SEAL_TOO_LARGE = _l("Filen er for stor. Et segl-sertifikat (.p12 eller .pfx) er høyst 100 KB.")


class SealForm(FlaskForm):
    """A municipality's own seal certificate, as a PKCS#12 file and its password."""

    file = FileField(_l("Sertifikatfil (.p12 eller .pfx)"), validators=[FileRequired(_l("Velg sertifikatfilen."))])
    # Not stripped: a password may begin or end with a space.
    password = PasswordField(_l("Passord til sertifikatfilen"))

    def validate_file(self, field):
        # Read no more than one byte past the limit: enough to know the file is too large.
        self.content = field.data.read(seal.MAX_PKCS12_BYTES + 1)
        if len(self.content) > seal.MAX_PKCS12_BYTES:
            raise ValidationError(SEAL_TOO_LARGE)


class ReviewLinksForm(FlaskForm):
    """How the municipality's review links open."""

    review_code_required = BooleanField(_l("Krev engangskode før organisasjonen kan åpne avtalen"))
