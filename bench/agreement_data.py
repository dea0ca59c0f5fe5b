"""A complete agreement for the benchmarks: every one of the fifteen sections written."""

from __future__ import annotations

from collections.abc import Callable

from dugnad import agreements
from dugnad.sections import SECTIONS

#: The structured fields of the sections that have them, as a real agreement fills them.
FILLED = {
    "parties": {
        "municipality_signatory": "Ola Nordmann", "municipality_signatory_title": "Kommunedirektør",
        "organization_signatory": "Kari Nordmann", "organization_signatory_role": "Styreleder", "place": "Fjordvik",
    },
    "activities": {"rows": [
        {"area_id": "", "area": "Leksehjelp", "what": f"Leksehjelp {n}", "where": "Biblioteket",
         "how_often": "Hver tirsdag kl. 17–19", "leader": "Kari Nordmann"}
        for n in range(1, 7)
    ]},
    "contacts": {
        "municipality_name": "Siri Saksbehandler", "municipality_email": "siri@fjordvik.example.no",
        "organization_name": "Kari Nordmann", "organization_email": "kari@example.no",
    },
    "economy": {"grant": "12500.50", "payment_schedule": "Innen 1. mars.", "reporting": "Innen 1. februar året etter."},
    "duration": {"start": "2027-01-01", "end": "2027-12-31", "notice_months": "3"},
}
PARAGRAPH = (
    "Organisasjonen stiller med frivillige som møter nye innbyggere jevnlig, og kommunen "
    "bidrar med informasjon, lokaler og en fast kontaktperson. "
) * 6


def write_all_sections(
    agreement, user, actor, text_for: Callable[[str], str] = lambda key: PARAGRAPH, filled: dict = FILLED
) -> None:
    """Save every section as complete, with its text and structured fields."""
    for section in SECTIONS:
        data = {**section.empty(), "text": text_for(section.key)}
        data.update(filled.get(section.key, {}))
        agreements.save_section(
            agreement, section.key, data, revision=None, complete=True, explicit=True, user=user, actor=actor
        )
