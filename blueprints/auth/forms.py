from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-postadresse"),
        validators=[DataRequired(_l("Skriv e-postadressen din.")), Email(_l("Skriv en gyldig e-postadresse.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Passord"), validators=[DataRequired(_l("Skriv passordet ditt.")), Length(max=200)]
    )
