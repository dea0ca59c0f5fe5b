"""The agreement as a document: the frozen HTML of a version and the signed PDF."""

from __future__ import annotations

import hashlib

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from .models import Agreement, AgreementVersion, AuditEvent
from .pdf import json_attachment, render_pdf


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def render_document_html(content: dict) -> str:
    """The document as the organisation reads it and both parties sign it; also the
    live preview. Written in the agreement's language, whatever the sender's interface is."""
    with force_locale(content.get("language", "nb")):
        return render_template("agreements/_document.html", content=content)


#: The name of the agreement's content as JSON inside the signed PDF.
CONTENT_ATTACHMENT = "avtale.json"


def render_signed_pdf(
    agreement: Agreement, version: AgreementVersion, events: list[AuditEvent], recipients: list[str] = ()
) -> bytes:
    """The signed agreement, rendered once: the version as accepted, the signature page,
    the audit trail, and the version's content attached as JSON. PDF/A-3a: archivable,
    tagged for screen readers, and allowed to carry the attachment. Not yet sealed."""
    with force_locale(version.content.get("language", "nb")):
        html = render_template(
            "pdf/signed_agreement.html",
            agreement=agreement,
            version=version,
            signatures=agreement.signatures,
            events=events,
            recipients=recipients,
        )
        attachment = json_attachment(
            version.content, CONTENT_ATTACHMENT, _("Avtalens innhold, maskinlesbart (versjon %(n)d)", n=version.number)
        )
    return render_pdf(html, variant="pdf/a-3a", attachments=[attachment])
