"""Named operations on agreements. Each mutates, flushes, notifies and audits
in the caller's transaction; the view commits. States change only through
`lifecycle.apply_action`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from . import audit, mail, tokens
from .documents import render_signed_pdf, render_version_html, sha256_hex
from .extensions import db
from .lifecycle import Actor, IllegalTransition, apply_action
from .models import (
    Agreement,
    AgreementVersion,
    AuditEvent,
    Municipality,
    Organization,
    Party,
    Signature,
    SignedDocument,
    User,
)
from .sections import SECTION_KEYS
from .timeutil import now_utc, to_oslo


class CannotSend(Exception):
    """The agreement cannot be emailed (e.g. the organisation has no address)."""


def next_number(municipality_id: int, year: int) -> str:
    """The next agreement number for the year, e.g. 2026-007."""
    prefix = f"{year}-"
    count = db.session.scalar(
        select(func.count(Agreement.id)).where(
            Agreement.municipality_id == municipality_id, Agreement.number.startswith(prefix)
        )
    )
    return f"{prefix}{count + 1:03d}"


def _contact_line(*parts: str) -> str:
    return ", ".join(part.strip() for part in parts if part and part.strip())


def default_content(municipality: Municipality, organization: Organization, owner: User) -> dict:
    """A draft pre-filled from what Dugnad knows about both parties."""
    contact = organization.primary_contact
    contacts = [f"Kommunen: {_contact_line(owner.name, owner.title, owner.email)}"]
    if contact:
        contacts.append(f"Organisasjonen: {_contact_line(contact.name, contact.role, contact.email, contact.phone)}")
    return {
        "title": f"Samarbeidsavtale mellom {municipality.name} og {organization.name}",
        "purpose": (
            f"{municipality.name} og {organization.name} samarbeider om bosetting og "
            "integrering av flyktninger, slik at nye innbyggere raskt blir en del av "
            "lokalsamfunnet."
        ),
        "activities": "",
        "municipality_responsibilities": "",
        "organization_responsibilities": "",
        "contacts": "\n".join(contacts),
        "economy": "",
        "valid_from": "",
        "valid_to": "",
    }


def create_draft(organization: Organization, user: User, actor: Actor, activities: str = "") -> Agreement:
    """A new draft; `activities` pre-fills that section (e.g. from a meeting answer)."""
    municipality = db.session.get(Municipality, organization.municipality_id)
    content = default_content(municipality, organization, user)
    if activities:
        content["activities"] = activities
    agreement = Agreement(
        municipality_id=organization.municipality_id,
        organization=organization,
        number=next_number(organization.municipality_id, to_oslo(now_utc()).year),
        title=content.pop("title"),
        content=content,
        owner_id=user.id,
    )
    db.session.add(agreement)
    db.session.flush()
    audit.record(agreement.municipality_id, actor, "create", "agreement", agreement.id, to_state="draft")
    return agreement


#: Sections that must be written before an agreement can be sent.
REQUIRED_SECTIONS = ("purpose", "activities", "municipality_responsibilities", "organization_responsibilities")


def missing_sections(agreement: Agreement) -> list[str]:
    return [key for key in REQUIRED_SECTIONS if not (agreement.content.get(key) or "").strip()]


def save_draft(agreement: Agreement, title: str, content: dict, actor: Actor) -> None:
    if agreement.state != "draft":
        raise IllegalTransition(agreement.state, "edit")
    agreement.title = title
    agreement.content = {key: content.get(key, "") for key in (*SECTION_KEYS, "valid_from", "valid_to")}
    audit.record(agreement.municipality_id, actor, "edit", "agreement", agreement.id)


def _parties(agreement: Agreement) -> dict:
    municipality = db.session.get(Municipality, agreement.municipality_id)
    organization = agreement.organization
    return {
        "municipality": {
            "name": municipality.name,
            "org_number": municipality.org_number,
            "address": municipality.address,
        },
        "organization": {
            "name": organization.name,
            "org_number": organization.org_number or "",
            "address": ", ".join(
                part
                for part in (organization.address, f"{organization.postal_code} {organization.city}".strip())
                if part
            ),
        },
    }


def send(agreement: Agreement, actor: Actor) -> AgreementVersion:
    """Freeze the draft as a new version and email the organisation a review link."""
    address = agreement.organization.notify_email
    if not address:
        raise CannotSend()
    content = {
        **agreement.content,
        "title": agreement.title,
        "number": agreement.number,
        "parties": _parties(agreement),
    }
    html = render_version_html(agreement, content)
    version = AgreementVersion(
        municipality_id=agreement.municipality_id,
        agreement=agreement,
        number=len(agreement.versions) + 1,
        content=content,
        html=html,
        sha256=sha256_hex(html),
    )
    db.session.add(version)
    apply_action(agreement, "send", actor, details={"version": version.number, "sha256": version.sha256})
    db.session.flush()
    # Only the newest link works: an older version can no longer be answered.
    tokens.revoke_all(tokens.Purpose.REVIEW_AGREEMENT, agreement.id)
    days = current_app.config["AGREEMENT_LINK_DAYS"]
    token = tokens.issue(
        agreement.municipality_id,
        tokens.Purpose.REVIEW_AGREEMENT,
        agreement.id,
        expires_at=now_utc() + timedelta(days=days),
    )
    mail.queue(
        agreement.municipality_id,
        address,
        _l("Samarbeidsavtale til gjennomsyn: %(title)s", title=agreement.title),
        "agreement_sent",
        agreement=agreement,
        version=version,
        link=url_for("respond.agreement", token=token, _external=True),
        days=days,
    )
    return version


def _notify_owner(agreement: Agreement, template: str, subject, **context) -> None:
    owner = agreement.owner
    if owner is None:
        return
    mail.queue(
        agreement.municipality_id,
        owner.email,
        subject,
        template,
        locale=owner.locale,
        agreement=agreement,
        link=url_for("agreements.show", agreement_id=agreement.id, _external=True),
        **context,
    )


def accept(agreement: Agreement, link, name: str, role: str, actor: Actor) -> Signature:
    """The organisation accepts the latest version: a simple electronic signature."""
    version = agreement.latest_version
    apply_action(
        agreement, "accept", actor, details={"sha256": version.sha256}, also={"accepted_version_id": version.id}
    )
    tokens.mark_used(link)
    signature = Signature(
        municipality_id=agreement.municipality_id,
        agreement=agreement,
        version=version,
        party=Party.ORGANIZATION.value,
        name=name,
        role=role,
        ip=actor.ip,
        user_agent=actor.user_agent[:400],
        version_sha256=version.sha256,
    )
    db.session.add(signature)
    db.session.flush()
    _notify_owner(
        agreement, "agreement_answered", _l("Avtale godtatt: %(title)s", title=agreement.title),
        accepted=True, action="accept", reason="",
    )
    return signature


def answer_with_reason(agreement: Agreement, link, action: str, reason: str, actor: Actor) -> None:
    """The organisation declines, or asks for changes; the reason is required."""
    if action not in ("decline", "request_changes"):
        raise ValueError(action)
    apply_action(agreement, action, actor, details={"reason": reason})
    tokens.mark_used(link)
    subject = (
        _l("Avtale avslått: %(title)s", title=agreement.title)
        if action == "decline"
        else _l("Endringer ønsket: %(title)s", title=agreement.title)
    )
    _notify_owner(agreement, "agreement_answered", subject, accepted=False, action=action, reason=reason)


def countersign(agreement: Agreement, user: User, role: str, actor: Actor) -> SignedDocument:
    """The municipality signs the version the organisation accepted; the PDF is
    rendered once and stored. Any failure rolls the whole step back, leaving the
    agreement accepted and the step retryable."""
    version = agreement.accepted_version
    if version is None:
        raise IllegalTransition(agreement.state, "countersign")
    apply_action(agreement, "countersign", actor, details={"sha256": version.sha256})
    db.session.add(
        Signature(
            municipality_id=agreement.municipality_id,
            agreement=agreement,
            version=version,
            party=Party.MUNICIPALITY.value,
            name=user.name,
            role=role,
            user_id=user.id,
            ip=actor.ip,
            user_agent=actor.user_agent[:400],
            version_sha256=version.sha256,
        )
    )
    db.session.flush()
    db.session.refresh(agreement, ["signatures"])
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.municipality_id == agreement.municipality_id,
            AuditEvent.object_type == "agreement",
            AuditEvent.object_id == agreement.id,
        )
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()
    pdf = render_signed_pdf(agreement, version, events)
    document = SignedDocument(
        municipality_id=agreement.municipality_id,
        agreement=agreement,
        pdf=pdf,
        sha256=sha256_hex(pdf),
    )
    db.session.add(document)
    db.session.flush()
    address = agreement.organization.notify_email
    if address:
        mail.queue(
            agreement.municipality_id,
            address,
            _l("Avtalen er signert: %(title)s", title=agreement.title),
            "agreement_signed",
            agreement=agreement,
            document=document,
        )
    return document


def withdraw(agreement: Agreement, actor: Actor) -> None:
    apply_action(agreement, "withdraw", actor)
    tokens.revoke_all(tokens.Purpose.REVIEW_AGREEMENT, agreement.id)


def revise(agreement: Agreement, actor: Actor) -> None:
    """Back to draft after a decline or a request for changes; the text is kept."""
    apply_action(agreement, "revise", actor)
