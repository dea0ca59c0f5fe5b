"""Importing organisations from register files: every format, every reason a row is
left out, a preview that writes nothing, one transaction, no duplicates on re-import,
and clear answers for files that cannot be read.

The files are in tests/data/ (written by tests/data/make_files.py): Surnadal (1566)
entities for each case, and one of Trondheim (5001).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import pytest
from helpers import login
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from dugnad import accounts, importer
from dugnad.extensions import db
from dugnad.models import AuditEvent, Contact, Organization, RegistryImport
from dugnad.timeutil import now_utc

DATA = Path(__file__).parent / "data"
RODE_KORS = "999100023"
IDRETTSLAG = "999100007"
SLETTET = "999100031"


@pytest.fixture
def surnadal(app):
    """Surnadal with two organisations already registered: Røde Kors (with its number) and an informal group."""
    with app.app_context():
        municipality = accounts.create_municipality("Surnadal kommune", "1566", "939901965", "Rådhuset")
        db.session.flush()
        db.session.add_all([
            Organization(municipality_id=municipality.id, name="Surnadal Røde Kors", org_number=RODE_KORS,
                         email="gammel@rodekors.example.no", org_type="humanitarian"),
            Organization(municipality_id=municipality.id, name="Leksehjelpen", email="lekser@example.no"),
        ])
        db.session.commit()
        return municipality.id


@pytest.fixture
def staff(client, factory, surnadal):
    email = factory.user(surnadal, "staff")
    login(client, email)
    return client


def _file(name: str) -> bytes:
    return (DATA / name).read_bytes()


def upload(client, content: bytes, filename: str, **kwargs):
    return client.post("/organizations/import/", data={"file": (io.BytesIO(content), filename)}, **kwargs)


def upload_ok(client, content: bytes, filename: str) -> int:
    response = upload(client, content, filename)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(re.search(r"/organizations/import/(\d+)$", response.headers["Location"]).group(1))


def preview(client, import_id: int) -> str:
    response = client.get(f"/organizations/import/{import_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _table(page: str, heading_id: str) -> list[list[str]]:
    """The cells (tags stripped) of each body row of the table labelled by `heading_id`."""
    match = re.search(rf'<table class="ds-table" aria-labelledby="{heading_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    if not match:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)
    return [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def rejected(page: str) -> dict[str, str]:
    """Rejected or skipped rows: 'name (number)' -> reason."""
    return {f"{name} ({number})": reason for _line, name, number, reason in _table(page, "rejected")}


def added(page: str) -> list[str]:
    return [row[1] for row in _table(page, "to-add")]


def updated(page: str) -> dict[str, str]:
    return {row[1]: row[2] for row in _table(page, "to-update")}


def organizations(app, municipality_id: int) -> dict[str, Organization]:
    with app.app_context():
        result = db.session.scalars(
            select(Organization).where(Organization.municipality_id == municipality_id)
        ).all()
        for organization in result:
            _ = organization.contacts
        db.session.expunge_all()
        return {o.name: o for o in result}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


ENHETSREGISTERET_REASONS = {
    "Feilnummer Velforening (123456789)": "Ugyldig organisasjonsnummer",
    "– (999100082)": "Mangler navn",
    "SURNADAL IDRETTSLAG (DOBBEL) (999100007)": "Dobbelt i filen",
    "Nedlagt Husflidslag (999100031)": "Slettet i Enhetsregisteret",
    "Konkurs Kafé AS (999100058)": "Konkurs",
    "Avviklet Korps (999100066)": "Under avvikling",
}

ENHETSREGISTERET_FILES = [
    pytest.param("enhetsregisteret.json", False, id="json"),
    pytest.param("enhetsregisteret.json", True, id="json.gz"),
    pytest.param("enhetsregisteret.csv", False, id="csv"),
    pytest.param("enhetsregisteret.csv", True, id="csv.gz"),
]


# --- Enhetsregisteret ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "gzipped"), ENHETSREGISTERET_FILES)
def test_enhetsregisteret_preview_shows_adds_updates_and_reasons_and_writes_nothing(app, staff, surnadal, name, gzipped):
    content = _file(name)
    filename = name
    if gzipped:
        content, filename = gzip.compress(content), name + ".gz"
    before = organizations(app, surnadal)

    import_id = upload_ok(staff, content, filename)
    page = preview(staff, import_id)

    assert sorted(added(page)) == ["SURNADAL IDRETTSLAG", "Surnadal Frivilligsentral", "Surnadal Mannskor"]
    changes = updated(page)
    assert list(changes) == ["Surnadal Røde Kors"]
    assert "E-post: gammel@rodekors.example.no → post@surnadal-rodekors.example.no" in changes["Surnadal Røde Kors"]
    assert "Telefon: (tomt) → 71 66 00 02" in changes["Surnadal Røde Kors"]
    assert "Navn" not in changes["Surnadal Røde Kors"]  # only the letter case differs
    assert rejected(page) == ENHETSREGISTERET_REASONS
    assert "1 rad gjelder andre kommuner og tas ikke med" in page
    assert "Trondheim Sjakklubb" not in page
    assert "Importer 4 organisasjoner" in page
    # The preview wrote nothing but the kept rows.
    assert organizations(app, surnadal).keys() == before.keys()
    assert organizations(app, surnadal)["Surnadal Røde Kors"].email == "gammel@rodekors.example.no"
    with app.app_context():
        registry_import = db.session.get(RegistryImport, import_id)
        assert registry_import.applied_at is None
        assert registry_import.file_format == ("enhetsregisteret_json" if "json" in name else "enhetsregisteret_csv")
        assert "Trondheim" not in registry_import.data.decode()  # other municipalities' rows are not stored


@pytest.mark.parametrize(("name", "gzipped"), ENHETSREGISTERET_FILES[:1] + ENHETSREGISTERET_FILES[2:3])
def test_import_writes_every_accepted_row(app, staff, surnadal, name, gzipped):
    import_id = upload_ok(staff, _file(name), name)
    response = staff.post(f"/organizations/import/{import_id}/apply", data={})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/organizations/")
    page = staff.get("/organizations/").get_data(as_text=True)
    assert "3 lagt til, 1 oppdatert, 0 uendret, 6 avvist eller hoppet over" in page

    after = organizations(app, surnadal)
    assert set(after) == {
        "Surnadal Røde Kors", "Leksehjelpen", "SURNADAL IDRETTSLAG", "Surnadal Frivilligsentral", "Surnadal Mannskor",
    }
    idrettslag = after["SURNADAL IDRETTSLAG"]
    assert (idrettslag.org_number, idrettslag.address, idrettslag.postal_code, idrettslag.city) == (
        IDRETTSLAG, "Øragata 3", "6650", "Surnadal",
    )
    assert (idrettslag.email, idrettslag.website, idrettslag.phone, idrettslag.org_type) == (
        "post@surnadal-il.example.no", "https://www.surnadal-il.example.no", "71 66 00 01", "sports",
    )
    assert after["Surnadal Frivilligsentral"].address == "Postboks 12, Skulvegen 1"  # from the postal address
    assert after["Surnadal Frivilligsentral"].org_type == "volunteer_centre"
    assert after["Surnadal Mannskor"].org_type == "culture"
    rode_kors = after["Surnadal Røde Kors"]
    assert (rode_kors.email, rode_kors.phone, rode_kors.name) == (
        "post@surnadal-rodekors.example.no", "71 66 00 02", "Surnadal Røde Kors",
    )
    with app.app_context():
        assert db.session.get(RegistryImport, import_id).applied_at is not None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "registry_import"))
        assert (event.action, event.object_id) == ("import", import_id)
        assert {k: event.details[k] for k in ("added", "updated", "unchanged", "rejected")} == {
            "added": 3, "updated": 1, "unchanged": 0, "rejected": 6,
        }
        per_organization = db.session.scalars(
            select(AuditEvent.object_id).where(AuditEvent.object_type == "organization", AuditEvent.action == "import")
        ).all()
        assert sorted(per_organization) == sorted(o.id for n, o in after.items() if n != "Leksehjelpen")
    # The preview now says it was imported, and offers no second import.
    page = preview(staff, import_id)
    assert "Filen ble importert" in page and "Importer 4" not in page


def test_importing_the_same_file_again_adds_nothing_and_updates_only_what_changed(app, staff, surnadal):
    content = _file("enhetsregisteret.csv")
    first = upload_ok(staff, content, "enhetsregisteret.csv")
    assert staff.post(f"/organizations/import/{first}/apply", data={}).status_code == 302
    imported = organizations(app, surnadal)

    again = upload_ok(staff, content, "enhetsregisteret.csv")
    page = preview(staff, again)
    assert added(page) == [] and updated(page) == {}
    assert "4 er allerede registrert uten endringer" in page
    assert "Filen har ingenting nytt å importere" in page and "Importer 0" not in page

    # Staff changed one e-mail address since: the register's is shown as the one change.
    with app.app_context():
        db.session.get(Organization, imported["Surnadal Mannskor"].id).email = "kor@example.no"
        db.session.commit()
    third = upload_ok(staff, content, "enhetsregisteret.csv")
    page = preview(staff, third)
    assert added(page) == []
    assert updated(page) == {}  # the register has no address for the choir: an empty cell never erases
    with app.app_context():
        db.session.get(Organization, imported["SURNADAL IDRETTSLAG"].id).email = "ny@example.no"
        db.session.commit()
    fourth = upload_ok(staff, content, "enhetsregisteret.csv")
    page = preview(staff, fourth)
    assert updated(page) == {"SURNADAL IDRETTSLAG": "E-post: ny@example.no → post@surnadal-il.example.no"}
    assert staff.post(f"/organizations/import/{fourth}/apply", data={}).status_code == 302
    after = organizations(app, surnadal)
    assert len(after) == len(imported) == 5  # nothing twice
    assert after["SURNADAL IDRETTSLAG"].email == "post@surnadal-il.example.no"
    assert after["Surnadal Mannskor"].email == "kor@example.no"


def test_a_second_apply_is_refused(app, staff, surnadal):
    import_id = upload_ok(staff, _file("enhetsregisteret.json"), "enhetsregisteret.json")
    assert staff.post(f"/organizations/import/{import_id}/apply", data={}).status_code == 302
    total = count(app, Organization)
    events = count(app, AuditEvent)

    response = staff.post(f"/organizations/import/{import_id}/apply", data={})
    assert response.status_code == 409
    assert "Denne filen er allerede importert. Ingenting ble importert en gang til." in response.get_data(as_text=True)
    assert (count(app, Organization), count(app, AuditEvent)) == (total, events)


def test_a_failure_part_way_leaves_nothing_written(app, staff, surnadal):
    """A row the database refuses (an unknown organisation type, written into the kept
    rows) makes the whole import fail: the rows before it and the update are undone."""
    import_id = upload_ok(staff, _file("enhetsregisteret.json"), "enhetsregisteret.json")
    with app.app_context():
        registry_import = db.session.get(RegistryImport, import_id)
        payload = json.loads(registry_import.data)
        good = json.dumps(payload).encode()
        payload["rows"][1]["org_type"] = "not-a-type"  # the second of three new rows
        registry_import.data = json.dumps(payload).encode()
        db.session.commit()
    before = organizations(app, surnadal)
    events = count(app, AuditEvent)

    response = staff.post(f"/organizations/import/{import_id}/apply", data={})
    assert response.status_code == 409
    assert "ingenting ble lagret" in response.get_data(as_text=True)
    after = organizations(app, surnadal)
    assert after.keys() == before.keys()
    assert after["Surnadal Røde Kors"].email == "gammel@rodekors.example.no"
    assert count(app, AuditEvent) == events
    with app.app_context():
        assert db.session.get(RegistryImport, import_id).applied_at is None
        db.session.get(RegistryImport, import_id).data = good
        db.session.commit()
    # The import can be made once the problem is gone.
    assert staff.post(f"/organizations/import/{import_id}/apply", data={}).status_code == 302
    assert len(organizations(app, surnadal)) == 5


def test_organisation_deleted_in_dugnad_is_not_brought_back(app, staff, surnadal):
    with app.app_context():
        db.session.add(Organization(municipality_id=surnadal, name="Surnadal Mannskor", org_number="999100090",
                                    deleted_at=now_utc()))
        db.session.commit()
    page = preview(staff, upload_ok(staff, _file("enhetsregisteret.json"), "enhetsregisteret.json"))
    assert rejected(page)["Surnadal Mannskor (999100090)"] == "Organisasjonen er slettet i Dugnad"
    assert "Surnadal Mannskor" not in added(page)


# --- Plain CSV ---------------------------------------------------------------------------


def test_plain_csv_with_semicolons_and_norwegian_headers(app, staff, surnadal):
    page = preview(staff, import_id := upload_ok(staff, _file("plain.csv"), "plain.csv"))
    assert sorted(added(page)) == ["Språkkafeen på biblioteket", "Surnadal Idrettslag"]
    assert updated(page) == {
        "Surnadal Røde Kors": "E-post: gammel@rodekors.example.no → leder@surnadal-rodekors.example.no",
        # No number: matched by its name.
        "Leksehjelpen": "Telefon: (tomt) → 900 00 001",
    }
    assert rejected(page) == {
        "Sjakklubben (12345678)": "Ugyldig organisasjonsnummer",
        "– (999100082)": "Mangler navn",
        "Surnadal idrettslag (999100007)": "Dobbelt i filen",
        "Språkkafeen på Biblioteket (–)": "Dobbelt i filen",
    }
    assert "1 rad gjelder andre kommuner" in page  # its kommunenummer column says 5001

    assert staff.post(f"/organizations/import/{import_id}/apply", data={}).status_code == 302
    after = organizations(app, surnadal)
    cafe = after["Språkkafeen på biblioteket"]
    assert (cafe.org_number, cafe.address, cafe.email) == (None, "Biblioteket, Øragata 5", "sprakkafe@example.no")
    assert [(c.name, c.is_primary) for c in cafe.contacts] == [("Kari Nordmann", True)]
    assert after["Leksehjelpen"].phone == "900 00 001"
    assert after["Leksehjelpen"].email == "lekser@example.no"  # the empty cell did not erase it


def test_plain_csv_with_commas_and_english_headers(app, staff, surnadal):
    page = preview(staff, upload_ok(staff, _file("plain_comma.csv"), "liste.csv"))
    # Without a kommunenummer column every row counts as the municipality's own.
    assert sorted(added(page)) == ["Språkkafeen på biblioteket", "Surnadal Idrettslag", "Trondheim Sjakklubb"]
    assert set(updated(page)) == {"Surnadal Røde Kors", "Leksehjelpen"}
    assert set(rejected(page).values()) == {"Ugyldig organisasjonsnummer", "Mangler navn", "Dobbelt i filen"}


def test_excel_csv_in_windows_1252_is_read(app, staff, surnadal):
    """Decision: a CSV that is not UTF-8 is read as Windows-1252 (Excel's "CSV (semikolonseparert)")."""
    assert _file("latin1.csv").decode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        _file("latin1.csv").decode("utf-8")
    page = preview(staff, upload_ok(staff, _file("latin1.csv"), "latin1.csv"))
    assert sorted(added(page)) == ["Bøfjorden Sjakklubb", "Ærlig Talt Språkkafé"]
    assert rejected(page) == {"Ugyldig Øvelseslag (999100083)": "Ugyldig organisasjonsnummer"}


def test_format_comes_from_the_content_not_the_name(app, staff, surnadal):
    page = preview(staff, upload_ok(staff, _file("enhetsregisteret.json"), "eksport.txt"))
    assert "Enhetsregisteret (JSON)" in page and len(added(page)) == 3


# --- Files that cannot be read ----------------------------------------------------------------

BAD_FILES = {
    "pdf": (_file("not_a_csv.pdf"), "not_a_csv.pdf", "Filen er en PDF. Last opp en CSV- eller JSON-fil."),
    "pdf named csv": (_file("not_a_csv.pdf"), "organisasjoner.csv", "Filen er en PDF."),
    "excel": (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "liste.xlsx", "Lagre arket som CSV"),
    "utf-16": ("navn;e-post\nLag;a@b.no\n".encode("utf-16"), "liste.csv", "ikke en tekstfil i UTF-8"),
    "binary": (bytes(range(256)) * 4, "data.csv", "ikke en tekstfil i UTF-8"),
    "empty": (b"", "tom.csv", "Filen er tom."),
    "broken gzip": (gzip.compress(_file("enhetsregisteret.json"))[:200], "enhetsregisteret.json.gz", "ødelagt"),
    "json object": (b'{"organisasjonsnummer": "999100007"}', "enhet.json", "JSON-filen må være en liste"),
    "truncated json": (_file("enhetsregisteret.json")[:900], "enhetsregisteret.json", "ufullstendig"),
    "non-utf-8 json": ('[{"navn": "Bø"}]'.encode("cp1252"), "e.json", "JSON-filen er ikke UTF-8"),
    "no name column": (b"orgnr;epost\n999100007;a@b.no\n", "liste.csv", "Fant ingen kolonne for navn"),
    "header only": (b"navn;epost\n", "liste.csv", "Filen har ingen rader med organisasjoner."),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_unreadable_file_gets_a_message_next_to_the_field(app, staff, surnadal, case):
    content, filename, message = BAD_FILES[case]
    response = upload(staff, content, filename)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    summary = re.search(r'<div class="ds-error-summary".*?</div>', page, re.S).group(0)
    assert 'href="#file"' in summary and message in summary
    assert re.search(r'id="file-error">[^<]*' + re.escape(message), page)
    assert 'aria-invalid="true"' in page
    assert count(app, RegistryImport) == 0


def test_no_file_chosen(app, staff, surnadal):
    response = staff.post("/organizations/import/", data={})
    assert response.status_code == 400
    assert "Velg en fil å laste opp." in response.get_data(as_text=True)


def _large_upload(client, content: bytes, filename: str):
    """Posts a large file from memory (the test client would spool it to a file it never closes)."""
    boundary, body = encode_multipart(
        {"csrf_token": client.csrf_token(), "file": FileStorage(io.BytesIO(content), filename)}
    )
    return client.post(
        "/organizations/import/", data=body, content_type=f"multipart/form-data; boundary={boundary}", csrf=False
    )


def test_the_import_has_its_own_size_limit(app, staff, surnadal):
    app.config["IMPORT_MAX_BYTES"] = 3 * 1024 * 1024
    padding = "x" * 100_000  # below the csv module's limit of 128 KiB per field
    big_enough = ("navn;merknad\n" + "".join(f"Lag {n};{padding}\n" for n in range(25))).encode()
    assert 2 * 1024 * 1024 < len(big_enough) < 3 * 1024 * 1024  # above the app's 2 MB, below the import's limit
    assert _large_upload(staff, big_enough, "stor.csv").status_code == 302
    # Other forms keep the app's limit.
    response = staff.post("/organizations/new", data={"name": "Lag", "notes": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413

    too_large = big_enough + b"Lag;" + b"x" * (1024 * 1024) + b"\n"
    response = _large_upload(staff, too_large, "for-stor.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "Filen er for stor. Største tillatte størrelse er 3 MB." in page
    assert 'id="file-error"' in page and 'href="#file"' in page
    assert count(app, RegistryImport) == 1


# --- Pages, roles and tenancy ------------------------------------------------------------------


def test_registry_links_to_the_import_and_the_page_explains_the_formats(staff):
    assert 'href="/organizations/import/"' in staff.get("/organizations/").get_data(as_text=True)
    page = staff.get("/organizations/import/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'accept=".csv,.json,.gz,.txt"' in page
    assert "Enhetsregisteret" in page and "Surnadal kommune" in page
    assert 'hx-indicator="#upload-progress"' in page and "Leser filen" in page


def test_htmx_upload_sends_the_browser_to_the_preview(app, staff, surnadal):
    response = upload(staff, _file("plain.csv"), "plain.csv", headers={"HX-Request": "true"})
    assert response.status_code == 204
    import_id = db_import_id(app)
    assert response.headers["HX-Redirect"] == f"/organizations/import/{import_id}"


def db_import_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(RegistryImport.id))


def test_operator_cannot_import(app, client, factory, surnadal):
    login(client, factory.user(None, "operator"))
    assert client.get("/organizations/import/").status_code == 403
    assert upload(client, _file("plain.csv"), "plain.csv").status_code == 403
    assert count(app, RegistryImport) == 0


def test_another_municipalitys_import_is_not_found(app, client, factory, surnadal):
    other = factory.municipality("Annen kommune")
    login(client, factory.user(surnadal, "admin"))
    import_id = upload_ok(client, _file("plain.csv"), "plain.csv")
    outsider = app.test_client()
    login(outsider, factory.user(other, "admin"))
    assert outsider.get(f"/organizations/import/{import_id}").status_code == 404
    assert outsider.post(f"/organizations/import/{import_id}/apply", data={}).status_code == 404
    with app.app_context():
        assert db.session.get(RegistryImport, import_id).applied_at is None
    assert count(app, Contact) == 0


# --- Reading in pieces ---------------------------------------------------------------------------


def test_json_is_read_the_same_in_tiny_chunks(app, monkeypatch):
    """The reader never needs the whole file: chunks far smaller than one entity give the same rows."""
    whole = importer.read_file(io.BytesIO(_file("enhetsregisteret.json")), "1566")
    monkeypatch.setattr(importer, "CHUNK", 7)
    pieces = importer.read_file(io.BytesIO(_file("enhetsregisteret.json")), "1566")
    assert pieces == whole
    assert (whole.total, whole.other_municipalities, len(whole.rows), len(whole.rejected)) == (11, 1, 4, 6)
