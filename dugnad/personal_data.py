"""Personal data of the organisations' contact persons: what Dugnad holds about one
person (an export for a request for access), erasing it when it is no longer needed
(anonymising the contact), the municipality's retention rule applied from cron, and the
municipality's privacy settings.

Signed agreements are records: the versions sent, the signatures and the sealed PDFs
keep the names they were signed with, and so does the audit trail (who did what, and
when) they rest on. Everything else that names the person is erased.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select, update
from sqlalchemy.orm import selectinload

from . import audit
from .agreements import add_months
from .extensions import db
from .lifecycle import Actor
from .models import (
    Agreement,
    AgreementSection,
    AgreementVersion,
    AuditEvent,
    Contact,
    Evaluation,
    Invitation,
    LinkToken,
    Meeting,
    Municipality,
    Organization,
    OutboxMessage,
    Signature,
)
from .registry import unicode_lower
from .timeutil import now_utc, to_oslo

#: What an anonymised contact is called from then on (in the registry and in drafts).
ANONYMISED_NAME = "Anonymisert kontakt"

#: The export's format, so a reader knows what the keys mean if they change.
EXPORT_FORMAT = "dugnad-contact-export/1"

#: Months a municipality may keep contacts of organisations it no longer works with.
RETENTION_MIN, RETENTION_MAX = 1, 120
#: Longest privacy notice or accessibility statement, in characters.
TEXT_MAX = 20_000

#: Agreements still being made: their contact is needed.
OPEN_STATES = ("draft", "sent", "accepted", "changes_requested")
#: Agreements that were in force; in force still while their last day has not passed.
IN_FORCE_STATES = ("signed", "terminated")


def anonymised_address(contact: Contact) -> str:
    """What replaces the person's address on mail sent to them: the message stays (the
    mail history stays countable), the address does not. `.invalid` never delivers."""
    return f"kontakt-{contact.id}@anonymisert.invalid"


# --- Finding the person -------------------------------------------------------------------


def _moment(value: datetime | None) -> str | None:
    return to_oslo(value).isoformat(timespec="seconds") if value else None


def _needles(contact: Contact) -> list[str]:
    """What identifies the person in free text: their address and their full name."""
    if contact.anonymised_at is not None:
        return []
    return [needle for needle in (contact.email.strip(), contact.name.strip()) if needle]


def _mentions(text: str, needles: list[str]) -> bool:
    folded = (text or "").casefold()
    return any(needle.casefold() in folded for needle in needles)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_like(needle: str) -> str:
    """A LIKE pattern for `needle` as JSON stores it: ASCII as written (lower case), any
    other letter escaped, e.g. \\u00f8 for ø (lower() cannot fold \\u00d8 to \\u00f8, so
    any escaped letter is let through; the exact check follows in Python)."""
    parts = []
    for char in needle:
        if char.isascii():
            parts.append(_like_escaped(json.dumps(char)[1:-1].lower()))
        else:
            parts.append("\\\\u____" * (2 if ord(char) > 0xFFFF else 1))  # beyond the BMP: two escapes
    return "%" + "".join(parts) + "%"


def _text_mentions(column, needles: list[str], json_column: bool = False):
    """A SQL condition that narrows rows to those whose text (or JSON, as stored) may
    mention a needle, in any case; the exact check is made in Python (_mentions) on what
    comes back."""
    conditions = []
    for needle in needles:
        raw = f"%{_like_escaped(needle.lower())}%"
        lower = func.lower if needle.isascii() else unicode_lower
        if json_column:
            text = cast(column, Text)
            conditions.append(func.lower(text).like(_json_like(needle), escape="\\"))
            if not needle.isascii():  # JSON written unescaped (by another program) is found too
                conditions.append(unicode_lower(text).like(raw, escape="\\"))
        else:
            conditions.append(lower(column).like(raw, escape="\\"))
    return or_(*conditions) if conditions else None


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every text in a JSON value with its path (sections.contacts.organization_name)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _fields_mentioning(data: Any, needles: list[str]) -> dict[str, str]:
    return {path: text for path, text in _strings(data) if _mentions(text, needles)}


def export_contact(contact: Contact) -> dict[str, Any]:
    """Everything Dugnad holds about the person, within the contact's municipality: the
    contact itself, their organisation, and wherever their address or name appears.
    A handful of queries, whatever the municipality's size: each table is searched once."""
    municipality_id = contact.municipality_id
    municipality = db.session.get(Municipality, municipality_id)
    organization = contact.organization
    needles = _needles(contact)
    email = contact.email.strip().lower()
    names = [contact.name.strip()] if contact.anonymised_at is None and contact.name.strip() else []

    result: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _moment(now_utc()),
        "municipality": {"name": municipality.name, "kommunenummer": municipality.kommunenummer},
        "contact": {
            "id": contact.id,
            "name": contact.name,
            "role": contact.role,
            "email": contact.email,
            "phone": contact.phone,
            "is_primary": contact.is_primary,
            "anonymised_at": _moment(contact.anonymised_at),
        },
        "organization": {
            "id": organization.id,
            "name": organization.name,
            "org_number": organization.org_number,
            "address": organization.address,
            "postal_code": organization.postal_code,
            "city": organization.city,
            "email": organization.email,
            "phone": organization.phone,
            "deleted_at": _moment(organization.deleted_at),
        },
        "agreement_versions": [],
        "agreement_drafts": [],
        "signatures": [],
        "invitations": [],
        "evaluations": [],
        "links": [],
        "messages": [],
        "audit_events": [],
    }

    own_organization = Agreement.organization_id == contact.organization_id
    if needles:
        rows = db.session.execute(
            select(Agreement.number, Agreement.title, AgreementVersion.number, AgreementVersion.created_at,
                   AgreementVersion.content)
            .join(Agreement, Agreement.id == AgreementVersion.agreement_id)
            .where(
                AgreementVersion.municipality_id == municipality_id,
                or_(own_organization, _text_mentions(AgreementVersion.content, needles, json_column=True)),
            )
            .order_by(Agreement.number, AgreementVersion.number)
        ).all()
        for number, title, version, sent_at, content in rows:
            fields = _fields_mentioning(content, needles)
            if fields:
                result["agreement_versions"].append({
                    "agreement_number": number, "agreement_title": title, "version": version,
                    "sent_at": _moment(sent_at), "fields": fields,
                })

        rows = db.session.execute(
            select(Agreement.number, Agreement.title, Agreement.state, AgreementSection.key, AgreementSection.data)
            .join(Agreement, Agreement.id == AgreementSection.agreement_id)
            .where(
                AgreementSection.municipality_id == municipality_id,
                or_(own_organization, _text_mentions(AgreementSection.data, needles, json_column=True)),
            )
            .order_by(Agreement.number, AgreementSection.key)
        ).all()
        drafts: dict[str, dict] = {}
        for number, title, state, key, data in rows:
            fields = _fields_mentioning({key: data}, needles)
            if fields:
                entry = drafts.setdefault(number, {"agreement_number": number, "agreement_title": title,
                                                   "state": state, "fields": {}})
                entry["fields"].update(fields)
        result["agreement_drafts"] = list(drafts.values())

    if names:
        signatures = db.session.execute(
            select(Signature, Agreement.number)
            .join(Agreement, Agreement.id == Signature.agreement_id)
            .where(Signature.municipality_id == municipality_id, _text_mentions(Signature.name, names))
            .order_by(Signature.signed_at)
        ).all()
        result["signatures"] = [
            {
                "agreement_number": number, "party": signature.party, "name": signature.name,
                "role": signature.role, "signed_at": _moment(signature.signed_at),
                "ip": signature.ip, "user_agent": signature.user_agent,
            }
            for signature, number in signatures
            if _mentions(signature.name, names)
        ]
        invitations = db.session.execute(
            select(Invitation, Meeting.title, Meeting.starts_at)
            .join(Meeting, Meeting.id == Invitation.meeting_id)
            .where(Invitation.municipality_id == municipality_id, _text_mentions(Invitation.participant_names, names))
            .order_by(Meeting.starts_at)
        ).all()
        result["invitations"] = [
            {
                "meeting": title, "starts_at": _moment(starts_at), "answer": invitation.answer,
                "participant_names": invitation.participant_names, "answered_at": _moment(invitation.answered_at),
            }
            for invitation, title, starts_at in invitations
            if _mentions(invitation.participant_names, names)
        ]
        evaluations = db.session.execute(
            select(Evaluation, Agreement.number)
            .join(Agreement, Agreement.id == Evaluation.agreement_id)
            .where(Evaluation.municipality_id == municipality_id, _text_mentions(Evaluation.answered_by, names))
            .order_by(Evaluation.due_on)
        ).all()
        result["evaluations"] = [
            {
                "agreement_number": number, "due_on": evaluation.due_on.isoformat(),
                "answered_by": evaluation.answered_by, "answered_at": _moment(evaluation.answered_at),
            }
            for evaluation, number in evaluations
            if _mentions(evaluation.answered_by, names)
        ]

    addresses = [address for address in (email, anonymised_address(contact).lower()) if address]
    links = db.session.scalars(
        select(LinkToken)
        .where(LinkToken.municipality_id == municipality_id, func.lower(LinkToken.recipient).in_(addresses))
        .order_by(LinkToken.created_at)
    ).all()
    result["links"] = [
        {"purpose": link.purpose, "created_at": _moment(link.created_at), "opened_at": _moment(link.opened_at),
         "used_at": _moment(link.used_at)}
        for link in links
    ]
    # Subject, date and status: the bodies are the municipality's letters, not data about the person.
    messages = db.session.execute(
        select(OutboxMessage.to_addr, OutboxMessage.subject, OutboxMessage.created_at, OutboxMessage.status,
               OutboxMessage.sent_at)
        .where(OutboxMessage.municipality_id == municipality_id, func.lower(OutboxMessage.to_addr).in_(addresses))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    result["messages"] = [
        {"to": to_addr, "subject": subject, "created_at": _moment(created_at), "status": status,
         "sent_at": _moment(sent_at)}
        for to_addr, subject, created_at, status, sent_at in messages
    ]

    about_contact = (AuditEvent.object_type == "contact") & (AuditEvent.object_id == contact.id)
    mentioning = [about_contact]
    if names:
        mentioning.append(_text_mentions(AuditEvent.actor_label, names))
    if needles:
        mentioning.append(_text_mentions(AuditEvent.details, needles, json_column=True))
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.municipality_id == municipality_id, or_(*mentioning))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()
    result["audit_events"] = [
        {
            "created_at": _moment(event.created_at), "action": event.action, "object_type": event.object_type,
            "object_id": event.object_id, "actor": event.actor_label, "details": event.details,
        }
        for event in events
        if (event.object_type == "contact" and event.object_id == contact.id)
        or _mentions(event.actor_label, names)
        or _fields_mentioning(event.details, needles)
    ]
    return result


# --- Erasing the person -------------------------------------------------------------------


class AlreadyAnonymised(Exception):
    """The contact was anonymised before; there is nothing left to erase."""


def _scrubbed(value: Any, name: str, email: str, phone: str) -> Any:
    """A draft's data with every field that is the person's name, address or phone
    replaced (fields that merely mention them, e.g. a longer text, are left as written)."""
    if isinstance(value, dict):
        return {key: _scrubbed(item, name, email, phone) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, name, email, phone) for item in value]
    if isinstance(value, str):
        folded = value.strip().casefold()
        if name and folded == name.casefold():
            return ANONYMISED_NAME
        if (email and folded == email.casefold()) or (phone and folded == phone.casefold()):
            return ""
    return value


def anonymise_contact(contact: Contact, actor: Actor) -> dict[str, int]:
    """Erase the person: the contact keeps its place in the organisation under a neutral
    name, without role, address or phone. Mail sent to them stays in the history under
    an address that delivers nowhere (what was still waiting is not sent); working drafts,
    invitation answers and evaluations of their organisation lose their name. Agreement
    versions, signatures, signed PDFs and the audit trail are records and stay as they are.
    The audit event says what was done, not whom it was done to. Returns the counts."""
    if contact.anonymised_at is not None:
        raise AlreadyAnonymised()
    name, email, phone = contact.name.strip(), contact.email.strip(), contact.phone.strip()
    municipality_id = contact.municipality_id
    counts = {"messages": 0, "links": 0, "drafts": 0, "invitations": 0, "evaluations": 0}

    contact.name = ANONYMISED_NAME
    contact.role = contact.email = contact.phone = ""
    contact.anonymised_at = now_utc()

    if email:
        replacement = anonymised_address(contact)
        messages = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.municipality_id == municipality_id, func.lower(OutboxMessage.to_addr) == email.lower())
            .options(selectinload(OutboxMessage.attachments))
        ).all()
        for message in messages:
            message.to_addr = replacement
            for field in ("subject", "body_text", "body_html"):
                setattr(message, field, _replace(getattr(message, field), name, email, replacement))
            for attachment in message.attachments:
                if attachment.content_type.startswith("text/"):  # a calendar invitation names the attendee
                    text = attachment.data.decode("utf-8", errors="replace")
                    erased = _replace(text, name, email, replacement)
                    if erased != text:
                        attachment.data = erased.encode()
            if message.status == "pending":
                message.status = "failed"
                message.last_error = "Ikke sendt: mottakeren er anonymisert."
        counts["messages"] = len(messages)
        # Links keep working for the organisation; reminders and codes go to its address now.
        counts["links"] = db.session.execute(
            update(LinkToken)
            .where(LinkToken.municipality_id == municipality_id, func.lower(LinkToken.recipient) == email.lower())
            .values(recipient=None)
            .execution_options(synchronize_session=False)
        ).rowcount

    if name or email:
        sections = db.session.scalars(
            select(AgreementSection)
            .join(Agreement, Agreement.id == AgreementSection.agreement_id)
            .where(Agreement.organization_id == contact.organization_id)
        ).all()
        for section in sections:
            data = _scrubbed(section.data, name, email, phone)
            if data != section.data:
                section.data = data
                section.revision += 1  # an editor open on the old text gets a conflict, not an overwrite
                counts["drafts"] += 1

    if name:
        pattern = _whole_words(name)
        invitations = db.session.scalars(
            select(Invitation).where(Invitation.organization_id == contact.organization_id)
        ).all()
        for invitation in invitations:
            if pattern.search(invitation.participant_names or ""):
                invitation.participant_names = pattern.sub(ANONYMISED_NAME, invitation.participant_names)
                counts["invitations"] += 1
        evaluations = db.session.scalars(
            select(Evaluation)
            .join(Agreement, Agreement.id == Evaluation.agreement_id)
            .where(Agreement.organization_id == contact.organization_id)
        ).all()
        for evaluation in evaluations:
            if evaluation.answered_by.strip().casefold() == name.casefold():
                evaluation.answered_by = ANONYMISED_NAME
                counts["evaluations"] += 1

    audit.record(
        municipality_id, actor, "anonymise", "contact", contact.id,
        details={"organization_id": contact.organization_id, **counts},
    )
    return counts


def _whole_words(text: str) -> re.Pattern:
    """`text` as whole words only: erasing "Per" must leave "Personvern" alone."""
    return re.compile(rf"(?<!\w){re.escape(text)}(?!\w)", re.IGNORECASE)


def _replace(text: str, name: str, email: str, replacement: str) -> str:
    if email:
        text = _whole_words(email).sub(replacement, text)
    if name:
        text = _whole_words(name).sub(ANONYMISED_NAME, text)
    return text


# --- The retention rule -------------------------------------------------------------------


def _day(moment: datetime | None) -> date | None:
    return to_oslo(moment).date() if moment else None


def due_for_anonymising(municipality: Municipality, today: date) -> list[Contact]:
    """Contacts the municipality's retention rule says to anonymise today: those of
    organisations with no agreement in force or being made, and nothing since the cutoff
    (the last agreement's end, the last invitation or meeting, the organisation's creation)."""
    months = municipality.contact_retention_months
    if not months:
        return []
    cutoff = add_months(today, -months)
    contacts = db.session.scalars(
        select(Contact)
        .where(Contact.municipality_id == municipality.id, Contact.anonymised_at.is_(None))
        .order_by(Contact.id)
    ).all()
    organization_ids = {contact.organization_id for contact in contacts}
    if not organization_ids:
        return []
    last_seen: dict[int, date] = {
        organization_id: _day(created_at)
        for organization_id, created_at in db.session.execute(
            select(Organization.id, Organization.created_at).where(Organization.id.in_(organization_ids))
        )
    }
    needed: set[int] = set()

    def seen(organization_id: int, day: date | None) -> None:
        if day is not None and day > last_seen[organization_id]:
            last_seen[organization_id] = day

    for organization_id, state, valid_to, updated_at in db.session.execute(
        select(Agreement.organization_id, Agreement.state, Agreement.valid_to, Agreement.updated_at)
        .where(Agreement.municipality_id == municipality.id, Agreement.organization_id.in_(organization_ids))
    ):
        if state in OPEN_STATES or (state in IN_FORCE_STATES and (valid_to is None or valid_to >= today)):
            needed.add(organization_id)
        seen(organization_id, valid_to if state in IN_FORCE_STATES else _day(updated_at))
    for organization_id, created_at, answered_at, starts_at in db.session.execute(
        select(Invitation.organization_id, Invitation.created_at, Invitation.answered_at, Meeting.starts_at)
        .join(Meeting, Meeting.id == Invitation.meeting_id)
        .where(Invitation.municipality_id == municipality.id, Invitation.organization_id.in_(organization_ids))
    ):
        for moment in (created_at, answered_at, starts_at):
            seen(organization_id, _day(moment))
    return [
        contact
        for contact in contacts
        if contact.organization_id not in needed and last_seen[contact.organization_id] < cutoff
    ]


def apply_retention(today: date, actor: Actor) -> int:
    """Anonymise, in every municipality that has set a retention period, the contacts its
    rule says are no longer needed (for cron, through `flask retention`). Returns how many."""
    municipalities = db.session.scalars(
        select(Municipality).where(Municipality.contact_retention_months.is_not(None)).order_by(Municipality.id)
    ).all()
    anonymised = 0
    for municipality in municipalities:
        for contact in due_for_anonymising(municipality, today):
            anonymise_contact(contact, actor)
            anonymised += 1
    return anonymised


# --- The municipality's settings ----------------------------------------------------------


def save_settings(
    municipality: Municipality,
    retention_months: int | None,
    privacy_notice: str,
    accessibility_statement: str,
    actor: Actor,
) -> None:
    """The retention period (None: off) and the municipality's own texts ("" : Dugnad's)."""
    changes: dict[str, Any] = {}
    if municipality.contact_retention_months != retention_months:
        changes["contact_retention_months"] = {"from": municipality.contact_retention_months, "to": retention_months}
        municipality.contact_retention_months = retention_months
    for field, text in (("privacy_notice", privacy_notice), ("accessibility_statement", accessibility_statement)):
        if getattr(municipality, field) != text:
            # Whether it changed and how long it is: the text itself is on the public page.
            changes[field] = {"changed": True, "own_text": bool(text), "characters": len(text)}
            setattr(municipality, field, text)
    if changes:
        audit.record(municipality.id, actor, "privacy_settings", "municipality", municipality.id, details=changes)
