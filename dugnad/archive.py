"""Printing and archiving signed agreements: one merged PDF of many, and an archive
export (a zip with each signed PDF and its metadata for the municipality's archive system).

Everything is made from the stored signed PDFs, byte for byte: nothing is rendered again,
so what is printed or archived is exactly what both parties signed.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import IndirectObject, PdfObject, read_object
from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload, selectinload

from . import audit
from .access import MAX_ID
from .extensions import db
from .lifecycle import Actor
from .models import Agreement, Municipality, Organization, Party, Signature, SignedDocument
from .timeutil import OSLO, now_utc, to_oslo

#: Longest archive reference (the column's length).
CASE_REFERENCE_MAX = 64
#: Most agreements in one batch: a bound on the work one request can ask for.
BATCH_MAX = 1000
#: The version of the metadata's layout, for whoever reads the export years later.
METADATA_FORMAT = "dugnad-archive/1"


class NotPrintable(Exception):
    """Some of the ids asked for name no signed agreement of the municipality."""


@dataclass(frozen=True)
class Filters:
    """What the batch page lists: None means any."""

    year: int | None = None
    state: str | None = None
    organization_id: int | None = None


def number_key(number: str) -> tuple[int, int, str]:
    """Agreement numbers in order: 2026-999 before 2026-1000 (text order would not be)."""
    year, _, serial = number.partition("-")
    if year.isdigit() and serial.isdigit():
        return int(year), int(serial), number
    return 0, 0, number


def _municipality_signature():
    return and_(Signature.agreement_id == Agreement.id, Signature.party == Party.MUNICIPALITY.value)


def _printable(municipality_id: int):
    """Agreements of the municipality with a stored signed PDF, and the time the municipality signed."""
    return (
        select(Agreement, Signature.signed_at)
        .join(SignedDocument, SignedDocument.agreement_id == Agreement.id)
        .join(Signature, _municipality_signature())
        .where(Agreement.municipality_id == municipality_id)
    )


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """A calendar year in Norway, as the UTC instants the database compares."""
    start = datetime(year, 1, 1, tzinfo=OSLO)
    return start, datetime(year + 1, 1, 1, tzinfo=OSLO)


def printable(municipality_id: int, filters: Filters = Filters()) -> list[tuple[Agreement, datetime]]:
    """The signed agreements the filters select, with when each was signed, in number order."""
    query = _printable(municipality_id).options(joinedload(Agreement.organization))
    if filters.year is not None:
        start, end = _year_bounds(filters.year)
        query = query.where(Signature.signed_at >= start, Signature.signed_at < end)
    if filters.state is not None:
        query = query.where(Agreement.state == filters.state)
    if filters.organization_id is not None:
        query = query.where(Agreement.organization_id == filters.organization_id)
    rows = db.session.execute(query).all()
    return sorted(((agreement, signed_at) for agreement, signed_at in rows), key=lambda row: number_key(row[0].number))


def filter_choices(municipality_id: int) -> dict[str, list]:
    """What the filters can choose from: only values that select something."""
    rows = db.session.execute(
        _printable(municipality_id).with_only_columns(Signature.signed_at, Agreement.state, Organization.id, Organization.name)
        .join(Organization, Organization.id == Agreement.organization_id)
    ).all()
    return {
        "years": sorted({to_oslo(signed_at).year for signed_at, _s, _i, _n in rows}, reverse=True),
        "states": sorted({state for _t, state, _i, _n in rows}),
        "organizations": sorted({(org_id, name) for _t, _s, org_id, name in rows}, key=lambda org: (org[1].casefold(), org[0])),
    }


def selected(municipality_id: int, ids: list[int]) -> list[Agreement]:
    """The agreements named by `ids`, in number order, each with its signed PDF.

    Refused (NotPrintable) if any id is not a signed agreement of this municipality:
    a batch is all or nothing, so nobody gets a partial archive without noticing.
    """
    wanted = set(ids)
    if not wanted or any(not 0 < agreement_id <= MAX_ID for agreement_id in wanted):
        raise NotPrintable()
    agreements = db.session.scalars(
        select(Agreement)
        .join(SignedDocument, SignedDocument.agreement_id == Agreement.id)
        .where(Agreement.municipality_id == municipality_id, Agreement.id.in_(wanted))
        .options(
            joinedload(Agreement.organization),
            joinedload(Agreement.signed_document),
            joinedload(Agreement.accepted_version),
            selectinload(Agreement.signatures),
        )
    ).unique().all()
    if len(agreements) != len(wanted):
        raise NotPrintable()
    return sorted(agreements, key=lambda agreement: number_key(agreement.number))


class _PrintReader(PdfReader):
    """A reader that parses, from an object stream, only the objects asked for.

    pypdf parses every object of an object stream the first time any one of them is read,
    which pays when most are wanted. A signed PDF keeps its ~770 objects in one stream,
    most of them the PDF/A structure tree, which printing never reads: parsing them was
    nine tenths of a batch print. Here the stream's index is read once and each object
    parsed when asked for (and cached, as pypdf does).

    It overrides a private pypdf method (pypdf is pinned): should a new pypdf no longer
    call it, the merge is only as slow as before, never different.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        # Per object stream: its decoded data and where each of its objects starts.
        self._object_streams: dict[int, tuple[io.BytesIO, dict[int, int]]] = {}
        super().__init__(stream)

    def _get_object_from_stream(self, indirect_reference: IndirectObject) -> PdfObject:
        try:
            stream_number, _index = self.xref_objStm[indirect_reference.idnum]
            entry = self._object_streams.get(stream_number)
            if entry is None:
                object_stream = IndirectObject(stream_number, 0, self).get_object()
                data = object_stream.get_data()  # type: ignore[union-attr]
                first, count = int(object_stream["/First"]), int(object_stream["/N"])  # type: ignore[index]
                header = data[:first].split()
                starts = {int(header[n]): first + int(header[n + 1]) for n in range(0, 2 * count, 2)}
                entry = self._object_streams[stream_number] = (io.BytesIO(data), starts)
            data_stream, starts = entry
            data_stream.seek(starts[indirect_reference.idnum])
            obj = read_object(data_stream, self)
        except (KeyError, IndexError, ValueError, PdfReadError):
            # Not a stream as expected: pypdf's own reading, with its repairs and warnings.
            return super()._get_object_from_stream(indirect_reference)
        self.cache_indirect_object(0, indirect_reference.idnum, obj)
        return obj

    def release(self) -> None:
        """Let the decoded object streams go once the pages are copied (the writer keeps
        the reader alive to the end; read again, they are decoded anew)."""
        self._object_streams.clear()


#: Page entries not copied into the merged PDF. `/Annots` holds the seal's signature
#: field, an invisible widget (zero-size, no appearance) whose value is the signature
#: itself; copying it would drag the signature and the form along. WeasyPrint's other
#: annotations are links, which print as nothing. `/StructParents` ties the page to the
#: structure tree (pypdf leaves it out anyway; named so the intent is plain).
_NOT_PRINTED = ("/Annots", "/StructParents")


def merged_pdf(agreements: list[Agreement]) -> IO[bytes]:
    """One PDF of the agreements' signed PDFs, in the order given, with a bookmark per agreement.

    Returned as a file positioned at its start. The pages are copied, not rendered again;
    the merged file is for printing, while each signed PDF alone stays the evidence: it
    keeps every page as it looks, but not the signature, the PDF/A tagging or the links.
    """
    writer = PdfWriter()
    for agreement in agreements:
        reader = _PrintReader(io.BytesIO(agreement.signed_document.pdf))
        # Page by page rather than `append`, which would also copy the document's
        # outline, named destinations and form, and through them the structure tree.
        first = None
        for page in reader.pages:
            copied = writer.add_page(page, excluded_keys=_NOT_PRINTED)
            if first is None:
                first = copied
        if first is not None:
            writer.add_outline_item(title=f"{agreement.number} {agreement.title}", page_number=first)
        reader.release()
    writer.add_metadata({"/Title": "Samarbeidsavtaler", "/Producer": "Dugnad"})
    # Each signed PDF embeds its own copies of the fonts and the colour profile, often the
    # same bytes (same font, same glyphs used): written once, distinct agreements made a file
    # some 40 % smaller, for about 0.1 s in 200 agreements.
    writer.compress_identical_objects()
    # In memory: the stored PDFs are loaded from the database anyway, so a file on disk
    # would save at most half; BATCH_MAX bounds both.
    out = io.BytesIO()
    writer.write(out)
    out.seek(0)
    return out


def _moment(value: datetime | None) -> str | None:
    """ISO 8601 in Norway's time with its offset: 2026-11-25T14:02:00+01:00."""
    return to_oslo(value).isoformat(timespec="seconds") if value else None


def _party(party: dict[str, Any] | None) -> dict[str, Any]:
    party = party or {}
    return {"name": party.get("name", ""), "org_number": party.get("org_number") or None}


def pdf_name(agreement: Agreement) -> str:
    return f"samarbeidsavtale-{agreement.number}.pdf"


def metadata(agreement: Agreement) -> dict[str, Any]:
    """What an archive system needs about one signed agreement. The parties are as they
    stood in the version signed (the registry may have changed since)."""
    version = agreement.accepted_version
    content = version.content if version else {}
    parties = content.get("parties", {})
    duration = content.get("sections", {}).get("duration", {})
    signatures = {signature.party: signature for signature in agreement.signatures}
    accepted = signatures.get(Party.ORGANIZATION.value)
    signed = signatures.get(Party.MUNICIPALITY.value)
    document = agreement.signed_document
    return {
        "format": METADATA_FORMAT,
        "title": agreement.title,
        "number": agreement.number,
        "state": agreement.state,
        "language": agreement.language,
        "case_reference": agreement.case_reference or None,
        "municipality": _party(parties.get("municipality")),
        "organization": _party(parties.get("organization")),
        "dates": {
            "sent": _moment(version.created_at if version else None),
            "accepted": _moment(accepted.signed_at if accepted else None),
            "signed": _moment(signed.signed_at if signed else None),
            "valid_from": duration.get("start") or None,
            "valid_to": duration.get("end") or None,
        },
        "fingerprints": {
            "algorithm": "SHA-256",
            "version": version.number if version else None,
            "version_sha256": version.sha256 if version else None,
            "pdf_sha256": document.sha256,
        },
        "signatories": [
            {
                "party": signature.party,
                "name": signature.name,
                "role": signature.role,
                "signed_at": _moment(signature.signed_at),
            }
            for signature in sorted(agreement.signatures, key=lambda s: s.signed_at)
        ],
        "files": {"pdf": pdf_name(agreement)},
    }


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def archive_zip(agreements: list[Agreement], exported_by: str) -> IO[bytes]:
    """A zip with, per agreement, `<number>/samarbeidsavtale-<number>.pdf` (the stored bytes)
    and `<number>/metadata.json`, plus a `manifest.json` listing them all.

    Returned as a file positioned at its start.
    """
    municipality = db.session.get(Municipality, agreements[0].municipality_id) if agreements else None
    exported_at = now_utc()
    # Zip entries carry local wall-clock time without a zone: Norway's, as the archive reads it.
    stamp = to_oslo(exported_at).timetuple()[:6]
    out = io.BytesIO()
    entries = []
    with zipfile.ZipFile(out, "w") as archive:
        def add(name: str, data: bytes, compress: bool) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            # PDFs are compressed already; deflating them again costs time for nothing.
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)

        for agreement in agreements:
            folder = agreement.number
            document = agreement.signed_document
            add(f"{folder}/{pdf_name(agreement)}", document.pdf, compress=False)
            add(f"{folder}/metadata.json", _json(metadata(agreement)), compress=True)
            entries.append({
                "number": agreement.number,
                "title": agreement.title,
                "organization": agreement.organization.name,
                "case_reference": agreement.case_reference or None,
                "pdf": f"{folder}/{pdf_name(agreement)}",
                "metadata": f"{folder}/metadata.json",
                "pdf_sha256": document.sha256,
            })
        add("manifest.json", _json({
            "format": METADATA_FORMAT,
            "municipality": {"name": municipality.name, "org_number": municipality.org_number} if municipality else None,
            "exported_at": _moment(exported_at),
            "exported_by": exported_by,
            "count": len(entries),
            "agreements": entries,
        }), compress=True)
    out.seek(0)
    return out


def set_case_reference(agreement: Agreement, reference: str, actor: Actor) -> bool:
    """Record the municipality's case or archive reference; audited. False if unchanged."""
    reference = reference.strip()[:CASE_REFERENCE_MAX]
    previous = agreement.case_reference or ""
    if reference == previous:
        return False
    agreement.case_reference = reference
    audit.record(
        agreement.municipality_id, actor, "case_reference", "agreement", agreement.id,
        details={"from": previous, "to": reference},
    )
    db.session.flush()
    return True
