from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from dugnad import accounts
from dugnad.extensions import db
from dugnad.models import AccountToken
from dugnad.timeutil import now_utc, to_oslo

from ..actor import current_actor, link_actor
from . import bp
from .forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, NewPasswordForm

LANGUAGES = ("nb", "nn", "en")


WRONG_CURRENT_PASSWORD = _l("Passordet er feil. Skriv passordet du logger inn med nå.")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with email and password; too many wrong passwords in a row lock the account
    for a while (dugnad.accounts.authenticate)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        result = accounts.authenticate(email, form.password.data, link_actor(email))
        db.session.commit()  # the count of wrong passwords, the lock, or clearing them
        if result.ok:
            session.clear()  # a fresh session at login: no fixation
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        if result.locked_until is not None:
            form.password.errors.append(_(
                "For mange feil passord på rad. Kontoen er låst til kl. %(time)s; prøv igjen da. "
                "Du kan også lage et nytt passord med «Glemt passordet?».",
                time=to_oslo(result.locked_until).strftime("%H:%M"),
            ))
            seconds = max(1, int((result.locked_until - now_utc()).total_seconds()))
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(seconds)}
        # One message for unknown user and wrong password: do not reveal which.
        form.password.errors.append(_("Feil e-postadresse eller passord."))
        return render_template("auth/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (POST only, so a link or an image cannot log anyone out). Ends every session
    of the user, on every device: a copied session cookie stops working too."""
    accounts.end_sessions(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Du er logget ut."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link. The answer is the same whether or not the address has an
    account, so the page tells nobody who has one."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        accounts.request_password_reset(email, link_actor(email))
        db.session.commit()
        return render_template("auth/forgot_sent.html", email=email)
    return render_template("auth/forgot.html", form=form), 400 if form.errors else 200


def _set_password(link: AccountToken, template: str):
    """The page behind an invitation or reset link: a new password, twice; then logged in."""
    form = NewPasswordForm()
    if form.validate_on_submit():
        user = accounts.set_password_from_link(link, form.password.data, link_actor(link.user.name))
        db.session.commit()
        session.clear()
        login_user(user)
        flash(_("Passordet er lagret. Du er logget inn."), "success")
        return redirect(url_for("main.index"))
    response = render_template(template, form=form, user=link.user, link=link)
    # The token is in this page's address: never send it on to another site.
    return response, 400 if form.errors else 200, {"Referrer-Policy": "no-referrer"}


@bp.route("/account/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    """A new user chooses a password through the emailed invitation."""
    return _set_password(accounts.resolve_account_link(token, accounts.INVITE), "auth/accept_invite.html")


@bp.route("/account/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """A new password through the emailed reset link."""
    return _set_password(accounts.resolve_account_link(token, accounts.RESET), "auth/reset_password.html")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's password; every other session of the user ends, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if accounts.change_password(user, form.current.data, form.password.data, current_actor()):
            db.session.commit()
            session.clear()
            login_user(user)  # with the new epoch
            flash(_("Passordet er endret. Du er logget ut på andre enheter."), "success")
            return redirect(url_for("main.index"))
        form.current.errors.append(WRONG_CURRENT_PASSWORD)
    elif form.is_submitted() and form.current.data and not form.current.errors:
        # Say so now too, not only after the new password is fixed.
        if not current_user.check_password(form.current.data):
            form.current.errors.append(WRONG_CURRENT_PASSWORD)
    return render_template("auth/change_password.html", form=form), 400 if form.errors else 200


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
