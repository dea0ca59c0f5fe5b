"""Template helpers: time in Europe/Oslo, amounts, languages, htmx caching."""

from __future__ import annotations

import re
from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from .money import format_nok
from .sections import DOCUMENT_LANGUAGES, SECTIONS, Status, is_blank
from .timeutil import format_oslo, to_oslo

STATE_LABELS = {
    "draft": _l("Utkast"),
    "sent": _l("Sendt til organisasjonen"),
    "accepted": _l("Godtatt, venter på kommunens signatur"),
    "declined": _l("Avslått"),
    "changes_requested": _l("Endringer ønsket"),
    "signed": _l("Signert"),
    "withdrawn": _l("Trukket tilbake"),
    "terminated": _l("Avsluttet (sagt opp)"),
}

#: The task list's statuses (dugnad.sections.Status) with their tag colour.
SECTION_STATUS_LABELS = {
    Status.NOT_STARTED: (_l("Ikke startet"), "neutral"),
    Status.IN_PROGRESS: (_l("Påbegynt"), "info"),
    Status.COMPLETED: (_l("Ferdig"), "success"),
}

ANSWER_LABELS = {
    "pending": _l("Ikke svart"),
    "attending": _l("Kommer"),
    "not_attending": _l("Kommer ikke"),
}

ACTION_LABELS = {
    "create": _l("Opprettet"),
    "edit": _l("Utkast lagret"),
    "edit_clause": _l("Standardtekst endret"),
    "reset_clause": _l("Standardtekst tilbakestilt"),
    "send": _l("Sendt til organisasjonen"),
    "accept": _l("Godtatt av organisasjonen"),
    "decline": _l("Avslått av organisasjonen"),
    "request_changes": _l("Organisasjonen ba om endringer"),
    "countersign": _l("Signert av kommunen"),
    "withdraw": _l("Trukket tilbake"),
    "revise": _l("Ny versjon påbegynt"),
    "terminate": _l("Sagt opp"),
    "renew": _l("Fornyet som nytt utkast"),
    "expiry_notice": _l("Varsel om utløp sendt til eieren"),
    "resend": _l("Sendt på nytt med ny lenke"),
    "remind": _l("Påminnelse sendt"),
    "opened": _l("Lenken åpnet første gang"),
    "code_sent": _l("Engangskode sendt"),
    "code_verified": _l("Engangskode godtatt"),
    "code_void": _l("Engangskode sperret etter for mange feil forsøk"),
    "case_reference": _l("Saksnummer endret"),
    "evaluation_sent": _l("Evaluering sendt"),
    "evaluation_remind": _l("Påminnelse om evaluering"),
    "evaluation_answered": _l("Evaluering besvart"),
    "evaluation_view": _l("Kommunens vurdering lagt til"),
    "evaluation_view_edit": _l("Kommunens vurdering endret"),
    "invite": _l("Invitert"),
    "answer": _l("Svar registrert"),
    "update": _l("Endret"),
    "import": _l("Importert fra fil"),
    "anonymise": _l("Kontaktperson anonymisert"),
    "cancel": _l("Avlyst"),
    "attendance": _l("Oppmøte registrert"),
    "delete": _l("Slettet"),
    "restore": _l("Gjenopprettet"),
    "rename": _l("Nytt navn"),
    "hide": _l("Skjult"),
    "show": _l("Vist igjen"),
    "move": _l("Flyttet"),
    "upload_seal": _l("Seglsertifikat lastet opp"),
    "review_code_setting": _l("Innstilling for engangskode endret"),
    "countersign_password_failed": _l("Feil passord ved signering"),
    "privacy_settings": _l("Innstillinger for personvern endret"),
    "user_invited": _l("Bruker invitert"),
    "invite_accepted": _l("Invitasjon tatt i bruk, passord laget"),
    "password_reset_requested": _l("Lenke for nytt passord sendt"),
    "password_reset": _l("Nytt passord laget med lenke"),
    "password_changed": _l("Passord byttet"),
    "login_locked": _l("Konto låst etter for mange feil passord"),
    "mail_retry": _l("E-post sendes på nytt"),
}

ORG_TYPE_LABELS = {
    "humanitarian": _l("Humanitær organisasjon"),
    "sports": _l("Idrett"),
    "culture": _l("Kultur"),
    "religion": _l("Tros- og livssynssamfunn"),
    "volunteer_centre": _l("Frivilligsentral"),
    "immigrant": _l("Innvandrerorganisasjon"),
    "other": _l("Annet"),
}

#: Where an organisation stands in the workflow (dugnad.registry.STAGES), with its tag colour.
STAGE_LABELS = {
    "not_invited": (_l("Ikke invitert"), "neutral"),
    "invited": (_l("Invitert"), "info"),
    "answered": (_l("Har svart"), "warning"),
    "met": (_l("Har vært på møte"), "warning"),
    "drafted": (_l("Avtale under arbeid"), "info"),
    "sent": (_l("Avtale sendt"), "info"),
    "signed": (_l("Avtale signert"), "success"),
    "active": (_l("Avtale i kraft"), "success"),
}

_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape plain text, then make its http(s) links clickable (for the Mailbox)."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def paragraphs(text: str) -> Markup:
    """Plain text as escaped paragraphs: blank lines part them, newlines break lines."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n"))]
    return Markup("".join(
        f"<p>{Markup('<br>').join(escape(line) for line in block.splitlines())}</p>"
        for block in blocks
        if block
    ))


def norwegian_date(iso: str) -> str:
    """'2026-01-31' -> '31.01.2026'."""
    return date.fromisoformat(iso).strftime("%d.%m.%Y") if iso else ""


def init_app(app, languages: dict[str, str]) -> None:
    app.jinja_env.filters["oslo"] = format_oslo
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["norwegian_date"] = norwegian_date
    app.jinja_env.filters["nok"] = format_nok
    app.jinja_env.globals["SECTIONS"] = SECTIONS
    app.jinja_env.globals["is_blank"] = is_blank
    app.jinja_env.globals["DOCUMENT_LANGUAGES"] = DOCUMENT_LANGUAGES
    app.jinja_env.filters["oslo_time"] = lambda moment: to_oslo(moment).strftime("%H:%M") if moment else ""
    app.jinja_env.globals["SECTION_STATUS_LABELS"] = SECTION_STATUS_LABELS

    @app.context_processor
    def inject_globals():
        from flask_babel import get_locale

        return {
            "LANGUAGES": languages,
            "current_locale": str(get_locale()),
            "STATE_LABELS": STATE_LABELS,
            "ANSWER_LABELS": ANSWER_LABELS,
            "ACTION_LABELS": ACTION_LABELS,
            "ORG_TYPE_LABELS": ORG_TYPE_LABELS,
            "STAGE_LABELS": STAGE_LABELS,
        }

    @app.after_request
    def vary_on_htmx(response):
        # The same URL answers with a fragment for htmx and a page otherwise.
        response.vary.add("HX-Request")
        return response


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"
