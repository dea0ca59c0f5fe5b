from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from ..formtools import StrippedMeta

#: Largest PDF accepted for checking.
MAX_PDF_BYTES = 10 * 1024 * 1024
TOO_LARGE = _l("Filen er for stor. Største tillatte størrelse er 10 MB.")


class PdfForm(FlaskForm):
    """Check a PDF file."""

    file = FileField(_l("Signert avtale (PDF)"), validators=[FileRequired(_l("Velg PDF-filen du vil sjekke."))])

    def validate_file(self, field):
        data = field.data.read(MAX_PDF_BYTES + 1)
        if len(data) > MAX_PDF_BYTES:
            raise ValidationError(TOO_LARGE)
        # The content decides, not the name: a PDF starts with %PDF-.
        if not data.startswith(b"%PDF-"):
            raise ValidationError(_l("Filen er ikke en PDF. Velg den signerte avtalen som PDF-fil."))
        self.pdf = data


class NumberForm(FlaskForm):
    """Check by the agreement number and the PDF's fingerprint, without the file."""

    class Meta(StrippedMeta):
        pass

    number = StringField(
        _l("Avtalenummer"),
        description=_l("For eksempel 2026-007."),
        validators=[DataRequired(_l("Skriv avtalenummeret.")), Length(max=20, message=_l("Avtalenummeret kan ha høyst %(max)d tegn."))],
    )
    fingerprint = StringField(
        _l("Fingeravtrykk (SHA-256)"),
        description=_l("64 tegn, 0–9 og a–f. Det står i e-posten med den signerte avtalen."),
        filters=[lambda value: "".join(value.split()).lower() if isinstance(value, str) else value],
        validators=[
            DataRequired(_l("Skriv fingeravtrykket.")),
            Regexp(r"^[0-9a-f]{64}$", message=_l("Fingeravtrykket har 64 tegn, bare 0–9 og a–f.")),
        ],
    )
