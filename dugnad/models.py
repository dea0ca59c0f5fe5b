"""The data model. Every row belongs to exactly one municipality (the tenant).

Operators are the one exception: they run the installation and belong to none.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .timeutil import UTCDateTime, now_utc


class Role(enum.StrEnum):
    STAFF = "staff"
    ADMIN = "admin"
    OPERATOR = "operator"


class Municipality(db.Model):
    __tablename__ = "municipality"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    #: SSB's 4-digit number; data, not code, since numbers change at reforms.
    kommunenummer: Mapped[str] = mapped_column(String(4), unique=True)
    org_number: Mapped[str] = mapped_column(String(9))
    address: Mapped[str] = mapped_column(String(200), default="")
    #: Review links ask for a one-time code emailed to the recipient before the agreement
    #: can be read or answered: a forwarded link alone is not enough.
    review_code_required: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    #: Contacts of organisations without an active agreement are anonymised this many
    #: months after the organisation's last agreement ended or it was last in touch
    #: (`flask retention`); None: never automatically.
    contact_retention_months: Mapped[int | None]
    #: The municipality's own privacy notice and accessibility statement (public pages;
    #: Markdown-free plain text with paragraphs), shown instead of the built-in text when set.
    privacy_notice: Mapped[str] = mapped_column(Text, default="", server_default="")
    accessibility_statement: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    __table_args__ = (
        CheckConstraint("length(kommunenummer) = 4", name="kommunenummer_len"),
    )


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: staff | admin | operator
    role: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Interface language: nb, nn or en.
    locale: Mapped[str] = mapped_column(String(5), default="nb")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: Wrong passwords in a row; reset by a good one. Lock-out lives in the database, so
    #: every app server sees it.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Part of the session's user id: raised on logout and password change, which ends every
    #: session signed with the old value (sessions are signed cookies, not server state).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    municipality: Mapped[Municipality | None] = relationship()

    __table_args__ = (
        CheckConstraint("role IN ('staff', 'admin', 'operator')", name="role_known"),
        CheckConstraint(
            "role = 'operator' OR municipality_id IS NOT NULL", name="tenant_member"
        ),
    )

    def set_password(self, password: str) -> None:
        # werkzeug's default is scrypt, a current memory-hard algorithm.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        # What Flask-Login keeps in the session; app.load_user accepts it only while the
        # epoch is current, so raising the epoch ends every session made before.
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


#: Which activity areas an organisation works in.
organization_activity = Table(
    "organization_activity",
    db.metadata,
    Column("organization_id", ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True),
    Column("activity_area_id", ForeignKey("activity_area.id", ondelete="CASCADE"), primary_key=True),
)

#: Which activity areas an organisation said, in its answer, it could contribute to.
invitation_activity = Table(
    "invitation_activity",
    db.metadata,
    Column("invitation_id", ForeignKey("invitation.id", ondelete="CASCADE"), primary_key=True),
    Column("activity_area_id", ForeignKey("activity_area.id", ondelete="CASCADE"), primary_key=True),
)


class ActivityArea(db.Model):
    """An entry of a municipality's activity catalogue (språkkafé, leksehjelp, ...)."""

    __tablename__ = "activity_area"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: Hidden areas stay on old records but are not offered for new ones.
    hidden: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("municipality_id", "name"),)


class OrganizationType(enum.StrEnum):
    HUMANITARIAN = "humanitarian"
    SPORTS = "sports"
    CULTURE = "culture"
    RELIGION = "religion"
    VOLUNTEER_CENTRE = "volunteer_centre"
    IMMIGRANT = "immigrant"
    OTHER = "other"


class Organization(db.Model):
    __tablename__ = "organization"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Optional: informal groups have none. MOD11-checked when given.
    org_number: Mapped[str | None] = mapped_column(String(9))
    address: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(4), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    #: One of OrganizationType.
    org_type: Mapped[str] = mapped_column(String(24), default=OrganizationType.OTHER.value)
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Set when staff delete the organisation; its history (invitations, agreements) stays.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    activity_areas: Mapped[list[ActivityArea]] = relationship(
        secondary=organization_activity, order_by="ActivityArea.position"
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="organization",
        order_by="(Contact.is_primary.desc(), Contact.id)",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        UniqueConstraint("municipality_id", "org_number"),
        CheckConstraint(
            "org_type IN ('humanitarian', 'sports', 'culture', 'religion', "
            "'volunteer_centre', 'immigrant', 'other')",
            name="org_type_known",
        ),
        Index("ix_organization_municipality_name", "municipality_id", "name"),
    )

    @property
    def primary_contact(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_primary), None)

    @property
    def notify_email(self) -> str:
        """Where links for the organisation go: the primary contact, else its own address."""
        contact = self.primary_contact
        return (contact.email if contact and contact.email else "") or self.email


class Contact(db.Model):
    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: The contact's role in the organisation, e.g. styreleder.
    role: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)
    #: When the person's data was erased (name replaced, address and phone emptied);
    #: signed documents that name them are records and stay as they are.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(back_populates="contacts")


class Meeting(db.Model):
    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The address.
    place: Mapped[str] = mapped_column(String(300))
    room: Mapped[str] = mapped_column(String(120), default="")
    #: Optional link for those who join digitally.
    digital_link: Mapped[str] = mapped_column(String(500), default="")
    agenda: Mapped[str] = mapped_column(Text, default="")
    #: A personal message from the coordinator, at the top of the invitation.
    message: Mapped[str] = mapped_column(Text, default="")
    #: Notes written after the meeting.
    notes: Mapped[str] = mapped_column(Text, default="")
    #: iCalendar SEQUENCE: raised each time the time or place changes.
    sequence: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: Optimistic locking: two staff editing the same meeting cannot overwrite each other.
    version: Mapped[int] = mapped_column(default=1)

    invitations: Mapped[list[Invitation]] = relationship(
        back_populates="meeting", order_by="Invitation.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)


class InvitationAnswer(enum.StrEnum):
    PENDING = "pending"
    ATTENDING = "attending"
    NOT_ATTENDING = "not_attending"


class Invitation(db.Model):
    __tablename__ = "invitation"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    #: pending | attending | not_attending
    answer: Mapped[str] = mapped_column(String(16), default=InvitationAnswer.PENDING.value)
    comment: Mapped[str] = mapped_column(Text, default="")
    #: How many will come, and optionally who.
    participants: Mapped[int | None]
    participant_names: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Recorded after the meeting: None until staff record who came.
    attended: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    meeting: Mapped[Meeting] = relationship(back_populates="invitations")
    organization: Mapped[Organization] = relationship()
    activity_areas: Mapped[list[ActivityArea]] = relationship(
        secondary=invitation_activity, order_by="ActivityArea.position"
    )

    @property
    def ics_uid(self) -> str:
        """Stable per invitation, so calendar updates replace the first invitation."""
        return f"invitation-{self.id}@dugnad"

    __table_args__ = (
        UniqueConstraint("meeting_id", "organization_id"),
        CheckConstraint(
            "answer IN ('pending', 'attending', 'not_attending')", name="answer_known"
        ),
        CheckConstraint("participants IS NULL OR participants >= 0", name="participants_positive"),
    )


class Agreement(db.Model):
    __tablename__ = "agreement"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    #: Per municipality and year, e.g. 2026-007.
    number: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    #: Assigned only by dugnad.lifecycle.apply_action.
    state: Mapped[str] = mapped_column(String(24), default="draft")
    #: The document's language: nb (bokmål) or nn (nynorsk); the interface is per user.
    language: Mapped[str] = mapped_column(String(2), default="nb", server_default="nb")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: The period the accepted version states (its duration section), set when it is
    #: countersigned; valid_to is empty for an agreement that runs until terminated.
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    #: When the owner was told the agreement is about to expire (once per agreement).
    expiry_notice_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The municipality's case or archive reference (saksnummer), for the archive export.
    case_reference: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: The version the organisation accepted; countersigning must name it.
    accepted_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agreement_version.id", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    organization: Mapped[Organization] = relationship()
    owner: Mapped[User | None] = relationship()
    versions: Mapped[list[AgreementVersion]] = relationship(
        back_populates="agreement",
        order_by="AgreementVersion.number",
        foreign_keys="AgreementVersion.agreement_id",
    )
    accepted_version: Mapped[AgreementVersion | None] = relationship(
        foreign_keys=[accepted_version_id], post_update=True
    )
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="agreement", order_by="Signature.signed_at"
    )
    signed_document: Mapped[SignedDocument | None] = relationship(
        back_populates="agreement", uselist=False
    )
    #: The draft, one row per section (dugnad.sections); frozen copies live in AgreementVersion.
    sections: Mapped[list[AgreementSection]] = relationship(
        back_populates="agreement", order_by="AgreementSection.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("municipality_id", "number"),
        CheckConstraint("language IN ('nb', 'nn')", name="language_known"),
        CheckConstraint(
            "state IN ('draft', 'sent', 'accepted', 'declined', "
            "'changes_requested', 'signed', 'withdrawn', 'terminated')",
            name="state_known",
        ),
        # An accepted or signed agreement always knows which version was accepted.
        CheckConstraint(
            "state NOT IN ('accepted', 'signed') OR accepted_version_id IS NOT NULL",
            name="accepted_has_version",
        ),
    )

    @property
    def latest_version(self) -> AgreementVersion | None:
        return self.versions[-1] if self.versions else None

    def section(self, key: str) -> AgreementSection:
        return next(section for section in self.sections if section.key == key)


class AgreementSection(db.Model):
    """One section of an agreement's draft. A row per section, so two people
    saving different sections never overwrite each other."""

    __tablename__ = "agreement_section"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    #: A key of dugnad.sections.SECTIONS.
    key: Mapped[str] = mapped_column(String(40))
    #: The fields as dugnad.sections defines them: strings, and rows for activities.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: not_started | in_progress | completed (the task list's statuses).
    status: Mapped[str] = mapped_column(String(16), default="not_started")
    #: Raised on every save; a save from an older revision is a conflict.
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    agreement: Mapped[Agreement] = relationship(back_populates="sections")
    updated_by: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("agreement_id", "key"),
        CheckConstraint("status IN ('not_started', 'in_progress', 'completed')", name="status_known"),
    )


class Clause(db.Model):
    """A municipality's default wording for a section, in bokmål or nynorsk.

    Absent rows fall back to dugnad.sections.DEFAULT_CLAUSES."""

    __tablename__ = "clause"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    section_key: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    updated_by: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("municipality_id", "section_key", "language"),
        CheckConstraint("language IN ('nb', 'nn')", name="language_known"),
    )


class AgreementVersion(db.Model):
    __tablename__ = "agreement_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    number: Mapped[int]
    #: The section contents as sent, never changed afterwards.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The document as rendered at sending; what the organisation reads.
    html: Mapped[str] = mapped_column(Text)
    #: SHA-256 (hex) of `html` encoded as UTF-8; what signatures name.
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    agreement: Mapped[Agreement] = relationship(
        back_populates="versions", foreign_keys=[agreement_id]
    )

    __table_args__ = (UniqueConstraint("agreement_id", "number"),)


class Party(enum.StrEnum):
    ORGANIZATION = "organization"
    MUNICIPALITY = "municipality"


class Signature(db.Model):
    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("agreement_version.id"))
    #: organization | municipality
    party: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    #: The hash of the version signed, copied so the evidence stands on its own.
    version_sha256: Mapped[str] = mapped_column(String(64))

    agreement: Mapped[Agreement] = relationship(back_populates="signatures")
    version: Mapped[AgreementVersion] = relationship()

    __table_args__ = (
        # One signature per party per agreement: a double click cannot sign twice.
        UniqueConstraint("agreement_id", "party"),
        CheckConstraint("party IN ('organization', 'municipality')", name="party_known"),
    )


class SignedDocument(db.Model):
    __tablename__ = "signed_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), unique=True)
    #: The PDF exactly as rendered once; always served from here.
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    agreement: Mapped[Agreement] = relationship(back_populates="signed_document")


class SealCertificate(db.Model):
    """The certificate a municipality seals signed agreements with (PAdES, pyHanko).

    Either uploaded by an administrator as PKCS#12, or made self-signed by Dugnad on
    first use. The PKCS#12 password is stored only encrypted with a key derived from
    SEAL_KEY, or SECRET_KEY while that is unset (dugnad.seal), never in plain text.
    """

    __tablename__ = "seal_certificate"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), unique=True)
    pkcs12: Mapped[bytes] = mapped_column(LargeBinary)
    #: Fernet token of the PKCS#12 password.
    password_encrypted: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(400))
    #: SHA-256 (hex) of the certificate's DER encoding, shown to verify it out of band.
    fingerprint: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    self_signed: Mapped[bool] = mapped_column(default=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Who acted, readable: a user's name or "Organisation: <name> (<person>)".
    actor_label: Mapped[str] = mapped_column(String(250))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_audit_event_object", "municipality_id", "object_type", "object_id"),
        # The audit log page: a municipality's events, newest first, by date.
        Index("ix_audit_event_time", "municipality_id", "created_at"),
    )


class LinkToken(db.Model):
    """An emailed link. Only the SHA-256 of the token is stored."""

    __tablename__ = "link_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: One purpose per link: answer_invitation | review_agreement
    purpose: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the link was first opened: the sender's timeline shows it.
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The address the link was emailed to: reminders and one-time codes go there.
    recipient: Mapped[str | None] = mapped_column(String(254))
    #: The current one-time code (SHA-256 under the app's key, never the code itself),
    #: when it stops working, wrong tries against it, and codes sent for this link.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    codes_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class OutboxMessage(db.Model):
    """An email, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(250))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    #: pending | sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Not before this time (backoff after a failure); None: as soon as possible.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        order_by="OutboxAttachment.id", cascade="all, delete-orphan"
    )
    failures: Mapped[list[OutboxFailure]] = relationship(
        order_by="OutboxFailure.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        # The worker's question: pending messages whose time has come.
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )


class OutboxFailure(db.Model):
    """One failed delivery attempt of a message: when, and what the server said."""

    __tablename__ = "outbox_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    error: Mapped[str] = mapped_column(Text, default="")


class AccountToken(db.Model):
    """An emailed link to set a password: an invitation to a new user, or a reset. Only the
    token's SHA-256 is stored; a link works once, until it expires. Apart from LinkToken
    because operators belong to no municipality."""

    __tablename__ = "account_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: invite | reset
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("purpose IN ('invite', 'reset')", name="purpose_known"),
    )


class OutboxAttachment(db.Model):
    """A file sent with a message, e.g. a calendar invitation (.ics)."""

    __tablename__ = "outbox_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    #: e.g. 'text/calendar; method=REQUEST'
    content_type: Mapped[str] = mapped_column(String(120))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RegistryImport(db.Model):
    """An uploaded register file, kept between its preview and its import."""

    __tablename__ = "registry_import"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    filename: Mapped[str] = mapped_column(String(255))
    #: enhetsregisteret_json | enhetsregisteret_csv | plain_csv
    file_format: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: Set when the import was written; a second apply is refused (double click).
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)



class Evaluation(db.Model):
    """The yearly (or as the agreement sets) evaluation of an active agreement: the
    organisation answers through an emailed link; staff add the municipality's view."""

    __tablename__ = "evaluation"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    #: The date the agreement set for this evaluation (start + n × interval).
    due_on: Mapped[date]
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The organisation's answer.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str] = mapped_column(String(120), default="", server_default="")
    went_well: Mapped[str] = mapped_column(Text, default="", server_default="")
    went_badly: Mapped[str] = mapped_column(Text, default="", server_default="")
    volunteers: Mapped[int | None]
    participants: Mapped[int | None]
    wishes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The municipality's view.
    municipality_view: Mapped[str] = mapped_column(Text, default="", server_default="")
    municipality_view_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    municipality_view_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    agreement: Mapped[Agreement] = relationship()
    municipality_view_by: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("agreement_id", "due_on", name="one_per_due_date"),
        CheckConstraint("volunteers IS NULL OR volunteers >= 0", name="volunteers_not_negative"),
        CheckConstraint("participants IS NULL OR participants >= 0", name="participants_not_negative"),
    )
