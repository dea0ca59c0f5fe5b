"""Import of organisations from register files: read, preview, then write in one go.

Three formats, recognised from the content (not the filename), each also gzipped:

- Enhetsregisteret's bulk JSON: an array of entity objects with nested
  `forretningsadresse`/`postadresse`, `organisasjonsform`, `naeringskode1`.
- Enhetsregisteret's bulk CSV: the same fields with dotted headers
  (`forretningsadresse.kommunenummer`), booleans as "true"/"false".
- A plain CSV with a header row (Norwegian or English names, `;` or `,`), e.g.
  an Excel sheet a coordinator keeps; rows may lack an organisation number.

The national files are large, so they are read as a stream: only the rows of the
municipality (by `kommunenummer` of the business address, else the postal address)
are kept, the others only counted, and what is stored for the preview is those
kept rows, normalised, as JSON (RegistryImport.data): small whatever the file.

Text must be UTF-8 (a BOM is fine). A CSV that is not valid UTF-8 is read as
Windows-1252, which is what Excel in Norway saves "CSV (semikolonseparert)" in;
JSON must be UTF-8 (RFC 8259).

Rules per kept row, in this order: deleted (`slettedato`), bankrupt (`konkurs`) and
being wound up (`underAvvikling`) are skipped; a missing name, an invalid
organisation number (MOD11) and a second row for the same number (or, without a
number, the same name) are rejected. Each with its reason, shown in the preview.

Matching against the registry happens at preview and again at import (it may have
changed in between): by organisation number; a row without a match is matched by
exact name (case-insensitive) to an organisation without a number. An empty cell
never erases what staff entered; the name changes only when it differs in more
than letter case (Enhetsregisteret writes names in capitals). The organisation
type is set only on new organisations, and only where the register makes it
obvious (see `guess_org_type`); staff can change it afterwards.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from stdnum.no import orgnr

from . import audit
from .extensions import db
from .lifecycle import Actor
from .models import Contact, Organization, OrganizationType, RegistryImport
from .timeutil import now_utc

ENHETSREGISTERET_JSON = "enhetsregisteret_json"
ENHETSREGISTERET_CSV = "enhetsregisteret_csv"
PLAIN_CSV = "plain_csv"

FORMAT_LABELS = {
    ENHETSREGISTERET_JSON: _l("Enhetsregisteret (JSON)"),
    ENHETSREGISTERET_CSV: _l("Enhetsregisteret (CSV)"),
    PLAIN_CSV: _l("CSV med overskriftsrad"),
}

#: Organization.name's length in the database.
NAME_MAX = 200

#: Why a row of the file is not imported.
REASON_LABELS = {
    "deleted": _l("Slettet i Enhetsregisteret"),
    "bankrupt": _l("Konkurs"),
    "winding_up": _l("Under avvikling"),
    "missing_name": _l("Mangler navn"),
    "name_too_long": _l("Navnet er lengre enn %(max)d tegn", max=NAME_MAX),
    "bad_number": _l("Ugyldig organisasjonsnummer"),
    "duplicate": _l("Dobbelt i filen"),
    "deleted_here": _l("Organisasjonen er slettet i Dugnad"),
}

#: The fields an import writes, in the order the preview shows changes.
FIELDS = ("name", "org_number", "address", "postal_code", "city", "email", "phone", "website", "contact_name")

FIELD_LABELS = {
    "name": _l("Navn"),
    "org_number": _l("Organisasjonsnummer"),
    "address": _l("Adresse"),
    "postal_code": _l("Postnummer"),
    "city": _l("Poststed"),
    "email": _l("E-post"),
    "phone": _l("Telefon"),
    "website": _l("Nettside"),
    "contact_name": _l("Kontaktperson"),
}

#: Column lengths of Organization (and Contact.name): longer values are left out.
MAX_LENGTHS = {"address": 200, "city": 100, "email": 254, "phone": 30, "website": 300, "contact_name": 120}

CHUNK = 64 * 1024


class ImportFileError(Exception):
    """The file cannot be read as any of the formats; the message says what to do."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class ImportAlreadyApplied(Exception):
    """The import was written before (a double click, or a second tab)."""


class ImportFailed(Exception):
    """The database refused the import (e.g. someone registered the same number meanwhile)."""


@dataclass
class ReadResult:
    """What a file holds for one municipality."""

    file_format: str
    #: Normalised rows to import, each with its line number in the file.
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Rows of the municipality that are skipped or rejected: line, name, org_number, reason.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: Rows that belong to other municipalities: counted, not kept.
    other_municipalities: int = 0
    #: Every entity row read.
    total: int = 0

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "rows": self.rows,
                "rejected": self.rejected,
                "other_municipalities": self.other_municipalities,
                "total": self.total,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, file_format: str, data: bytes) -> ReadResult:
        payload = json.loads(data)
        return cls(file_format=file_format, **payload)


# --- Reading a file ----------------------------------------------------------------


def read_file(stream: IO[bytes], kommunenummer: str) -> ReadResult:
    """Read an uploaded file (seekable binary stream) for the municipality `kommunenummer`.

    Raises ImportFileError when the file is not one of the formats.
    """
    head = _peek(stream, 8)
    if head.startswith(b"\x1f\x8b"):
        def open_text_bytes() -> IO[bytes]:
            stream.seek(0)
            return gzip.GzipFile(fileobj=stream, mode="rb")
    else:
        def open_text_bytes() -> IO[bytes]:
            stream.seek(0)
            return stream

    try:
        head = open_text_bytes().read(4096)
        _refuse_binary(head)
        if not head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise ImportFileError(_l("Filen er tom."))
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
            return _read_json(open_text_bytes, kommunenummer)
        try:
            return _read_csv(open_text_bytes, "utf-8-sig", kommunenummer)
        except UnicodeDecodeError:
            pass
        try:
            return _read_csv(open_text_bytes, "cp1252", kommunenummer)
        except UnicodeDecodeError:
            raise ImportFileError(
                _l("Filen har tegn som ikke kan leses. Lagre den som «CSV UTF-8» og prøv igjen.")
            ) from None
    except (OSError, EOFError, zlib.error):
        raise ImportFileError(_l("Den komprimerte filen (.gz) er ødelagt eller ufullstendig.")) from None
    except csv.Error:
        raise ImportFileError(_l("Filen kan ikke leses som CSV. Lagre den som CSV fra regnearket og prøv igjen.")) from None


def _peek(stream: IO[bytes], size: int) -> bytes:
    stream.seek(0)
    head = stream.read(size)
    stream.seek(0)
    return head


def _refuse_binary(head: bytes) -> None:
    if head.startswith(b"%PDF"):
        raise ImportFileError(_l("Filen er en PDF. Last opp en CSV- eller JSON-fil."))
    if head.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            _l("Filen ser ut som et Excel-ark eller en zip-fil. Lagre arket som CSV og last opp den.")
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        raise ImportFileError(
            _l("Filen er ikke en tekstfil i UTF-8. Last opp en CSV- eller JSON-fil, lagret som UTF-8.")
        )


# --- Enhetsregisteret JSON -------------------------------------------------------------


def iter_json_array(text: IO[str]) -> Iterator[Any]:
    """The elements of a top-level JSON array, read chunk by chunk.

    Memory holds one chunk and the element being read, never the whole file:
    the national bulk file is several gigabytes uncompressed.
    """
    decoder = json.JSONDecoder()
    buffer = text.read(CHUNK)
    position = 0
    eof = False

    def fill() -> bool:
        nonlocal buffer, position, eof
        if eof:
            return False
        more = text.read(CHUNK)
        if not more:
            eof = True
            return False
        buffer = buffer[position:] + more
        position = 0
        return True

    def skip_space() -> str:
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n\ufeff":
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not fill():
                return ""

    if skip_space() != "[":
        raise ImportFileError(_l("JSON-filen må være en liste med enheter, slik Enhetsregisterets totaluttrekk er."))
    position += 1
    if skip_space() == "]":
        return
    while True:
        skip_space()
        try:
            value, end = decoder.raw_decode(buffer, position)
        except json.JSONDecodeError:
            if fill():
                continue
            raise ImportFileError(_l("JSON-filen er ufullstendig eller har en feil.")) from None
        position = end
        yield value
        separator = skip_space()
        position += 1
        if separator == "]":
            return
        if separator != ",":
            raise ImportFileError(_l("JSON-filen er ufullstendig eller har en feil."))


def _read_json(open_bytes: Callable[[], IO[bytes]], kommunenummer: str) -> ReadResult:
    result = ReadResult(ENHETSREGISTERET_JSON)
    seen: set[str] = set()
    try:
        with _text_stream(open_bytes, "utf-8-sig") as text:
            _read_json_entities(text, kommunenummer, result, seen)
    except UnicodeDecodeError:
        raise ImportFileError(_l("JSON-filen er ikke UTF-8. Last ned filen fra Enhetsregisteret på nytt.")) from None
    return result


def _read_json_entities(text: IO[str], kommunenummer: str, result: ReadResult, seen: set[str]) -> None:
    for index, entity in enumerate(iter_json_array(text), start=1):
        if not isinstance(entity, dict):
            raise ImportFileError(_l("JSON-filen må være en liste med enheter, slik Enhetsregisterets totaluttrekk er."))
        result.total += 1
        address = _address(entity)
        if _text(address.get("kommunenummer")) != kommunenummer:
            result.other_municipalities += 1
            continue
        lines = address.get("adresse") or []
        naeringskode = entity.get("naeringskode1")
        record = {
            "line": index,
            "org_number": _text(entity.get("organisasjonsnummer")),
            "name": _text(entity.get("navn")),
            "address": ", ".join(_text(part) for part in lines if _text(part)) if isinstance(lines, list) else _text(lines),
            "postal_code": _text(address.get("postnummer")),
            "city": _text(address.get("poststed")),
            "email": _text(entity.get("epostadresse")),
            "phone": _text(entity.get("telefon")) or _text(entity.get("mobil")),
            "website": _text(entity.get("hjemmeside")),
            "deleted": bool(_text(entity.get("slettedato"))),
            "bankrupt": _truthy(entity.get("konkurs")),
            "winding_up": _truthy(entity.get("underAvvikling"))
            or _truthy(entity.get("underTvangsavviklingEllerTvangsopplosning")),
            "naeringskode": _text(naeringskode.get("kode")) if isinstance(naeringskode, dict) else "",
            "frivillig": _truthy(entity.get("registrertIFrivillighetsregisteret")),
        }
        _keep(result, record, seen, require_number=True)


def _address(entity: dict) -> dict:
    """The business address if it names a municipality, else the postal address."""
    for key in ("forretningsadresse", "postadresse"):
        address = entity.get(key)
        if isinstance(address, dict) and address.get("kommunenummer"):
            return address
    return {}


# --- CSV (Enhetsregisteret's and plain) ------------------------------------------------

#: Plain CSV headers (lower case, without spaces, dots, dashes and underscores) -> field.
PLAIN_HEADERS = {
    "navn": "name", "name": "name", "organisasjon": "name", "organisasjonsnavn": "name",
    "organisasjonsnummer": "org_number", "orgnr": "org_number", "orgnummer": "org_number",
    "orgnumber": "org_number", "organisationnumber": "org_number", "organizationnumber": "org_number",
    "adresse": "address", "address": "address", "gateadresse": "address", "besoksadresse": "address",
    "postnummer": "postal_code", "postnr": "postal_code", "postalcode": "postal_code", "postcode": "postal_code",
    "poststed": "city", "sted": "city", "city": "city",
    "epost": "email", "email": "email", "epostadresse": "email", "mail": "email",
    "telefon": "phone", "tlf": "phone", "phone": "phone", "telephone": "phone", "mobil": "phone",
    "nettside": "website", "hjemmeside": "website", "website": "website", "nettsted": "website", "url": "website",
    "kontaktperson": "contact_name", "contactname": "contact_name", "contact": "contact_name", "kontakt": "contact_name",
    "kommunenummer": "kommunenummer", "kommunenr": "kommunenummer",
}


def _header_key(header: str) -> str:
    return re.sub(r"[\s._\-]", "", header.strip().strip('"').lower())


@contextmanager
def _text_stream(open_bytes: Callable[[], IO[bytes]], encoding: str) -> Iterator[IO[str]]:
    """The bytes decoded as text; detached afterwards, so the upload stays open for another try."""
    text = io.TextIOWrapper(open_bytes(), encoding=encoding, newline="")
    try:
        yield text
    finally:
        text.detach()


def _read_csv(open_bytes: Callable[[], IO[bytes]], encoding: str, kommunenummer: str) -> ReadResult:
    with _text_stream(open_bytes, encoding) as text:
        return _read_csv_text(text, kommunenummer)


def _read_csv_text(text: IO[str], kommunenummer: str) -> ReadResult:
    first_line = text.readline()
    delimiter = max((";", ",", "\t"), key=first_line.count)
    header = next(csv.reader([first_line], delimiter=delimiter), [])
    keys = [h.strip().strip("\ufeff").lower() for h in header]
    reader = csv.reader(text, delimiter=delimiter)
    if "organisasjonsnummer" in keys and "navn" in keys and any(k.startswith("forretningsadresse.") for k in keys):
        return _read_enhetsregisteret_csv(reader, keys, kommunenummer)
    columns = {}
    for index, key in enumerate(keys):
        name = PLAIN_HEADERS.get(_header_key(key))
        if name and name not in columns:
            columns[name] = index
    if "name" not in columns:
        raise ImportFileError(
            _l("Fant ingen kolonne for navn. Første rad må ha overskrifter, for eksempel «navn;organisasjonsnummer;e-post».")
        )
    return _read_plain_csv(reader, columns, kommunenummer)


def _read_enhetsregisteret_csv(reader, keys: list[str], kommunenummer: str) -> ReadResult:
    result = ReadResult(ENHETSREGISTERET_CSV)
    index = {key: i for i, key in reversed(list(enumerate(keys)))}
    width = len(keys)

    def column(name: str) -> int | None:
        return index.get(name.lower())

    business = {part: column(f"forretningsadresse.{part}") for part in ("adresse", "postnummer", "poststed", "kommunenummer")}
    postal = {part: column(f"postadresse.{part}") for part in ("adresse", "postnummer", "poststed", "kommunenummer")}
    wanted = {
        name: column(name)
        for name in (
            "organisasjonsnummer", "navn", "epostadresse", "telefon", "mobil", "hjemmeside", "slettedato",
            "konkurs", "underavvikling", "undertvangsavviklingellertvangsopplosning",
            "naeringskode1.kode", "registrertifrivillighetsregisteret",
        )
    }
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num + 1  # the header line was read before the reader started
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < width:
            row = row + [""] * (width - len(row))
        result.total += 1

        def cell(i: int | None, row=row) -> str:
            return row[i].strip() if i is not None else ""

        address = business if cell(business["kommunenummer"]) else postal
        if cell(address["kommunenummer"]) != kommunenummer:
            result.other_municipalities += 1
            continue
        record = {
            "line": line,
            "org_number": cell(wanted["organisasjonsnummer"]),
            "name": cell(wanted["navn"]),
            # The bulk CSV joins address lines with ", " in one column.
            "address": cell(address["adresse"]),
            "postal_code": cell(address["postnummer"]),
            "city": cell(address["poststed"]),
            "email": cell(wanted["epostadresse"]),
            "phone": cell(wanted["telefon"]) or cell(wanted["mobil"]),
            "website": cell(wanted["hjemmeside"]),
            "deleted": bool(cell(wanted["slettedato"])),
            "bankrupt": _truthy(cell(wanted["konkurs"])),
            "winding_up": _truthy(cell(wanted["underavvikling"]))
            or _truthy(cell(wanted["undertvangsavviklingellertvangsopplosning"])),
            "naeringskode": cell(wanted["naeringskode1.kode"]),
            "frivillig": _truthy(cell(wanted["registrertifrivillighetsregisteret"])),
        }
        _keep(result, record, seen, require_number=True)
    return result


def _read_plain_csv(reader, columns: dict[str, int], kommunenummer: str) -> ReadResult:
    result = ReadResult(PLAIN_CSV)
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        result.total += 1

        def cell(name: str, row=row) -> str:
            i = columns.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        # A plain list may name each row's municipality; rows of others are counted like national files'.
        if cell("kommunenummer") and cell("kommunenummer").zfill(4) != kommunenummer:
            result.other_municipalities += 1
            continue
        record = {"line": line, **{name: cell(name) for name in FIELDS}}
        _keep(result, record, seen, require_number=False)
    return result


# --- Rules per row --------------------------------------------------------------------------


def _keep(result: ReadResult, record: dict, seen: set[str], require_number: bool) -> None:
    """Apply the rules to one row of the municipality: keep it normalised, or reject it with a reason."""
    name = re.sub(r"\s+", " ", record.get("name") or "").strip()
    number = re.sub(r"[\s.]", "", record.get("org_number") or "")
    reason = None
    if record.get("deleted"):
        reason = "deleted"
    elif record.get("bankrupt"):
        reason = "bankrupt"
    elif record.get("winding_up"):
        reason = "winding_up"
    elif not name:
        reason = "missing_name"
    elif len(name) > NAME_MAX:
        reason = "name_too_long"
    elif (number or require_number) and not orgnr.is_valid(number):
        reason = "bad_number"
    else:
        key = number or f"name:{name.lower()}"
        if key in seen:
            reason = "duplicate"
        seen.add(key)
    if reason:
        result.rejected.append(
            {"line": record["line"], "name": name[:NAME_MAX], "org_number": (record.get("org_number") or "")[:20], "reason": reason}
        )
        return
    row = {
        "line": record["line"],
        "name": name,
        "org_number": number or None,
        "address": record.get("address") or "",
        "postal_code": _postal_code(record.get("postal_code") or ""),
        "city": _city(record.get("city") or ""),
        "email": _email(record.get("email") or ""),
        "phone": record.get("phone") or "",
        "website": _website(record.get("website") or ""),
        "contact_name": record.get("contact_name") or "",
        "org_type": guess_org_type(name, record.get("naeringskode") or "", bool(record.get("frivillig"))),
    }
    for key, limit in MAX_LENGTHS.items():
        if len(row[key]) > limit:
            row[key] = ""  # a cut e-mail address or link is worse than none
    result.rows.append(row)


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _text(value).lower() in ("true", "ja", "j", "1", "yes")


def _postal_code(value: str) -> str:
    value = value.strip()
    if value.isdigit() and len(value) <= 4:
        return value.zfill(4)  # Excel drops the leading zero of 0150
    return ""


_SMALL_WORDS = {"i", "på", "og", "ved"}


def _city(value: str) -> str:
    """'MO I RANA' -> 'Mo i Rana': Enhetsregisteret writes poststed in capitals."""
    value = value.strip()
    if not value.isupper():
        return value
    return " ".join(w.lower() if w.lower() in _SMALL_WORDS else w.title() for w in value.split())


def _email(value: str) -> str:
    value = value.strip()
    return value if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) else ""


def _website(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if not re.match(r"https?://", value, re.I):
        value = "https://" + value  # the register writes www.lag.no
    return value


def guess_org_type(name: str, naeringskode: str, frivillig: bool) -> str:
    """The organisation type where the register or the name makes it obvious, else 'other'.

    Næringskode (SN2007): 93.1 sports, 94.91 religious organisations, 90 and 91
    arts, culture, libraries and museums. Names: frivilligsentral, idrettslag,
    and the large humanitarian organisations.
    """
    lowered = name.lower()
    if "frivilligsentral" in lowered:
        return OrganizationType.VOLUNTEER_CENTRE.value
    if naeringskode.startswith("93.1") or "idrettslag" in lowered or "idrettsklubb" in lowered:
        return OrganizationType.SPORTS.value
    if any(word in lowered for word in ("røde kors", "folkehjelp", "redd barna", "sanitetsforening", "bymisjon", "frelsesarmeen", "caritas")):
        return OrganizationType.HUMANITARIAN.value
    if naeringskode.startswith("94.91"):
        return OrganizationType.RELIGION.value
    if naeringskode.startswith(("90.", "91.")):
        return OrganizationType.CULTURE.value
    return OrganizationType.OTHER.value


# --- Preview and import ---------------------------------------------------------------------


@dataclass
class Change:
    field: str
    old: str
    new: str


@dataclass
class Update:
    organization: Organization
    row: dict[str, Any]
    changes: list[Change]


@dataclass
class Plan:
    """What importing the rows would do to the registry as it is now."""

    to_add: list[dict[str, Any]] = field(default_factory=list)
    to_update: list[Update] = field(default_factory=list)
    unchanged: int = 0
    #: The file's rejected rows, and rows that conflict with the registry.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    other_municipalities: int = 0
    total: int = 0


def create_import(municipality_id: int, user_id: int, filename: str, result: ReadResult) -> RegistryImport:
    """Keep what was read from a file until staff have looked at the preview."""
    registry_import = RegistryImport(
        municipality_id=municipality_id,
        user_id=user_id,
        filename=(filename or "")[-255:],
        file_format=result.file_format,
        data=result.to_bytes(),
    )
    db.session.add(registry_import)
    db.session.flush()
    return registry_import


def _current_value(organization: Organization, name: str) -> str:
    if name == "contact_name":
        contact = organization.primary_contact
        return contact.name if contact else ""
    return getattr(organization, name) or ""


def _changes(organization: Organization, row: dict[str, Any]) -> list[Change]:
    changes = []
    for name in FIELDS:
        new = row.get(name) or ""
        if not new:
            continue  # an empty cell never erases
        old = _current_value(organization, name)
        if new == old:
            continue
        if name == "name" and new.lower() == old.lower():
            continue  # the register's capitals are not a new name
        if name == "contact_name" and old:
            continue  # the primary contact is staff's to change
        changes.append(Change(name, old, new))
    return changes


def plan_import(registry_import: RegistryImport) -> Plan:
    """Compare the import's rows with the municipality's registry: what to add, update, leave."""
    result = ReadResult.from_bytes(registry_import.file_format, registry_import.data)
    plan = Plan(
        rejected=list(result.rejected),
        other_municipalities=result.other_municipalities,
        total=result.total,
    )
    organizations = db.session.scalars(
        select(Organization)
        .where(Organization.municipality_id == registry_import.municipality_id)
        .options(selectinload(Organization.contacts))  # the primary contact, without a query per row
    ).all()
    by_number = {o.org_number: o for o in organizations if o.org_number}
    by_name: dict[str, Organization] = {}
    for organization in organizations:
        if organization.deleted_at is None and not organization.org_number:
            by_name.setdefault(organization.name.lower(), organization)
    matched: set[int] = set()
    for row in result.rows:
        organization = by_number.get(row["org_number"]) if row["org_number"] else None
        if organization is None:
            organization = by_name.get(row["name"].lower())
        if organization is not None and organization.deleted_at is not None:
            plan.rejected.append(_rejected(row, "deleted_here"))
            continue
        if organization is None:
            plan.to_add.append(row)
            continue
        if organization.id in matched:
            plan.rejected.append(_rejected(row, "duplicate"))
            continue
        matched.add(organization.id)
        changes = _changes(organization, row)
        if changes:
            plan.to_update.append(Update(organization, row, changes))
        else:
            plan.unchanged += 1
    plan.rejected.sort(key=lambda r: r["line"])
    return plan


def _rejected(row: dict, reason: str) -> dict:
    return {"line": row["line"], "name": row["name"], "org_number": row["org_number"] or "", "reason": reason}


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int
    unchanged: int
    rejected: int


def apply_import(registry_import: RegistryImport, actor: Actor) -> ImportSummary:
    """Write every accepted row of the import, all in the caller's one transaction.

    Marked applied first, with a compare-and-set, so a second click (or tab) that
    comes while or after this one runs is refused instead of importing twice.
    """
    claimed = db.session.execute(
        update(RegistryImport)
        .where(RegistryImport.id == registry_import.id, RegistryImport.applied_at.is_(None))
        .values(applied_at=now_utc())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise ImportAlreadyApplied
    db.session.refresh(registry_import, ["applied_at"])
    plan = plan_import(registry_import)
    municipality_id = registry_import.municipality_id
    try:
        added = []
        for row in plan.to_add:
            organization = Organization(
                municipality_id=municipality_id,
                org_type=row["org_type"],
                **{name: row[name] for name in FIELDS if name != "contact_name"},
            )
            if row["contact_name"]:
                organization.contacts.append(
                    Contact(municipality_id=municipality_id, name=row["contact_name"], is_primary=True)
                )
            added.append(organization)
        db.session.add_all(added)
        for item in plan.to_update:
            for change in item.changes:
                if change.field == "contact_name":
                    item.organization.contacts.append(
                        Contact(municipality_id=municipality_id, name=change.new, is_primary=True)
                    )
                else:
                    setattr(item.organization, change.field, change.new)
        db.session.flush()
    except IntegrityError as error:
        raise ImportFailed from error
    details = {"import_id": registry_import.id}
    for organization in added:
        audit.record(municipality_id, actor, "import", "organization", organization.id, details=details)
    for item in plan.to_update:
        audit.record(
            municipality_id, actor, "import", "organization", item.organization.id,
            details={**details, "fields": [change.field for change in item.changes]},
        )
    summary = ImportSummary(len(added), len(plan.to_update), plan.unchanged, len(plan.rejected))
    audit.record(
        municipality_id, actor, "import", "registry_import", registry_import.id,
        details={"filename": registry_import.filename, "format": registry_import.file_format, **summary.__dict__},
    )
    return summary
