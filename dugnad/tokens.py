"""Emailed links: 256-bit random tokens, of which only the SHA-256 is stored.

A link has one purpose, an expiry, and can be revoked or used up. Looking one up
never tells whether some other token exists: every failure is one of three
plain answers (unknown, expired or revoked, used).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update

from .extensions import db
from .models import LinkToken
from .timeutil import now_utc


class Purpose(enum.StrEnum):
    ANSWER_INVITATION = "answer_invitation"
    REVIEW_AGREEMENT = "review_agreement"
    EVALUATE_AGREEMENT = "evaluate_agreement"


class LinkProblem(Exception):
    """Why a link cannot be used; `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.reason = reason  # unknown | expired | revoked | used
        self.status = status


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(
    municipality_id: int, purpose: Purpose, object_id: int, expires_at: datetime, recipient: str | None = None
) -> str:
    """Create a link token in the current transaction; returns the secret once.
    `recipient`: the address it is emailed to, where its reminders and codes go."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        LinkToken(
            municipality_id=municipality_id,
            token_hash=_digest(token),
            purpose=purpose.value,
            object_id=object_id,
            expires_at=expires_at,
            recipient=recipient,
        )
    )
    return token


def resolve(token: str, purpose: Purpose, allow_used: bool = False) -> LinkToken:
    """The stored link for `token`, or LinkProblem. Length is checked before hashing."""
    if not token or len(token) > 100:
        raise LinkProblem("unknown", 404)
    link = db.session.scalar(select(LinkToken).where(LinkToken.token_hash == _digest(token)))
    if link is None or link.purpose != purpose.value:
        raise LinkProblem("unknown", 404)
    if link.revoked_at is not None:
        raise LinkProblem("revoked", 410)
    if link.expires_at <= now_utc():
        raise LinkProblem("expired", 410)
    if link.used_at is not None and not allow_used:
        raise LinkProblem("used", 410)
    return link


def mark_used(link: LinkToken) -> None:
    """Use the link up; of two racing requests only one succeeds."""
    result = db.session.execute(
        update(LinkToken)
        .where(LinkToken.id == link.id, LinkToken.used_at.is_(None))
        .values(used_at=now_utc())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LinkProblem("used", 410)


def revoke_all(purpose: Purpose, object_id: int) -> None:
    """Stop every open link for this object (e.g. when an agreement is withdrawn)."""
    db.session.execute(
        update(LinkToken)
        .where(
            LinkToken.purpose == purpose.value,
            LinkToken.object_id == object_id,
            LinkToken.revoked_at.is_(None),
        )
        .values(revoked_at=now_utc())
        .execution_options(synchronize_session=False)
    )
