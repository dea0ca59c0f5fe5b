"""Municipalities and their users (used by the admin pages and the CLI)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, mail
from .catalogue import DEFAULT_ACTIVITY_AREAS
from .extensions import db
from .lifecycle import Actor
from .models import AccountToken, ActivityArea, AuditEvent, Municipality, User
from .timeutil import now_utc
from .tokens import LinkProblem

#: Countersigning asks for the password again; this many wrong ones in a row,
#: within the window, stop further attempts for the length of the window.
COUNTERSIGN_MAX_FAILURES = 5
COUNTERSIGN_LOCK = timedelta(minutes=15)
COUNTERSIGN_PASSWORD_FAILED = "countersign_password_failed"


def create_municipality(name: str, kommunenummer: str, org_number: str, address: str = "") -> Municipality:
    """A new tenant, with the seed activity catalogue."""
    municipality = Municipality(
        name=name, kommunenummer=kommunenummer, org_number=org_number, address=address
    )
    db.session.add(municipality)
    db.session.flush()
    db.session.add_all(
        ActivityArea(municipality_id=municipality.id, name=name, position=position)
        for position, name in enumerate(DEFAULT_ACTIVITY_AREAS)
    )
    return municipality


def create_user(
    municipality_id: int | None,
    email: str,
    name: str,
    role: str,
    password: str,
    title: str = "",
    actor: Actor | None = None,
) -> User:
    user = User(
        municipality_id=municipality_id,
        email=email.strip().lower(),
        name=name.strip(),
        role=role,
        title=title.strip(),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    if municipality_id is not None:
        audit.record(
            municipality_id, actor or Actor(label="flask create-user"), "create", "user", user.id
        )
    return user


def countersign_locked_until(user: User) -> datetime | None:
    """When `user` may try to countersign again, if too many wrong passwords in a row
    stopped them; None when they may try now.

    Counted from the audit trail, not the session, so every app server sees the
    same attempts. A countersignature by the user ends a run of failures."""
    now = now_utc()
    since = now - 2 * COUNTERSIGN_LOCK  # a run that still locks began no earlier
    mine = (AuditEvent.municipality_id == user.municipality_id, AuditEvent.actor_user_id == user.id)
    last_signed = db.session.scalar(
        select(func.max(AuditEvent.created_at)).where(*mine, AuditEvent.action == "countersign")
    )
    if last_signed is not None and last_signed > since:
        since = last_signed
    failures = db.session.scalars(
        select(AuditEvent.created_at)
        .where(*mine, AuditEvent.action == COUNTERSIGN_PASSWORD_FAILED, AuditEvent.created_at > since)
        .order_by(AuditEvent.created_at)
    ).all()
    first = COUNTERSIGN_MAX_FAILURES - 1
    for last in range(len(failures) - 1, first - 1, -1):
        if failures[last] - failures[last - first] <= COUNTERSIGN_LOCK and failures[last] + COUNTERSIGN_LOCK > now:
            return failures[last] + COUNTERSIGN_LOCK
    return None


def confirm_password_to_countersign(user: User, password: str, actor: Actor, agreement_id: int) -> bool:
    """Whether `password` is the user's; a wrong one is written to the audit trail
    (without the password), where countersign_locked_until counts it."""
    if user.check_password(password):
        return True
    audit.record(
        user.municipality_id, actor, COUNTERSIGN_PASSWORD_FAILED, "user", user.id,
        details={"agreement_id": agreement_id},
    )
    db.session.flush()
    return False


# --- Passwords, emailed account links, lock-out and sessions (issue 7) -------------------

#: The shortest password Dugnad accepts, here and in `flask create-user`.
MIN_PASSWORD_LENGTH = 12
#: A stored hash no password matches: werkzeug knows no method named "!". An invited user
#: has it until they choose their own password through the emailed link.
UNUSABLE_PASSWORD = "!invited"
#: At most one reset email per account this often, whatever the rate limit per address allows,
#: so nobody can fill a colleague's inbox.
RESET_RESEND_SECONDS = 60

INVITE = "invite"
RESET = "reset"


class AccountLinkProblem(LinkProblem):
    """Why an invitation or reset link cannot be used (unknown 404; expired, used or
    revoked 410), with the link's purpose so the page can say what to do next."""

    def __init__(self, reason: str, status: int, purpose: str | None = None):
        super().__init__(reason, status)
        self.purpose = purpose


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    #: Set when the account is locked (now or by this attempt): when it opens again.
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _config(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def has_password(user: User) -> bool:
    return not user.password_hash.startswith(UNUSABLE_PASSWORD[0])


@cache
def _dummy_hash() -> str:
    return generate_password_hash("no account has this password")


def authenticate(email: str, password: str, actor: Actor) -> LoginResult:
    """Check a login. Wrong passwords in a row are counted on the user row (every app server
    sees the same count); the LOGIN_MAX_FAILURES-th locks the account for LOGIN_LOCK_MINUTES,
    during which even the right password is refused. A good login clears the count.

    An unknown or deactivated email gets the same answer as a wrong password, after the
    same amount of hashing work, so neither the answer nor its time tells who has an account.
    """
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)
        return LoginResult()
    now = now_utc()
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(locked_until=user.locked_until)
    if user.check_password(password):
        if user.failed_logins or user.locked_until is not None:
            user.failed_logins = 0
            user.locked_until = None
        return LoginResult(user=user)
    # Counted in SQL, so two wrong passwords at the same moment on two servers both count.
    db.session.execute(
        update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user)
    if user.failed_logins < _config("LOGIN_MAX_FAILURES", 5):
        return LoginResult()
    # Locked; the count starts again, so after the lock the user has a full set of tries.
    user.locked_until = now + timedelta(minutes=_config("LOGIN_LOCK_MINUTES", 15))
    user.failed_logins = 0
    if user.municipality_id is not None:  # operators belong to no municipality's trail
        audit.record(
            user.municipality_id, actor, "login_locked", "user", user.id,
            details={"until": user.locked_until.isoformat()},
        )
    return LoginResult(locked_until=user.locked_until)


def end_sessions(user: User) -> None:
    """Every session signed with the user's current epoch stops working (the session id is
    "<id>:<epoch>"; see app.load_user). Raised in SQL: two logouts at once both count."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _issue(user: User, purpose: str, lifetime: timedelta) -> str:
    """A new link for `user` in the current transaction; the secret is returned once,
    only its SHA-256 is kept."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    db.session.add(
        AccountToken(user_id=user.id, purpose=purpose, token_hash=_digest(token), created_at=now, expires_at=now + lifetime)
    )
    return token


def invite_lifetime() -> timedelta:
    return timedelta(days=_config("ACCOUNT_INVITE_DAYS", 7))


def reset_lifetime() -> timedelta:
    return timedelta(minutes=_config("PASSWORD_RESET_MINUTES", 60))


def _send_invitation(user: User, inviter: str) -> None:
    token = _issue(user, INVITE, invite_lifetime())
    municipality = db.session.get(Municipality, user.municipality_id)
    mail.queue(
        user.municipality_id,
        user.email,
        _l("Du er invitert til Dugnad i %(municipality)s", municipality=municipality.name),
        "account_invite",
        locale=user.locale,
        user=user,
        inviter=inviter,
        municipality=municipality,
        link=url_for("auth.accept_invite", token=token, _external=True),
        expires_at=now_utc() + invite_lifetime(),
    )


def invite_user(municipality_id: int, email: str, name: str, role: str, actor: Actor, title: str = "") -> User:
    """A new staff member or administrator without a password, and an emailed link where
    they choose one (valid ACCOUNT_INVITE_DAYS). The administrator never knows it."""
    user = User(
        municipality_id=municipality_id,
        email=email.strip().lower(),
        name=name.strip(),
        role=role,
        title=title.strip(),
        password_hash=UNUSABLE_PASSWORD,
    )
    db.session.add(user)
    db.session.flush()
    _send_invitation(user, actor.label)
    audit.record(municipality_id, actor, "user_invited", "user", user.id, details={"email": user.email, "role": role})
    return user


def resend_invitation(user: User, actor: Actor) -> None:
    """A fresh invitation link for someone who has not chosen a password yet (the first
    one may have expired); earlier links keep working until they expire."""
    _send_invitation(user, actor.label)
    audit.record(user.municipality_id, actor, "user_invited", "user", user.id, details={"email": user.email, "again": True})


def request_password_reset(email: str, actor: Actor) -> None:
    """Email a reset link (valid PASSWORD_RESET_MINUTES) when `email` belongs to an active
    user of a municipality; otherwise do nothing. The caller answers the same either way.

    Operators belong to no municipality, and mail goes out through a municipality's outbox,
    so an operator cannot reset by email: whoever runs the installation helps (README)."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active or user.municipality_id is None:
        return
    recent = db.session.scalar(
        select(AccountToken.id).where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == RESET,
            AccountToken.used_at.is_(None),
            AccountToken.created_at > now_utc() - timedelta(seconds=RESET_RESEND_SECONDS),
        )
    )
    if recent is not None:
        return
    token = _issue(user, RESET, reset_lifetime())
    municipality = db.session.get(Municipality, user.municipality_id)
    mail.queue(
        user.municipality_id,
        user.email,
        _l("Lag nytt passord i Dugnad"),
        "account_reset",
        locale=user.locale,
        # Sent by the worker, not during the request: a slower answer (the SMTP round
        # trip) would tell whoever asked that the address has an account.
        deliver_now=False,
        user=user,
        municipality=municipality,
        link=url_for("auth.reset_password", token=token, _external=True),
        minutes=_config("PASSWORD_RESET_MINUTES", 60),
        expires_at=now_utc() + reset_lifetime(),
    )
    audit.record(user.municipality_id, actor, "password_reset_requested", "user", user.id)


def resolve_account_link(token: str, purpose: str) -> AccountToken:
    """The stored link for `token`, or AccountLinkProblem. Length is checked before hashing."""
    if not token or len(token) > 100:
        raise AccountLinkProblem("unknown", 404, purpose)
    link = db.session.scalar(select(AccountToken).where(AccountToken.token_hash == _digest(token)))
    if link is None or link.purpose != purpose:
        raise AccountLinkProblem("unknown", 404, purpose)
    if link.used_at is not None:
        raise AccountLinkProblem("used", 410, purpose)
    if link.expires_at <= now_utc():
        raise AccountLinkProblem("expired", 410, purpose)
    if not link.user.active:
        raise AccountLinkProblem("revoked", 410, purpose)
    return link


def set_password_from_link(link: AccountToken, password: str, actor: Actor) -> User:
    """Use the link up (of two racing requests only one wins), set the password, open a
    lock-out, end every other session, and void the user's other open links."""
    now = now_utc()
    result = db.session.execute(
        update(AccountToken).where(AccountToken.id == link.id, AccountToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise AccountLinkProblem("used", 410, link.purpose)
    db.session.execute(
        update(AccountToken).where(AccountToken.user_id == link.user_id, AccountToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )
    user = link.user
    user.set_password(password)
    user.failed_logins = 0
    user.locked_until = None
    end_sessions(user)
    if user.municipality_id is not None:
        action = "invite_accepted" if link.purpose == INVITE else "password_reset"
        audit.record(user.municipality_id, actor, action, "user", user.id)
    return user


def change_password(user: User, current: str, new: str, actor: Actor) -> bool:
    """Whether `current` was right; if so the password is `new`, and every session of the
    user ends (the caller logs this one in again)."""
    if not user.check_password(current):
        return False
    user.set_password(new)
    end_sessions(user)
    if user.municipality_id is not None:
        audit.record(user.municipality_id, actor, "password_changed", "user", user.id)
    return True
