from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from dugnad.extensions import db
from dugnad.models import User

from . import bp
from .forms import LoginForm

LANGUAGES = ("nb", "nn", "en")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(
            select(User).where(func.lower(User.email) == form.email.data.strip().lower())
        )
        if user is not None and user.active and user.check_password(form.password.data):
            session.clear()  # a fresh session at login: no fixation
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        # One message for unknown user and wrong password: do not reveal which.
        form.password.errors.append(_("Feil e-postadresse eller passord."))
        return render_template("auth/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (POST only, so a link or an image cannot log anyone out)."""
    logout_user()
    session.clear()
    flash(_("Du er logget ut."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language():
    """Choose the interface language; kept on the user, or in the session."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        abort(400)
    if current_user.is_authenticated:
        current_user.locale = lang
        db.session.commit()
    session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))
