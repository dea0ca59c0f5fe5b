"""Batch print and archive export of 200 signed agreements: one merged PDF (pypdf, from
the stored files) and the archive zip (each signed PDF with its metadata), as the
administrator's browser asks for them (a form post through the Flask test client, CSRF
checked). Goal: batch print of 200 signed agreements at most 5 s.

One complete agreement is signed through the named operations (rendered and sealed as
in production); its stored PDF is then reused for 200 signed agreements made directly in
the database, so setting up stays fast while every file merged is a real signed PDF.
The merge gains nothing in time from the copies being alike: each stored PDF is read and
its pages copied on its own, with nothing cached from one to the next. Only the merged
file's size is flattered: identical fonts are written once, which for copies is nearly
everything (distinct agreements share less: some 40 % smaller rather than 80 %).

Run with `make bench`. A script, not a test: figures vary with the machine. Runs on a
temporary SQLite file, and on PostgreSQL too when BENCH_POSTGRES_URL (default: the local
test server) is reachable: in a database of its own, created and dropped here.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from agreement_data import write_all_sections  # noqa: E402
from databases import on_both_databases  # noqa: E402
from helpers import PASSWORD, CSRFClient  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts, agreements  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.lifecycle import Actor  # noqa: E402
from dugnad.models import (  # noqa: E402
    Agreement,
    AgreementVersion,
    Contact,
    LinkToken,
    Organization,
    Signature,
    SignedDocument,
)
from dugnad.timeutil import now_utc  # noqa: E402

AGREEMENTS = 200
ORGANIZATIONS = 40
RUNS = 3
GOAL_S = 5.0


def signed_original(municipality_id: int, user, organizations: list[Organization]) -> Agreement:
    """One complete agreement of fifteen long-ish sections, signed and sealed as in production."""
    actor = Actor(label=user.name, user_id=user.id, ip="127.0.0.1")
    agreement = agreements.create_draft(organizations[0], user, actor, title="Samarbeid om flyktningguide")
    write_all_sections(agreement, user, actor)
    agreements.send(agreement, actor)
    db.session.flush()
    link = db.session.scalar(select(LinkToken))
    agreements.accept(agreement, link, "Kari Nordmann", "styreleder", actor)
    agreements.countersign(agreement, user, "Kommunedirektør", actor)
    db.session.commit()
    return agreement


def copies(original: Agreement, organizations: list[Organization], user) -> list[int]:
    """AGREEMENTS signed agreements carrying the original's version and signed PDF."""
    source_version = original.accepted_version
    document = original.signed_document
    year = now_utc().year
    ids = []
    for n in range(AGREEMENTS):
        organization = organizations[n % len(organizations)]
        agreement = Agreement(
            municipality_id=original.municipality_id, organization_id=organization.id, number=f"{year}-{n + 100:04d}",
            title=f"Samarbeid nr. {n + 1} med {organization.name}", state="draft", owner_id=user.id,
            case_reference=f"{year}/{1000 + n}",
        )
        db.session.add(agreement)
        db.session.flush()
        version = AgreementVersion(
            municipality_id=agreement.municipality_id, agreement_id=agreement.id, number=1,
            content=source_version.content, html=source_version.html, sha256=source_version.sha256,
        )
        db.session.add(version)
        db.session.flush()
        # Not through the lifecycle: a bench's fixture, made directly in its final state.
        agreement.accepted_version_id = version.id
        agreement.state = "signed"
        for party, name, role in (("organization", "Kari Nordmann", "styreleder"), ("municipality", user.name, "Kommunedirektør")):
            db.session.add(Signature(
                municipality_id=agreement.municipality_id, agreement_id=agreement.id, version_id=version.id,
                party=party, name=name, role=role, version_sha256=version.sha256,
            ))
        db.session.add(SignedDocument(
            municipality_id=agreement.municipality_id, agreement_id=agreement.id, pdf=document.pdf, sha256=document.sha256,
        ))
        ids.append(agreement.id)
    db.session.commit()
    return ids


def timed(action, runs: int = RUNS) -> tuple[list[float], object]:
    timings, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - start)
    return timings, result


def report(label: str, what: str, timings: list[float], goal_s: float | None = None) -> None:
    median = statistics.median(timings)
    verdict = ""
    if goal_s is not None:
        verdict = f" – goal ≤ {goal_s:.0f} s: {'met' if max(timings) <= goal_s else ('median met' if median <= goal_s else 'NOT met')}"
    print(f"{label}: {what}: median {median:.2f} s, min {min(timings):.2f} s, max {max(timings):.2f} s over {len(timings)} runs{verdict}")


def run(url: str, label: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SERVER_NAME": "localhost", "TESTING": True})
    app.test_client_class = CSRFClient
    with app.app_context(), app.test_request_context():
        db.drop_all()
        db.create_all()
        municipality = accounts.create_municipality("Fjordvik kommune", "9999", "991000054", "Rådhusplassen 1")
        user = accounts.create_user(municipality.id, "admin@fjordvik.example.no", "Anne Admin", "admin", PASSWORD, title="Kommunedirektør")
        organizations = []
        for n in range(ORGANIZATIONS):
            organization = Organization(municipality_id=municipality.id, name=f"Fjordvik lag nr. {n + 1}", org_number=f"{910000000 + n}")
            organization.contacts.append(Contact(municipality_id=municipality.id, name="Kari Nordmann", email=f"lag{n}@example.no", is_primary=True))
            db.session.add(organization)
            organizations.append(organization)
        db.session.flush()
        start = time.perf_counter()
        original = signed_original(municipality.id, user, organizations)
        sealing = time.perf_counter() - start
        pdf = original.signed_document.pdf
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        ids = copies(original, organizations, user)
        db.session.remove()
        engine = db.engine
    print(f"{label}: {AGREEMENTS} signed agreements, each a {pages}-page signed PDF of {len(pdf) / 1024:.0f} KiB "
          f"(the one rendered and sealed took {sealing:.2f} s)")

    # Requests outside that app context, so each gets its own session, as in production.
    client = app.test_client()
    assert client.post("/login", data={"email": "admin@fjordvik.example.no", "password": PASSWORD}).status_code == 302
    chosen = {"agreement": [str(agreement_id) for agreement_id in ids]}

    def page():
        response = client.get("/agreements/print", query_string={"select": "all"})
        assert response.status_code == 200, response.status_code
        return response

    def merged():
        response = client.post("/agreements/print/merged.pdf", data=chosen)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response.get_data()

    def exported():
        response = client.post("/agreements/print/archive.zip", data=chosen)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response.get_data()

    timings, _page = timed(page)
    report(label, f"the batch page listing {AGREEMENTS} agreements, all ticked", timings)
    timings, merged_pdf = timed(merged)
    merged_reader = PdfReader(io.BytesIO(merged_pdf))
    merged_pages = len(merged_reader.pages)
    assert merged_pages == pages * AGREEMENTS, merged_pages
    # Fast, and still the signed pages: the last agreement's read as the stored file's.
    stored_text = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert [page.extract_text() for page in merged_reader.pages[-pages:]] == stored_text
    assert len(merged_reader.outline) == AGREEMENTS
    report(label, f"batch print, one PDF of {AGREEMENTS} agreements ({merged_pages} pages, {len(merged_pdf) / 2**20:.1f} MiB)", timings, GOAL_S)
    timings, archive = timed(exported)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert len(zipped.namelist()) == 2 * AGREEMENTS + 1
    report(label, f"archive export, zip of {AGREEMENTS} PDFs with metadata ({len(archive) / 2**20:.1f} MiB)", timings, GOAL_S)
    # Nothing to drop: the SQLite file's directory and the PostgreSQL database go as a whole.
    with app.app_context():
        db.session.remove()
        engine.dispose()


def main() -> None:
    on_both_databases(run, "bench_print")


if __name__ == "__main__":
    main()
