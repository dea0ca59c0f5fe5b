from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms.validators import ValidationError

from dugnad import importer


class UploadForm(FlaskForm):
    file = FileField(_l("Fil fra Enhetsregisteret eller regneark"), validators=[FileRequired(_l("Velg en fil å laste opp."))])

    def __init__(self, *args, kommunenummer: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.kommunenummer = kommunenummer
        #: What the file holds for the municipality, once it has been read.
        self.result: importer.ReadResult | None = None

    def validate_file(self, field):
        # Reading the file is the validation: its content, not its name, decides the format.
        try:
            self.result = importer.read_file(field.data.stream, self.kommunenummer)
        except importer.ImportFileError as error:
            raise ValidationError(error.message) from None
        if self.result.total == 0:
            raise ValidationError(_l("Filen har ingen rader med organisasjoner."))
