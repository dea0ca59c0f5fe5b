"""Printing and archive: many signed agreements as one PDF (the stored files merged, not
re-rendered), the archive export (zip with each signed PDF and its metadata), the
filters that choose them, and the case reference the export carries."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from helpers import link_in, login, outbox
from pypdf import PdfReader
from sqlalchemy import select
from world import ACCEPT, countersign_form, write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement, AuditEvent, Municipality, Signature, SignedDocument
from dugnad.timeutil import OSLO, now_utc

ORG_NUMBER = "991000003"


def make_signed(app, client, organization_id: int, org_email: str, titles: list[str]) -> list[int]:
    """Agreements signed through the app's own pages, one per title: written, sent,
    accepted through the emailed link, countersigned."""
    visitor = app.test_client()
    ids = []
    for title in titles:
        response = client.post("/agreements/new", data={"organization_id": str(organization_id)})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
        write_agreement(client, agreement_id, title)
        assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
        assert visitor.post(link_in(outbox(app, to=org_email)[-1]), data=ACCEPT).status_code == 302
        response = client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        ids.append(agreement_id)
    return ids


@pytest.fixture
def kommune(app, factory, client):
    """A municipality with an administrator logged in, and two organisations with org numbers."""
    municipality_id = factory.municipality("Lunde kommune")
    admin = factory.user(municipality_id, "admin", name="Anne Admin")
    staff = factory.user(municipality_id, "staff")
    first = factory.organization(municipality_id, name="Lunde Røde Kors", email="leder@rodekors.example.no", org_number=ORG_NUMBER)
    second = factory.organization(municipality_id, name="Lunde Idrettslag", email="post@il.example.no", org_number="991000011")
    login(client, admin)
    return {"id": municipality_id, "admin": admin, "staff": staff, "first": first, "second": second}


def _stored(app, ids) -> dict[int, SignedDocument]:
    with app.app_context():
        documents = {
            document.agreement_id: document
            for document in db.session.scalars(select(SignedDocument).where(SignedDocument.agreement_id.in_(ids)))
        }
        db.session.expunge_all()
        return documents


def _numbers(app, ids) -> dict[int, str]:
    with app.app_context():
        return {agreement_id: db.session.get(Agreement, agreement_id).number for agreement_id in ids}


def _today() -> str:
    return now_utc().astimezone(OSLO).date().isoformat()


def test_merged_pdf_is_the_stored_pdfs_in_number_order(app, client, kommune):
    ids = make_signed(app, client, kommune["first"], "leder@rodekors.example.no", ["Leksehjelp", "Språkkafé", "Flyktningguide"])
    stored = _stored(app, ids)
    chosen = [ids[2], ids[0]]  # posted out of order; printed in number order

    response = client.post("/agreements/print/merged.pdf", data={"agreement": [str(i) for i in chosen]})

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename=samarbeidsavtaler-{_today()}.pdf"
    merged = PdfReader(io.BytesIO(response.get_data()))
    parts = [PdfReader(io.BytesIO(stored[i].pdf)) for i in sorted(chosen)]
    assert len(merged.pages) == sum(len(part.pages) for part in parts)
    offset = 0
    for part in parts:  # each stored PDF's pages, whole and in place
        for n, page in enumerate(part.pages):
            assert merged.pages[offset + n].extract_text() == page.extract_text()
        offset += len(part.pages)
    text = "".join(page.extract_text() for page in merged.pages)
    assert text.index("Leksehjelp") < text.index("Flyktningguide")
    assert "Språkkafé" not in text  # not chosen
    numbers = _numbers(app, ids)
    assert [item.title for item in merged.outline] == [f"{numbers[ids[0]]} Leksehjelp", f"{numbers[ids[2]]} Flyktningguide"]
    # For printing only: the seals stay behind, as a viewer would show each copied one
    # as broken (its signature covers the bytes of its own file, not this one).
    assert "/AcroForm" not in merged.trailer["/Root"]
    assert not any("/Annots" in page for page in merged.pages)


def test_archive_zip_has_each_pdf_and_its_metadata(app, client, kommune):
    ids = make_signed(app, client, kommune["first"], "leder@rodekors.example.no", ["Leksehjelp", "Språkkafé"])
    response = client.post(f"/agreements/{ids[0]}/case-reference", data={"case_reference": "  2026/1234-5  "})
    assert response.status_code == 302
    stored = _stored(app, ids)
    numbers = _numbers(app, ids)

    response = client.post("/agreements/print/archive.zip", data={"agreement": [str(ids[1]), str(ids[0])]})

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == f"attachment; filename=samarbeidsavtaler-{_today()}.zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    expected = ["manifest.json"]
    for agreement_id in ids:
        number = numbers[agreement_id]
        expected += [f"{number}/samarbeidsavtale-{number}.pdf", f"{number}/metadata.json"]
    assert sorted(archive.namelist()) == sorted(expected)

    with app.app_context():
        signatures = {
            (s.agreement_id, s.party): s for s in db.session.scalars(select(Signature).where(Signature.agreement_id.in_(ids)))
        }
        versions = {agreement_id: db.session.get(Agreement, agreement_id).accepted_version.sha256 for agreement_id in ids}
        municipality = db.session.get(Municipality, kommune["id"])
        municipality_party = {"name": municipality.name, "org_number": municipality.org_number}
        db.session.expunge_all()
    for agreement_id, title in zip(ids, ["Leksehjelp", "Språkkafé"], strict=True):
        number = numbers[agreement_id]
        assert archive.read(f"{number}/samarbeidsavtale-{number}.pdf") == stored[agreement_id].pdf  # byte for byte
        meta = json.loads(archive.read(f"{number}/metadata.json"))
        assert (meta["title"], meta["number"], meta["state"]) == (title, number, "signed")
        assert meta["case_reference"] == ("2026/1234-5" if agreement_id == ids[0] else None)
        assert meta["municipality"] == municipality_party
        assert meta["organization"] == {"name": "Lunde Røde Kors", "org_number": ORG_NUMBER}
        assert meta["fingerprints"]["pdf_sha256"] == stored[agreement_id].sha256
        assert meta["fingerprints"]["version_sha256"] == versions[agreement_id]
        organization_signature = signatures[(agreement_id, "organization")]
        municipality_signature = signatures[(agreement_id, "municipality")]
        assert meta["dates"]["accepted"] == organization_signature.signed_at.astimezone(OSLO).isoformat(timespec="seconds")
        assert meta["dates"]["signed"] == municipality_signature.signed_at.astimezone(OSLO).isoformat(timespec="seconds")
        for moment in ("sent", "accepted", "signed"):
            parsed = datetime.fromisoformat(meta["dates"][moment])
            assert parsed.utcoffset() == parsed.astimezone(OSLO).utcoffset()  # Norway's offset, named
        assert (meta["dates"]["valid_from"], meta["dates"]["valid_to"]) == ("2027-01-01", "2027-12-31")
        assert meta["signatories"] == [
            {"party": "organization", "name": "Kari Nordmann", "role": "styreleder",
             "signed_at": meta["dates"]["accepted"]},
            {"party": "municipality", "name": "Anne Admin", "role": "Kommunedirektør",
             "signed_at": meta["dates"]["signed"]},
        ]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["count"] == 2
    assert manifest["municipality"] == municipality_party
    assert [entry["number"] for entry in manifest["agreements"]] == sorted(numbers.values())
    assert {entry["pdf_sha256"] for entry in manifest["agreements"]} == {d.sha256 for d in stored.values()}


def _listed(page: str) -> set[int]:
    return {int(value) for value in re.findall(r'name="agreement" value="(\d+)"', page)}


def test_filters_by_year_organisation_and_state(app, client, kommune):
    first = make_signed(app, client, kommune["first"], "leder@rodekors.example.no", ["Leksehjelp", "Språkkafé"])
    second = make_signed(app, client, kommune["second"], "post@il.example.no", ["Fotball for alle"])
    # An accepted agreement, not yet signed, is not offered.
    response = client.post("/agreements/new", data={"organization_id": str(kommune["first"])})
    unsigned = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    with app.app_context():
        # One was signed just before the new year (Norwegian time), 23:30 on New Year's Eve.
        signature = db.session.scalar(select(Signature).where(Signature.agreement_id == first[1], Signature.party == "municipality"))
        signature.signed_at = datetime(2025, 12, 31, 23, 30, tzinfo=OSLO)
        db.session.commit()
    this_year = now_utc().astimezone(OSLO).year

    page = client.get("/agreements/print").get_data(as_text=True)
    assert _listed(page) == {*first, *second}
    assert unsigned not in _listed(page)
    assert 'value="2025"' in page and f'value="{this_year}"' in page
    assert _listed(client.get("/agreements/print", query_string={"year": "2025"}).get_data(as_text=True)) == {first[1]}
    assert _listed(client.get("/agreements/print", query_string={"year": str(this_year)}).get_data(as_text=True)) == {first[0], *second}
    by_organisation = client.get("/agreements/print", query_string={"organization": str(kommune["second"])})
    assert _listed(by_organisation.get_data(as_text=True)) == set(second)
    both = client.get("/agreements/print", query_string={"organization": str(kommune["first"]), "year": str(this_year), "state": "signed"})
    assert _listed(both.get_data(as_text=True)) == {first[0]}
    # htmx gets the list alone; "select all shown" ticks exactly what is shown.
    fragment = client.get("/agreements/print", query_string={"year": "2025", "select": "all"}, headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and f'value="{first[1]}" id="agreement-{first[1]}"\n                   checked' in body
    assert _listed(body) == {first[1]}

    for query, message in (({"year": "1999"}, "Velg et år fra listen."), ({"organization": "abc"}, "Velg en organisasjon fra listen."),
                           ({"state": "draft"}, "Velg en status fra listen.")):
        response = client.get("/agreements/print", query_string=query)
        assert response.status_code == 400, query
        assert message in response.get_data(as_text=True)
        assert _listed(response.get_data(as_text=True)) == set()


def test_refused_selections_produce_nothing(app, client, factory, kommune):
    own = make_signed(app, client, kommune["first"], "leder@rodekors.example.no", ["Leksehjelp"])
    # Another municipality's signed agreement.
    other = factory.municipality("Nabo kommune")
    other_admin = app.test_client()
    login(other_admin, factory.user(other, "admin"))
    foreign = make_signed(app, other_admin, factory.organization(other, name="Nabo Sjakklubb", email="sjakk@nabo.example.no"),
                          "sjakk@nabo.example.no", ["Hemmelig naboavtale"])
    # An own agreement with no signed PDF (a draft).
    response = client.post("/agreements/new", data={"organization_id": str(kommune["first"])})
    draft = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))

    for url in ("/agreements/print/merged.pdf", "/agreements/print/archive.zip"):
        for chosen in ([foreign[0]], [own[0], foreign[0]], [own[0], draft], ["abc"], [own[0], "99999999999"], ["-1"]):
            response = client.post(url, data={"agreement": [str(i) for i in chosen]})
            page = response.get_data(as_text=True)
            assert response.status_code == 400, (url, chosen)
            assert response.mimetype == "text/html"
            assert "En eller flere av de valgte avtalene finnes ikke eller er ikke signert." in page
            assert 'id="error-summary"' in page
            assert "Hemmelig naboavtale" not in page and "Nabo Sjakklubb" not in page
        response = client.post(url, data={})
        assert response.status_code == 400
        assert "Velg minst én avtale." in response.get_data(as_text=True)
        # The filters posted with the choice are kept on the page shown again.
        response = client.post(url, data={"organization": str(kommune["first"])})
        assert response.status_code == 400
        assert f'<option selected value="{kommune["first"]}">' in response.get_data(as_text=True)


def test_staff_cannot_print_or_export(app, client, kommune):
    ids = make_signed(app, client, kommune["first"], "leder@rodekors.example.no", ["Leksehjelp"])
    staff = app.test_client()
    login(staff, kommune["staff"])
    assert staff.get("/agreements/print").status_code == 403
    for url in ("/agreements/print/merged.pdf", "/agreements/print/archive.zip"):
        response = staff.post(url, data={"agreement": [str(ids[0])]})
        assert response.status_code == 403
        assert response.mimetype == "text/html"
    assert "Utskrift og arkiv" not in staff.get("/agreements/").get_data(as_text=True)
    assert 'href="/agreements/print"' in client.get("/agreements/").get_data(as_text=True)


def test_case_reference_is_set_by_staff_audited_and_bounded(app, client, factory, kommune):
    response = client.post("/agreements/new", data={"organization_id": str(kommune["first"])})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    staff = app.test_client()
    login(staff, kommune["staff"])
    url = f"/agreements/{agreement_id}/case-reference"
    assert f'href="{url}"' in staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert staff.get(url).status_code == 200

    too_long = "x" * 65
    response = staff.post(url, data={"case_reference": too_long})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Saksnummeret kan ha høyst 64 tegn." in page and 'id="error-summary"' in page
    assert too_long in page  # what was typed is kept

    response = staff.post(url, data={"case_reference": "26/00123 – Løpenr. 4567"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == f"/agreements/{agreement_id}"
    page = staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "26/00123 – Løpenr. 4567" in page and "Saksnummer endret" in page
    assert staff.post(url, data={"case_reference": "x" * 64}).status_code == 302
    with app.app_context():
        assert db.session.get(Agreement, agreement_id).case_reference == "x" * 64
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == agreement_id, AuditEvent.action == "case_reference").order_by(AuditEvent.id)
        ).all()
        assert [event.details for event in events] == [
            {"from": "", "to": "26/00123 – Løpenr. 4567"}, {"from": "26/00123 – Løpenr. 4567", "to": "x" * 64},
        ]
    # Another municipality's agreement is not found.
    other_admin = app.test_client()
    login(other_admin, factory.user(factory.municipality(), "admin"))
    assert other_admin.post(url, data={"case_reference": "Kapret"}).status_code == 404
    with app.app_context():
        assert db.session.get(Agreement, agreement_id).case_reference == "x" * 64
