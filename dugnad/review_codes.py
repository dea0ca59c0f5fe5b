"""One-time codes on review links: when a municipality asks for them, whoever opens an
emailed review link must first type a code sent to the address the link was emailed
to, so a forwarded link alone opens nothing.

Only an HMAC-SHA256 of a code is stored (keyed with the app's SECRET_KEY and bound to
the link), never the code. A code lives REVIEW_CODE_MINUTES and stands
REVIEW_CODE_MAX_ATTEMPTS wrong tries; a link gets at most REVIEW_CODE_MAX_SENDS codes,
one a minute. Counters change with conditional updates, so racing requests (a double
click, guesses sent in parallel) all count.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from . import audit, mail
from .extensions import db
from .lifecycle import Actor
from .models import Agreement, LinkToken, Municipality
from .timeutil import now_utc

#: Seconds between two codes for the same link: a second click sends nothing new.
RESEND_SECONDS = 60
CODE_DIGITS = 6


class CodeProblem(Exception):
    """Why a code cannot be sent or taken."""


class NoRecipient(CodeProblem):
    """Neither the link nor the organisation has an address to send the code to."""


class TooSoon(CodeProblem):
    """A code was sent less than RESEND_SECONDS ago."""

    def __init__(self, retry_at: datetime):
        super().__init__(retry_at.isoformat())
        self.retry_at = retry_at
        self.seconds = max(1, math.ceil((retry_at - now_utc()).total_seconds()))


class TooManySends(CodeProblem):
    """REVIEW_CODE_MAX_SENDS codes were sent for this link; the municipality must send a new link."""

    def __init__(self, municipality: str):
        super().__init__(municipality)
        self.municipality = municipality


class NoCode(CodeProblem):
    """No code is waiting: none was sent, or the last one was already used."""


class CodeExpired(CodeProblem):
    """The code's REVIEW_CODE_MINUTES are over."""


class CodeVoid(CodeProblem):
    """Too many wrong tries: the code no longer opens anything, a new one is needed."""


class WrongCode(CodeProblem):
    def __init__(self, tries_left: int):
        super().__init__(str(tries_left))
        self.tries_left = tries_left


def _config(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def max_attempts() -> int:
    return _config("REVIEW_CODE_MAX_ATTEMPTS", 5)


def max_sends() -> int:
    return _config("REVIEW_CODE_MAX_SENDS", 5)


def minutes() -> int:
    return _config("REVIEW_CODE_MINUTES", 10)


def _agreement(link: LinkToken) -> Agreement:
    return db.session.scalar(
        select(Agreement).where(Agreement.id == link.object_id, Agreement.municipality_id == link.municipality_id)
    )


def recipient(link: LinkToken, agreement: Agreement | None = None) -> str:
    """Where the link's codes go: the address it was emailed to (links from before that
    was recorded: the organisation's address for links)."""
    if link.recipient:
        return link.recipient
    agreement = agreement or _agreement(link)
    return agreement.organization.notify_email if agreement is not None else ""


def mask(address: str) -> str:
    """'kari@lag.example.no' -> 'k***@lag.example.no': enough to recognise, not to harvest."""
    local, at, domain = (address or "").partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def _digest(link_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else key.encode("utf-8")
    return hmac.new(key, f"review-code:{link_id}:{code}".encode(), hashlib.sha256).hexdigest()


def state(link: LinkToken) -> str:
    """The link's code as the code page shows it: none | active | expired | void."""
    if link.code_hash is None:
        return "none"
    if link.code_attempts >= max_attempts():
        return "void"
    if link.code_expires_at is None or link.code_expires_at <= now_utc():
        return "expired"
    return "active"


def send_code(link: LinkToken, actor: Actor) -> datetime:
    """Email a fresh code to the link's recipient (any earlier code stops working).
    Returns when the new code expires. TooSoon, TooManySends or NoRecipient otherwise."""
    agreement = _agreement(link)
    address = recipient(link, agreement)
    if not address:
        raise NoRecipient()
    if link.codes_sent >= max_sends():
        raise TooManySends(db.session.get(Municipality, link.municipality_id).name)
    now = now_utc()
    if link.code_sent_at is not None and now < link.code_sent_at + timedelta(seconds=RESEND_SECONDS):
        raise TooSoon(link.code_sent_at + timedelta(seconds=RESEND_SECONDS))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    expires_at = now + timedelta(minutes=minutes())
    # Conditional on the count read: of two racing sends (a double click) only one mails.
    result = db.session.execute(
        update(LinkToken)
        .where(LinkToken.id == link.id, LinkToken.codes_sent == link.codes_sent)
        .values(
            code_hash=_digest(link.id, code),
            code_expires_at=expires_at,
            code_attempts=0,
            codes_sent=LinkToken.codes_sent + 1,
            code_sent_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(link)
    if result.rowcount != 1:
        raise TooSoon((link.code_sent_at or now) + timedelta(seconds=RESEND_SECONDS))
    municipality = db.session.get(Municipality, link.municipality_id)
    message = mail.queue(
        link.municipality_id,
        address,
        _l("Engangskode for å åpne samarbeidsavtalen"),
        "review_code",
        locale=agreement.language,
        code=code,
        expires_at=expires_at,
        minutes=minutes(),
        municipality=municipality,
        agreement=agreement,
    )
    db.session.flush()  # its id goes into the audit event: the timeline shows the delivery
    audit.record(
        link.municipality_id, actor, "code_sent", "agreement", link.object_id,
        details={"link": link.id, "to": address, "outbox": message.id},
    )
    return expires_at


def check_code(link: LinkToken, code: str, actor: Actor) -> None:
    """Take the code typed for the link; returns when it is right (and uses it up).
    WrongCode (with the tries left), CodeVoid, CodeExpired or NoCode otherwise."""
    code = "".join((code or "").split())
    limit = max_attempts()
    if link.code_hash is None:
        raise NoCode()
    if link.code_attempts >= limit:
        raise CodeVoid()
    now = now_utc()
    if link.code_expires_at is None or link.code_expires_at <= now:
        raise CodeExpired()
    expected = link.code_hash
    # Every condition again in the update: the code may have been replaced, used up or
    # voided by another request since this one read the link.
    current = (
        LinkToken.id == link.id,
        LinkToken.code_hash == expected,
        LinkToken.code_attempts < limit,
        LinkToken.code_expires_at > now,
    )
    if hmac.compare_digest(_digest(link.id, code), expected):
        result = db.session.execute(
            update(LinkToken)
            .where(*current)
            .values(code_hash=None, code_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(link)
        if result.rowcount != 1:
            _raise_for_current(link)
        audit.record(link.municipality_id, actor, "code_verified", "agreement", link.object_id, details={"link": link.id})
        return
    attempts = db.session.execute(
        update(LinkToken)
        .where(*current)
        .values(code_attempts=LinkToken.code_attempts + 1)
        .returning(LinkToken.code_attempts)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    db.session.refresh(link)
    if attempts is None:
        _raise_for_current(link)
    if attempts >= limit:
        # Exactly one request makes the try that voids the code: it records it.
        audit.record(
            link.municipality_id, actor, "code_void", "agreement", link.object_id,
            details={"link": link.id, "attempts": attempts},
        )
        raise CodeVoid()
    raise WrongCode(limit - attempts)


def _raise_for_current(link: LinkToken) -> None:
    """Another request changed the code meanwhile: the answer its new state gives."""
    current = state(link)
    if current == "active":  # a newer code was sent: the one typed is not it
        raise WrongCode(max_attempts() - link.code_attempts)
    raise {"none": NoCode, "void": CodeVoid, "expired": CodeExpired}[current]()


def set_required(municipality: Municipality, required: bool, actor: Actor) -> bool:
    """Turn the code on or off for the municipality's review links; True if it changed."""
    if municipality.review_code_required == required:
        return False
    municipality.review_code_required = required
    audit.record(
        municipality.id, actor, "review_code_setting", "municipality", municipality.id,
        details={"review_code_required": required},
    )
    return True
