"""Dugnad's application factory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, session
from flask_login import current_user

from dugnad import cli, mail, security
from dugnad.extensions import babel, csrf, db, login_manager, migrate
from dugnad.models import User

LANGUAGES = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}


def _secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one made once per installation.

    A random key kept under instance/ (never a default in the code) lets
    `make run` work out of the box without making every installation share a key.
    """
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres://"):  # the form many hosts hand out
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url or f"sqlite:///{Path(instance_path) / 'dugnad.sqlite'}"


def select_locale() -> str:
    if current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return "nb"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    env = os.environ.get
    app.config.from_mapping(
        SECRET_KEY=None,
        SQLALCHEMY_DATABASE_URI=None,
        # "production" demands real secrets and secure cookies (README, Production).
        DUGNAD_ENV=env("DUGNAD_ENV", "development"),
        # Protects each seal certificate's password (dugnad.seal); SECRET_KEY when unset.
        SEAL_KEY=env("SEAL_KEY") or None,
        # Reverse proxies in front that set X-Forwarded-For/-Proto/-Host/-Port (dugnad.security).
        TRUSTED_PROXIES=int(env("TRUSTED_PROXIES", "0")),
        MAIL_SERVER=env("MAIL_SERVER", ""),
        MAIL_PORT=int(env("MAIL_PORT", "25")),
        MAIL_USE_TLS=env("MAIL_USE_TLS", "") in ("1", "true", "yes"),
        MAIL_USERNAME=env("MAIL_USERNAME", ""),
        MAIL_PASSWORD=env("MAIL_PASSWORD", ""),
        MAIL_DEFAULT_SENDER=env("MAIL_DEFAULT_SENDER", "Dugnad <noreply@dugnad.local>"),
        # The outbox worker (`flask outbox run`): seconds between looks at the outbox; after a
        # failed try a message waits MAIL_RETRY_BASE_SECONDS, doubled after each further failure
        # up to MAIL_RETRY_MAX_SECONDS, and after MAIL_MAX_ATTEMPTS failed tries Dugnad gives up.
        OUTBOX_POLL_SECONDS=float(env("OUTBOX_POLL_SECONDS", "5")),
        MAIL_RETRY_BASE_SECONDS=int(env("MAIL_RETRY_BASE_SECONDS", "60")),
        MAIL_RETRY_MAX_SECONDS=int(env("MAIL_RETRY_MAX_SECONDS", str(6 * 3600))),
        MAIL_MAX_ATTEMPTS=int(env("MAIL_MAX_ATTEMPTS", "8")),
        #: Days an emailed agreement link stays valid.
        AGREEMENT_LINK_DAYS=int(env("AGREEMENT_LINK_DAYS", "30")),
        # The address emailed links start with when no request gives it (cron commands).
        PUBLIC_URL=env("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Days after sending when `flask reminders` reminds an organisation that has not answered.
        AGREEMENT_REMINDER_DAYS=tuple(int(day) for day in env("AGREEMENT_REMINDER_DAYS", "7,14").split(",") if day.strip()),
        # Days before a signed agreement's last day when `flask expiry-notices` emails its owner.
        AGREEMENT_EXPIRY_NOTICE_DAYS=int(env("AGREEMENT_EXPIRY_NOTICE_DAYS", "60")),
        # Days an emailed evaluation link stays valid, and days after sending when
        # `flask evaluations` reminds an organisation that has not answered it.
        EVALUATION_LINK_DAYS=int(env("EVALUATION_LINK_DAYS", "30")),
        EVALUATION_REMINDER_DAYS=tuple(int(day) for day in env("EVALUATION_REMINDER_DAYS", "7,14").split(",") if day.strip()),
        # One-time codes on review links (when a municipality asks for them): minutes a code
        # lives, wrong tries before it is void, codes one link may get.
        REVIEW_CODE_MINUTES=int(env("REVIEW_CODE_MINUTES", "10")),
        REVIEW_CODE_MAX_ATTEMPTS=int(env("REVIEW_CODE_MAX_ATTEMPTS", "5")),
        REVIEW_CODE_MAX_SENDS=int(env("REVIEW_CODE_MAX_SENDS", "5")),
        # Accounts: days an emailed invitation stays valid, minutes a password reset link
        # does; wrong passwords in a row that lock an account, and for how many minutes.
        ACCOUNT_INVITE_DAYS=int(env("ACCOUNT_INVITE_DAYS", "7")),
        PASSWORD_RESET_MINUTES=int(env("PASSWORD_RESET_MINUTES", "60")),
        LOGIN_MAX_FAILURES=int(env("LOGIN_MAX_FAILURES", "5")),
        LOGIN_LOCK_MINUTES=int(env("LOGIN_LOCK_MINUTES", "15")),
        # Rate limits per client address (dugnad.ratelimit); a shared store such as
        # redis://host:6379 makes every app server count together.
        RATELIMIT_ENABLED=env("RATELIMIT_ENABLED", "1") not in ("0", "false", "no"),
        RATELIMIT_STORAGE_URI=env("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_LOGIN=env("RATELIMIT_LOGIN", "10 per minute"),
        RATELIMIT_LINKS=env("RATELIMIT_LINKS", "60 per minute"),
        RATELIMIT_CODES=env("RATELIMIT_CODES", "10 per minute"),
        RATELIMIT_VERIFY=env("RATELIMIT_VERIFY", "10 per minute"),
        #: Largest register file accepted for import (bytes); the national bulk files are big.
        IMPORT_MAX_BYTES=int(env("IMPORT_MAX_BYTES", str(200 * 1024 * 1024))),
        BABEL_DEFAULT_LOCALE="nb",
        BABEL_DEFAULT_TIMEZONE="Europe/Oslo",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(app.root_path) / "translations"),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    if test_config:
        app.config.update(test_config)
    if security.is_production(app):
        # No key made up under instance/: every app server must share the one given.
        app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or env("SECRET_KEY")
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
        security.check_production(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(app.instance_path)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    security.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page explains itself
    babel.init_app(app, locale_selector=select_locale)
    mail.init_app(app)
    cli.init_app(app)

    from blueprints import register_blueprints
    from blueprints.errors import register_error_handlers
    from dugnad import ratelimit, ui

    register_blueprints(app)
    register_error_handlers(app)
    ratelimit.init_app(app)  # after the blueprints: it limits their routes
    ui.init_app(app, LANGUAGES)

    return app


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user while its epoch is current ("<id>:<epoch>", User.get_id): logout
    and a password change raise the epoch, which ends every session made before."""
    user_pk, _, epoch = user_id.partition(":")
    if not (user_pk.isdigit() and epoch.isdigit()):
        return None  # e.g. a session from before epochs: log in again
    user = db.session.get(User, int(user_pk))
    if user is None or user.session_epoch != int(epoch):
        return None
    return user
