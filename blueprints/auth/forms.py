from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from dugnad.accounts import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-postadresse"),
        validators=[DataRequired(_l("Skriv e-postadressen din.")), Email(_l("Skriv en gyldig e-postadresse.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Passord"), validators=[DataRequired(_l("Skriv passordet ditt.")), Length(max=200)]
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        _l("E-postadresse"),
        validators=[
            DataRequired(_l("Skriv e-postadressen din.")),
            Email(_l("Skriv en gyldig e-postadresse.")),
            Length(max=254, message=_l("E-postadressen kan ha høyst %(max)d tegn.")),
        ],
    )


def _new_password():
    # Not stripped: a password may begin or end with a space.
    return PasswordField(
        _l("Nytt passord"),
        description=_l("Minst %(min)d tegn. En setning av flere ord er lett å huske og vanskelig å gjette.", min=MIN_PASSWORD_LENGTH),
        validators=[
            DataRequired(_l("Skriv et nytt passord.")),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=_l("Passordet må ha minst %(min)d og høyst %(max)d tegn.")),
        ],
    )


def _confirm():
    return PasswordField(
        _l("Gjenta det nye passordet"),
        validators=[
            DataRequired(_l("Skriv det nye passordet en gang til.")),
            EqualTo("password", _l("De to passordene er ikke like. Skriv det samme passordet begge gangene.")),
        ],
    )


class NewPasswordForm(FlaskForm):
    """A new password, typed twice (from an invitation or a reset link)."""

    password = _new_password()
    confirm = _confirm()


class ChangePasswordForm(FlaskForm):
    """The password now, then a new one twice (fields in the page's order)."""

    current = PasswordField(
        _l("Passordet du har nå"), validators=[DataRequired(_l("Skriv passordet du har nå.")), Length(max=200)]
    )
    password = _new_password()
    confirm = _confirm()
