"""Named operations on agreements. Each mutates, flushes, notifies and audits
in the caller's transaction; the view commits. States change only through
`lifecycle.apply_action`.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from . import audit, clauses, mail, seal, tokens
from .documents import render_document_html, render_signed_pdf, sha256_hex
from .extensions import db
from .lifecycle import Actor, IllegalTransition, apply_action
from .models import (
    ActivityArea,
    Agreement,
    AgreementSection,
    AgreementVersion,
    AuditEvent,
    LinkToken,
    Municipality,
    Organization,
    Party,
    Signature,
    SignedDocument,
    User,
)
from .sections import REQUIRED_SECTIONS, SECTION_KEYS, SECTIONS, Status, normalize
from .timeutil import now_utc, to_oslo, today_oslo


class CannotSend(Exception):
    """The agreement cannot be emailed (e.g. the organisation has no address)."""


class Incomplete(Exception):
    """Sections required before sending are not completed."""

    def __init__(self, missing: list[str]):
        super().__init__(", ".join(missing))
        self.missing = missing


class SectionConflict(Exception):
    """Someone saved the section after the page was loaded; both texts are kept."""

    def __init__(self, section: AgreementSection):
        super().__init__(section.key)
        self.section = section


class VersionMismatch(Exception):
    """The signer saw another version than the one the organisation accepted."""


def next_number(municipality_id: int, year: int) -> str:
    """The next agreement number for the year, e.g. 2026-007 (the highest so far plus one)."""
    prefix = f"{year}-"
    numbers = db.session.scalars(
        select(Agreement.number).where(
            Agreement.municipality_id == municipality_id, Agreement.number.startswith(prefix)
        )
    ).all()
    highest = max((int(number[len(prefix):]) for number in numbers if number[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:03d}"


def _add_numbered(agreement: Agreement) -> None:
    """Insert with the next free number. Two staff starting an agreement in the same
    instant take the same number; the unique constraint refuses the second, which
    takes the next (a savepoint keeps the rest of the transaction)."""
    year = to_oslo(now_utc()).year
    for _attempt in range(5):
        agreement.number = next_number(agreement.municipality_id, year)
        try:
            with db.session.begin_nested():
                db.session.add(agreement)
                db.session.flush()
            return
        except IntegrityError:
            continue
    raise RuntimeError("no free agreement number after 5 attempts")


def _contact(name: str, role: str, email: str, phone: str) -> dict:
    return {"name": name or "", "role": role or "", "email": email or "", "phone": phone or ""}


def _organization_fields(organization: Organization) -> dict:
    """What the registry knows about the organisation's side, for a new draft."""
    contact = organization.primary_contact
    person = _contact(contact.name, contact.role, contact.email, contact.phone) if contact else _contact("", "", "", "")
    return {f"organization_{name}": value for name, value in person.items()}


def default_sections(
    organization: Organization, owner: User, language: str, activity_areas: list[ActivityArea] = ()
) -> dict[str, dict]:
    """A new draft: the clause library's wording, and what Dugnad knows about both parties."""
    texts = clauses.library(organization.municipality_id)
    data = {}
    for section in SECTIONS:
        values = section.empty()
        values["text"] = texts.get((section.key, language), "")
        data[section.key] = values
    data["activities"]["rows"] = [
        {"area_id": str(area.id), "area": area.name, "what": area.name, "where": "", "how_often": "", "leader": ""}
        for area in activity_areas
    ]
    data["contacts"].update(
        {f"municipality_{name}": value for name, value in _contact(owner.name, owner.title, owner.email, "").items()}
    )
    data["contacts"].update(_organization_fields(organization))
    return data


def _copied_sections(source: Agreement, organization: Organization) -> dict[str, dict]:
    """An earlier agreement's sections, without what belonged to its organisation."""
    data = {section.key: normalize(section.key, section.data) for section in source.sections}
    data["parties"]["organization_signatory"] = ""
    data["parties"]["organization_signatory_role"] = ""
    data["contacts"].update(_organization_fields(organization))
    return data


def create_draft(
    organization: Organization,
    user: User,
    actor: Actor,
    *,
    title: str | None = None,
    language: str = "nb",
    activity_areas: list[ActivityArea] = (),
    copy_of: Agreement | None = None,
) -> Agreement:
    """A new draft from the clause library (or as a copy of an earlier agreement);
    `activity_areas` pre-fill the activities (e.g. from a meeting answer)."""
    municipality = db.session.get(Municipality, organization.municipality_id)
    if copy_of is not None:
        if copy_of.municipality_id != organization.municipality_id:
            raise ValueError("copy across municipalities")
        language = copy_of.language
        data = _copied_sections(copy_of, organization)
        status = Status.IN_PROGRESS  # copied text must be read again before it counts as done
    else:
        data = default_sections(organization, user, language, activity_areas)
        status = Status.NOT_STARTED
    agreement = Agreement(
        municipality_id=organization.municipality_id,
        organization=organization,
        title=title or f"Samarbeidsavtale mellom {municipality.name} og {organization.name}",
        language=language,
        owner_id=user.id,
    )
    agreement.sections = [
        AgreementSection(municipality_id=organization.municipality_id, key=key, data=data[key], status=status)
        for key in SECTION_KEYS
    ]
    _add_numbered(agreement)
    details = {"copy_of": copy_of.number} if copy_of is not None else {}
    audit.record(agreement.municipality_id, actor, "create", "agreement", agreement.id, to_state="draft", details=details)
    return agreement


def history(agreement: Agreement) -> list[AuditEvent]:
    """Everything that happened to the agreement, oldest first: its page's history and
    the signed PDF's audit trail."""
    return db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.municipality_id == agreement.municipality_id,
            AuditEvent.object_type == "agreement",
            AuditEvent.object_id == agreement.id,
        )
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()


def missing_sections(agreement: Agreement) -> list[str]:
    """Required sections not yet marked complete, in document order."""
    statuses = {section.key: section.status for section in agreement.sections}
    return [key for key in REQUIRED_SECTIONS if statuses.get(key) != Status.COMPLETED]


def save_details(agreement: Agreement, title: str, language: str, actor: Actor) -> None:
    """Title and document language. Sections nobody has touched yet follow the
    language (their default wording is swapped); written text is never replaced."""
    if agreement.state != "draft":
        raise IllegalTransition(agreement.state, "edit")
    if language != agreement.language:
        texts = clauses.library(agreement.municipality_id)
        for section in agreement.sections:
            if section.status == Status.NOT_STARTED:
                section.data = {**normalize(section.key, section.data), "text": texts.get((section.key, language), "")}
    agreement.title = title
    agreement.language = language
    audit.record(agreement.municipality_id, actor, "edit", "agreement", agreement.id, details={"details": True})


def save_section(
    agreement: Agreement,
    key: str,
    data: dict,
    *,
    revision: int | None,
    complete: bool,
    explicit: bool,
    user: User,
    actor: Actor,
) -> AgreementSection:
    """Save one section of a draft.

    `revision` is the one the page was loaded from: if someone else saved since, and
    the text differs, SectionConflict (nothing is overwritten); the user's own newer
    save (an autosave still in flight) is simply superseded. The same text twice (a
    double submit) is simply saved once. An explicit save ("Save and continue")
    sets the status from `complete` and is audited; an autosave only moves a
    section from not started to in progress, or out of completed when `complete`
    (still complete) is False.
    """
    if agreement.state != "draft":
        raise IllegalTransition(agreement.state, "edit")
    section = agreement.section(key)
    data = normalize(key, data)
    if explicit:
        status = Status.COMPLETED if complete else Status.IN_PROGRESS
    elif section.status == Status.COMPLETED and complete:
        status = Status.COMPLETED
    else:
        status = Status.IN_PROGRESS
    expected = section.revision if revision is None else revision
    if normalize(key, section.data) == data and section.status == status:
        return section  # nothing changed: a double submit, or an autosave with no edit
    result = db.session.execute(
        update(AgreementSection)
        .where(AgreementSection.id == section.id, AgreementSection.revision == expected)
        .values(data=data, status=status, revision=expected + 1, updated_at=now_utc(), updated_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(section)
    if result.rowcount != 1:
        if section.updated_by_id == user.id:
            # The newer save is this user's own, typically the page's autosave still on its
            # way when the button was pressed: what they send now is the latest, no conflict.
            return save_section(
                agreement, key, data, revision=section.revision, complete=complete,
                explicit=explicit, user=user, actor=actor,
            )
        if normalize(key, section.data) == data:
            if explicit and section.status != status:
                # The same text was saved meanwhile, typically by this page's own autosave
                # still on its way: "Save and continue" still decides the status.
                return save_section(
                    agreement, key, data, revision=section.revision, complete=complete,
                    explicit=explicit, user=user, actor=actor,
                )
            return section  # the other save wrote exactly this
        raise SectionConflict(section)
    if explicit:
        audit.record(
            agreement.municipality_id, actor, "edit", "agreement", agreement.id,
            details={"section": key, "status": status},
        )
    return section


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


def document_content(agreement: Agreement, overrides: dict[str, dict] | None = None) -> dict:
    """What the document shows: the draft's sections (with `overrides`, e.g. the
    text being typed, for the live preview) and both parties from the registry."""
    sections = {section.key: normalize(section.key, section.data) for section in agreement.sections}
    for key, data in (overrides or {}).items():
        sections[key] = normalize(key, data)
    return {
        "title": agreement.title,
        "number": agreement.number,
        "language": agreement.language,
        "parties": _parties(agreement),
        "sections": sections,
    }


def _unique(addresses) -> list[str]:
    """The addresses in order, each once (an address is the same whatever its case)."""
    seen, unique = set(), []
    for address in addresses:
        address = (address or "").strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def send(agreement: Agreement, actor: Actor, recipients: list[str] | None = None) -> AgreementVersion:
    """Freeze the draft as a new version and email each recipient a review link of their
    own. `recipients`: the addresses chosen among the organisation's contacts; None
    sends to the organisation's usual address (`notify_email`)."""
    missing = missing_sections(agreement)
    if missing:
        raise Incomplete(missing)
    addresses = _unique([agreement.organization.notify_email] if recipients is None else recipients)
    if not addresses:
        raise CannotSend()
    content = document_content(agreement)
    html = render_document_html(content)
    version = AgreementVersion(
        municipality_id=agreement.municipality_id,
        agreement=agreement,
        number=len(agreement.versions) + 1,
        content=content,
        html=html,
        sha256=sha256_hex(html),
    )
    db.session.add(version)
    db.session.flush()
    # The messages first, so the timeline's "send" event can name them (queued, then delivered).
    messages = _email_review_links(agreement, version, addresses, "agreement_sent", revoke=True)
    apply_action(
        agreement, "send", actor,
        details={"version": version.number, "sha256": version.sha256, **_sent_to(messages)},
    )
    return version


def _sent_to(messages) -> dict:
    """What a send, resend or reminder event records: every address and its message.
    Events written before several recipients existed hold one of each, not lists."""
    return {"to": [message.to_addr for message in messages], "outbox": [message.id for message in messages]}


def _email_review_links(
    agreement: Agreement, version: AgreementVersion, addresses: list[str], template: str, revoke: bool
) -> list:
    """Email each address a fresh review link of its own. `revoke`: older links stop
    working (a new version, or a resend); a reminder leaves them working, so a tab left
    open still answers."""
    if revoke:
        tokens.revoke_all(tokens.Purpose.REVIEW_AGREEMENT, agreement.id)
    return [_email_review_link(agreement, version, address, template) for address in addresses]


def _email_review_link(agreement: Agreement, version: AgreementVersion, address: str, template: str):
    days = current_app.config["AGREEMENT_LINK_DAYS"]
    token = tokens.issue(
        agreement.municipality_id,
        tokens.Purpose.REVIEW_AGREEMENT,
        agreement.id,
        expires_at=now_utc() + timedelta(days=days),
        recipient=address,
    )
    subject = (
        _l("Påminnelse: samarbeidsavtale til gjennomsyn: %(title)s", title=agreement.title)
        if template == "agreement_reminder"
        else _l("Samarbeidsavtale til gjennomsyn: %(title)s", title=agreement.title)
    )
    message = mail.queue(
        agreement.municipality_id,
        address,
        subject,
        template,
        agreement=agreement,
        version=version,
        link=url_for("respond.agreement", token=token, _external=True),
        days=days,
    )
    db.session.flush()  # its id goes into the audit event, for the timeline
    return message


def _review_links(agreement: Agreement):
    return select(LinkToken).where(
        LinkToken.municipality_id == agreement.municipality_id,
        LinkToken.purpose == tokens.Purpose.REVIEW_AGREEMENT.value,
        LinkToken.object_id == agreement.id,
    )


def _recipients_of(links, organization: Organization) -> list[str]:
    """Where the links went; a link from before recipients were recorded went to the
    organisation's usual address."""
    return _unique(link.recipient or organization.notify_email for link in links)


def current_recipients(agreement: Agreement) -> list[str]:
    """Who holds a review link that still counts (not revoked): where a resend goes."""
    links = db.session.scalars(_review_links(agreement).where(LinkToken.revoked_at.is_(None)).order_by(LinkToken.id))
    return _recipients_of(links, agreement.organization)


def resend(agreement: Agreement, actor: Actor) -> list[str]:
    """The same version again, with a new link to each recipient of the current links;
    the old links stop working (e.g. one was lost, or has expired). Returns the addresses."""
    if agreement.state != "sent":
        raise IllegalTransition(agreement.state, "resend")
    addresses = current_recipients(agreement) or _unique([agreement.organization.notify_email])
    if not addresses:
        raise CannotSend()
    messages = _email_review_links(agreement, agreement.latest_version, addresses, "agreement_sent", revoke=True)
    audit.record(agreement.municipality_id, actor, "resend", "agreement", agreement.id, details=_sent_to(messages))
    return addresses


def send_due_reminders(actor: Actor) -> int:
    """Remind organisations that have not answered, AGREEMENT_REMINDER_DAYS after the
    newest send or resend (default after 7 and 14 days); each reminder once, to every
    recipient whose link still works (unused, unexpired, not revoked), with a fresh link.
    For cron, through `flask reminders`. Returns the number of reminders queued (one
    per agreement and step, however many recipients it has)."""
    schedule = sorted(current_app.config["AGREEMENT_REMINDER_DAYS"])
    now = now_utc()
    waiting = db.session.scalars(
        select(Agreement)
        .where(Agreement.state == "sent")
        .options(selectinload(Agreement.organization).selectinload(Organization.contacts))
        .order_by(Agreement.id)
    ).all()
    if not waiting:
        return 0
    # One query each for the events and the links of all waiting agreements, not one per
    # agreement: this runs over every municipality.
    events: dict[int, list] = {}
    for object_id, action, at in db.session.execute(
        select(AuditEvent.object_id, AuditEvent.action, AuditEvent.created_at)
        .join(Agreement, (Agreement.id == AuditEvent.object_id) & (Agreement.municipality_id == AuditEvent.municipality_id))
        .where(
            Agreement.state == "sent",
            AuditEvent.object_type == "agreement",
            AuditEvent.action.in_(("send", "resend", "remind")),
        )
    ):
        events.setdefault(object_id, []).append((action, at))
    live: dict[int, list[LinkToken]] = {}
    for link in db.session.scalars(
        select(LinkToken)
        .join(Agreement, (Agreement.id == LinkToken.object_id) & (Agreement.municipality_id == LinkToken.municipality_id))
        .where(
            Agreement.state == "sent",
            LinkToken.purpose == tokens.Purpose.REVIEW_AGREEMENT.value,
            LinkToken.revoked_at.is_(None),
            LinkToken.used_at.is_(None),
            LinkToken.expires_at > now,
        )
        .order_by(LinkToken.id)
    ):
        live.setdefault(link.object_id, []).append(link)
    queued = 0
    for agreement in waiting:
        happened = events.get(agreement.id, [])
        sent_at = max((at for action, at in happened if action in ("send", "resend")), default=None)
        if sent_at is None:
            continue
        reminded = sum(1 for action, at in happened if action == "remind" and at >= sent_at)
        due = [days for days in schedule if now >= sent_at + timedelta(days=days)]
        addresses = _recipients_of(live.get(agreement.id, ()), agreement.organization)
        if len(due) <= reminded or not addresses:
            continue
        messages = _email_review_links(
            agreement, agreement.latest_version, addresses, "agreement_reminder", revoke=False
        )
        audit.record(
            agreement.municipality_id, actor, "remind", "agreement", agreement.id,
            details={**_sent_to(messages), "days": due[-1]},
        )
        queued += 1
    return queued


def link_opened(link, actor: Actor) -> None:
    """The first time a review link is opened: noted on the link and in the timeline."""
    if link.opened_at is not None:
        return
    link.opened_at = now_utc()
    details = {"link": link.id}
    if link.recipient:
        details["recipient"] = link.recipient  # with several recipients, the timeline says whose
    audit.record(link.municipality_id, actor, "opened", "agreement", link.object_id, details=details)


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


def accept(
    agreement: Agreement, link, name: str, role: str, actor: Actor, typed_signature: bool = False
) -> Signature:
    """The organisation accepts the latest version: a simple electronic signature.
    `typed_signature` says the signer typed their name again as the signature (the
    review page requires it); the audit trail records it as evidence of intent."""
    version = agreement.latest_version
    details = {"sha256": version.sha256}
    if typed_signature:
        details["typed_signature"] = True
    apply_action(agreement, "accept", actor, details=details, also={"accepted_version_id": version.id})
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


def countersign(
    agreement: Agreement, user: User, role: str, actor: Actor, expected_sha256: str | None = None
) -> SignedDocument:
    """The municipality signs the version the organisation accepted; the PDF is
    rendered once, sealed with the municipality's certificate, stored, and sent to
    both parties. Any failure (seal.SealError when the certificate cannot be used)
    rolls the whole step back, leaving the agreement accepted and the step retryable.

    `expected_sha256` is the fingerprint the signer was shown: signing another
    version than the accepted one is refused (VersionMismatch)."""
    version = agreement.accepted_version
    if version is None:
        raise IllegalTransition(agreement.state, "countersign")
    if expected_sha256 is not None and expected_sha256 != version.sha256:
        raise VersionMismatch()
    certificate = seal.certificate_for(agreement.municipality_id)
    # The certificate is named in the audit trail: verifying later trusts exactly this one.
    apply_action(
        agreement, "countersign", actor,
        details={
            "sha256": version.sha256,
            "seal_certificate": certificate.fingerprint,
            "seal_self_signed": certificate.self_signed,
        },
    )
    agreement.valid_from, agreement.valid_to = _period(version)
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
    events = history(agreement)
    recipients = version_recipients(agreement, version)
    pdf = seal.seal(render_signed_pdf(agreement, version, events, recipients=recipients), agreement.municipality_id)
    document = SignedDocument(
        municipality_id=agreement.municipality_id,
        agreement=agreement,
        pdf=pdf,
        sha256=sha256_hex(pdf),
    )
    db.session.add(document)
    db.session.flush()
    attachment = (f"samarbeidsavtale-{agreement.number}.pdf", "application/pdf", pdf)
    context = {
        "agreement": agreement,
        "document": document,
        "verify_link": url_for("verify.index", _external=True),
    }
    subject = _l("Avtalen er signert: %(title)s", title=agreement.title)
    for address in recipients:
        mail.queue(agreement.municipality_id, address, subject, "agreement_signed", attachments=(attachment,), **context)
    owner = agreement.owner
    if owner is not None and owner.email.lower() not in {address.lower() for address in recipients}:
        mail.queue(
            agreement.municipality_id, owner.email, subject, "agreement_signed",
            locale=owner.locale, attachments=(attachment,), **context,
        )
    return document


def version_recipients(agreement: Agreement, version: AgreementVersion) -> list[str]:
    """Who was sent `version` for review: the recipients of the links issued since it was
    sent (whatever became of those links), else the organisation's usual address."""
    links = db.session.scalars(
        _review_links(agreement).where(LinkToken.created_at >= version.created_at).order_by(LinkToken.id)
    )
    return _recipients_of(links, agreement.organization) or _unique([agreement.organization.notify_email])


def withdraw(agreement: Agreement, actor: Actor) -> None:
    apply_action(agreement, "withdraw", actor)
    tokens.revoke_all(tokens.Purpose.REVIEW_AGREEMENT, agreement.id)


def revise(agreement: Agreement, actor: Actor) -> None:
    """Back to draft after a decline or a request for changes; the text is kept."""
    apply_action(agreement, "revise", actor)


# --- After signing: the period, expiry, termination and renewal ---------------------------

#: Longest termination reason, as the form says.
REASON_MAX = 2000


class CannotRenew(Exception):
    """Only a signed or terminated agreement is renewed (the organisation must still exist)."""


class BadEndDate(ValueError):
    """A termination date outside the agreement's period."""


def _iso_date(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _duration(version: AgreementVersion | None) -> dict:
    if version is None:
        return {}
    return (version.content or {}).get("sections", {}).get("duration") or {}


def _period(version: AgreementVersion) -> tuple[date | None, date | None]:
    """(valid from, valid to) as the version's duration section states them; valid to is
    None for an agreement that runs until one party terminates it."""
    duration = _duration(version)
    return _iso_date(duration.get("start")), _iso_date(duration.get("end"))


def notice_months(agreement: Agreement) -> int | None:
    """The notice period the signed version states, in months (None if it states none)."""
    value = str(_duration(agreement.accepted_version).get("notice_months") or "").strip()
    return int(value) if value.isdigit() else None


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it is shorter (31.01 + 1 -> 28.02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiring(municipality_id: int, days: int, today: date | None = None) -> list[Agreement]:
    """Signed agreements of the municipality whose last day is within `days` from today
    (today included), the soonest first."""
    today = today or today_oslo()
    return list(
        db.session.scalars(
            select(Agreement)
            .where(
                Agreement.municipality_id == municipality_id,
                Agreement.state == "signed",
                Agreement.valid_to.is_not(None),
                Agreement.valid_to >= today,
                Agreement.valid_to <= today + timedelta(days=days),
            )
            .order_by(Agreement.valid_to, Agreement.number)
        )
    )


def send_expiry_notices(actor: Actor) -> int:
    """Email each signed agreement's owner once, AGREEMENT_EXPIRY_NOTICE_DAYS before its
    last day (for cron, through `flask expiry-notices`). Returns the number of notices."""
    days = current_app.config["AGREEMENT_EXPIRY_NOTICE_DAYS"]
    today = today_oslo()
    due = db.session.scalars(
        select(Agreement)
        .where(
            Agreement.state == "signed",
            Agreement.expiry_notice_sent_at.is_(None),
            Agreement.valid_to.is_not(None),
            Agreement.valid_to >= today,
            Agreement.valid_to <= today + timedelta(days=days),
        )
        .order_by(Agreement.id)
    ).all()
    sent = 0
    for agreement in due:
        owner = agreement.owner
        if owner is None or not owner.active:
            continue
        _notify_owner(
            agreement, "agreement_expiring",
            _l("Avtalen utløper snart: %(title)s", title=agreement.title),
            days_left=(agreement.valid_to - today).days,
        )
        agreement.expiry_notice_sent_at = now_utc()
        audit.record(
            agreement.municipality_id, actor, "expiry_notice", "agreement", agreement.id,
            details={"to": owner.email, "valid_to": agreement.valid_to.isoformat()},
        )
        sent += 1
    return sent


def terminate(agreement: Agreement, ends_on: date, reason: str, actor: Actor) -> None:
    """End a signed agreement early: its last day becomes `ends_on`; both parties are told.
    The date must lie within the agreement's period (BadEndDate otherwise)."""
    if agreement.state != "signed":
        raise IllegalTransition(agreement.state, "terminate")
    if agreement.valid_from is not None and ends_on < agreement.valid_from:
        raise BadEndDate("before valid_from")
    if agreement.valid_to is not None and ends_on > agreement.valid_to:
        raise BadEndDate("after valid_to")
    apply_action(
        agreement, "terminate", actor,
        details={"ends_on": ends_on.isoformat(), "reason": reason},
        also={"valid_to": ends_on},
    )
    subject = _l("Avtalen er sagt opp: %(title)s", title=agreement.title)
    address = agreement.organization.notify_email
    if address:
        mail.queue(
            agreement.municipality_id, address, subject, "agreement_terminated",
            agreement=agreement, ends_on=ends_on, reason=reason, link=None,
        )
    owner = agreement.owner
    if owner is not None and owner.email.lower() != (address or "").lower():
        _notify_owner(agreement, "agreement_terminated", subject, ends_on=ends_on, reason=reason)


def renew(agreement: Agreement, user: User, actor: Actor) -> Agreement:
    """A new draft for the same organisation, copied from the signed (or terminated)
    agreement; the old one is left as it is."""
    if agreement.state not in ("signed", "terminated"):
        raise IllegalTransition(agreement.state, "renew")
    if agreement.organization.deleted_at is not None:
        raise CannotRenew()
    draft = create_draft(agreement.organization, user, actor, title=agreement.title, copy_of=agreement)
    audit.record(
        agreement.municipality_id, actor, "renew", "agreement", agreement.id,
        details={"new_number": draft.number, "new_id": draft.id},
    )
    return draft
