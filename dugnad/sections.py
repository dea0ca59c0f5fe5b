"""The sections of a samarbeidsavtale, in document order.

Titles are bokmål msgids; the document itself is rendered in the agreement's
language, the interface in the user's.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Section:
    key: str
    title: object  # a lazy string
    guidance: object
    max_length: int = 5000


SECTIONS: tuple[Section, ...] = (
    Section("purpose", _l("Bakgrunn og formål"), _l("Hvorfor samarbeider dere, og hva vil dere oppnå?")),
    Section("activities", _l("Aktiviteter"), _l("Hva skal gjøres, hvor og hvor ofte, og hvem leder det?")),
    Section(
        "municipality_responsibilities",
        _l("Kommunens ansvar"),
        _l("Hva kommunen bidrar med: informasjon, lokaler, kontaktperson, tilskudd."),
    ),
    Section(
        "organization_responsibilities",
        _l("Organisasjonens ansvar"),
        _l("Hva organisasjonen bidrar med: frivillige, aktiviteter, politiattest der det trengs."),
    ),
    Section(
        "contacts",
        _l("Kontaktpersoner"),
        _l("Faste kontaktpersoner hos begge parter, med e-post og telefon."),
        max_length=2000,
    ),
    Section(
        "economy",
        _l("Økonomi"),
        _l("Tilskudd i kroner, når det utbetales og hvordan det rapporteres."),
        max_length=2000,
    ),
)

SECTION_KEYS = tuple(section.key for section in SECTIONS)
