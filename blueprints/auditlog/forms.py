from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import Form, SelectField, StringField, ValidationError

from dugnad.access import MAX_ID
from dugnad.audit import NO_USER, AuditFilter
from dugnad.models import User

from ..agreements.forms import _parse_date
from ..formtools import StrippedMeta

#: The kinds of object events are about, as the filter offers them.
OBJECT_LABELS = {
    "agreement": _l("Avtale"),
    "organization": _l("Organisasjon"),
    "contact": _l("Kontaktperson"),
    "meeting": _l("Møte"),
    "invitation": _l("Invitasjon til møte"),
    "evaluation": _l("Evaluering"),
    "registry_import": _l("Import fra fil"),
    "activity_area": _l("Aktivitetsområde"),
    "clause": _l("Standardtekst"),
    "user": _l("Bruker"),
    "seal_certificate": _l("Segl-sertifikat"),
    "municipality": _l("Kommunen"),
}

#: Dates outside these years are typing errors (and beyond them a date has no UTC time).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class AuditFilterForm(Form):
    """The audit log's filters, read from the query string (a GET form: the URL is the view,
    works without JavaScript and can be bookmarked)."""

    class Meta(StrippedMeta):
        pass

    type = SelectField(_l("Type objekt"), choices=[], validate_choice=False)
    id = StringField(
        _l("Nummer (id)"),
        description=_l("Valgfritt. Nummeret i adressen til objektet, for eksempel 12 i /agreements/12."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    user = SelectField(_l("Bruker"), choices=[], validate_choice=False)
    from_date = StringField(_l("Fra og med dato"), description=_l("For eksempel 01.12.2026."), render_kw={"autocomplete": "off"})
    to_date = StringField(_l("Til og med dato"), description=_l("For eksempel 31.12.2026."), render_kw={"autocomplete": "off"})

    def __init__(self, formdata, users: list[User]):
        super().__init__(formdata)
        self.type.choices = [("", _l("Alle typer"))] + [(key, label) for key, label in OBJECT_LABELS.items()]
        self.user.choices = (
            [("", _l("Alle")), (NO_USER, _l("Organisasjonen eller systemet (ingen bruker)"))]
            + [(str(user.id), user.name) for user in users]
        )
        self.parsed: dict[str, date | None] = {"from_date": None, "to_date": None}

    def validate_type(self, field):
        if (field.data or "") not in {value for value, _label in self.type.choices}:
            raise ValidationError(_l("Velg en type fra listen."))

    def validate_id(self, field):
        value = field.data or ""
        if not value:
            return
        # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
        if not re.fullmatch(r"[0-9]{1,10}", value) or not 0 < int(value) <= MAX_ID:
            raise ValidationError(_l("Skriv nummeret med sifre, for eksempel 12."))
        if not self.type.data:
            raise ValidationError(_l("Velg hvilken type objekt nummeret gjelder."))

    def validate_user(self, field):
        if (field.data or "") not in {value for value, _label in self.user.choices}:
            raise ValidationError(_l("Velg en bruker fra listen."))

    def _date(self, field) -> date | None:
        if not field.data:
            return None
        parsed = _parse_date(field)
        if parsed is None:
            raise ValidationError(_l("Skriv en gyldig dato, for eksempel 01.12.2026."))
        if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            raise ValidationError(_l("Skriv en dato fra år %(first)d til %(last)d.", first=FIRST_YEAR, last=LAST_YEAR))
        self.parsed[field.name] = parsed
        return parsed

    def validate_from_date(self, field):
        self._date(field)

    def validate_to_date(self, field):
        end = self._date(field)
        start = self.parsed["from_date"]
        if end is not None and start is not None and end < start:
            raise ValidationError(_l("Til-datoen kan ikke være før fra-datoen."))

    def audit_filter(self) -> AuditFilter:
        """The filter the form describes (call after validate())."""
        return AuditFilter(
            object_type=self.type.data or "",
            object_id=int(self.id.data) if self.id.data else None,
            user=self.user.data or "",
            from_date=self.parsed["from_date"],
            to_date=self.parsed["to_date"],
        )

    def query_args(self) -> dict:
        """The filter as a short query string: empty values left out."""
        args = {
            "type": self.type.data or "",
            "id": self.id.data or "",
            "user": self.user.data or "",
            "from_date": self.from_date.data or "",
            "to_date": self.to_date.data or "",
        }
        return {key: value for key, value in args.items() if value}
