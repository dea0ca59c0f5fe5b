"""Render + seal of a complete signed agreement, its agreement part four A4 pages, as
countersigning does it: WeasyPrint renders the PDF/A-3a (`documents.render_signed_pdf`), pyHanko seals it
(`seal.seal`). Goals (issue 5): at most 0.5 s median; at least 3× faster than LibreOffice
headless converting the same agreement as a document to PDF (what municipalities do today
with Word templates); 200 renders in one process grow its resident memory by at most 50 MB.

The first render + seal in a process is reported on its own (cold: WeasyPrint loads its
fonts and styles, the seal loads the municipality's PKCS#12 into its per-process signer
cache); the median and p95 are over the following, warm runs. A long-running app server
pays the cold cost once.

LibreOffice is measured only when `soffice` (or `libreoffice`) is installed: one new
process per conversion, as a person converting a document does, with a throwaway user
profile. Without it the comparison is skipped with the reason.

The agreement part is four pages (fifteen sections with their clauses and some text of
their own, six activity rows); the signed document adds a signature page and the audit
trail (two pages: nineteen events, each with its browser's user agent), seven in all. A
complete fifteen-section agreement cannot be shorter than three pages, so "a 4-page
agreement" is read as the agreement's own pages.

Run with `make bench`. A script, not a test: figures vary with the machine. SQLite, in a
temporary file.
"""

from __future__ import annotations

import gc
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agreement_data import write_all_sections  # noqa: E402
from flask import render_template  # noqa: E402
from flask_babel import force_locale  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts, agreements, seal  # noqa: E402
from dugnad.documents import render_signed_pdf  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.lifecycle import Actor  # noqa: E402
from dugnad.models import AuditEvent, Contact, LinkToken, Organization  # noqa: E402
from dugnad.sections import DEFAULT_CLAUSES  # noqa: E402

RUNS = 20
MEMORY_RUNS = 200
LIBREOFFICE_RUNS = 5
LIBREOFFICE_TIMEOUT_S = 180
GOAL_S = 0.5
GOAL_SPEEDUP = 3.0
GOAL_MEMORY_MB = 50
#: Characters of text per section: with the structured fields and six activity rows the
#: agreement part comes to four A4 pages.
SECTION_CHARS = 330

SENTENCES = (
    "Partene samarbeider om at nye innbyggere raskt blir en del av lokalsamfunnet.",
    "Organisasjonen stiller med frivillige som møter deltakerne jevnlig, og kommunen bidrar med lokaler og en fast kontaktperson.",
    "Frivillige som arbeider med barn, viser politiattest til organisasjonen før de starter.",
    "Kontaktpersonene møtes minst to ganger i året og sier fra til hverandre når noe endrer seg.",
    "Aktivitetene er gratis og åpne for alle i målgruppen, også for familiene deres.",
)
#: The structured fields of the sections that have them, as a real agreement fills them.
FILLED = {
    "parties": {
        "municipality_signatory": "Ola Nordmann", "municipality_signatory_title": "Kommunedirektør",
        "organization_signatory": "Kari Nordmann", "organization_signatory_role": "Styreleder", "place": "Fjordvik",
    },
    "activities": {"rows": [
        {"area_id": "", "area": area, "what": what, "where": "Biblioteket i Fjordvik sentrum",
         "how_often": "Hver tirsdag kl. 17–19, unntatt i skoleferiene", "leader": "Kari Nordmann"}
        for area, what in (
            ("Skole og læring", "Leksehjelp for 5.–10. trinn"), ("Språk", "Språkkafé"),
            ("Møteplasser", "Flyktningguide"), ("Idrett", "Fotballtrening for jenter"),
            ("Friluftsliv", "Turgruppe"), ("Møteplasser", "Foreldrekafé"),
        )
    ]},
    "contacts": {
        "municipality_name": "Siri Saksbehandler", "municipality_role": "Flyktningkonsulent",
        "municipality_email": "siri@fjordvik.kommune.example.no", "municipality_phone": "+47 99 88 77 66",
        "organization_name": "Kari Nordmann", "organization_role": "Styreleder",
        "organization_email": "kari@lag.example.no", "organization_phone": "41 22 33 44",
    },
    "economy": {"grant": "125000", "payment_schedule": "Tilskuddet utbetales innen 1. mars.",
                "reporting": "Organisasjonen rapporterer om bruken innen 1. februar året etter."},
    "evaluation": {"interval_months": "12"},
    "duration": {"start": "2027-01-01", "end": "2028-12-31", "notice_months": "3"},
}
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"


def long_text(key: str, size: int | None = None) -> str:
    """A section's default clause followed by plain Norwegian, about `size` (default
    SECTION_CHARS) characters."""
    size = SECTION_CHARS if size is None else size
    text = DEFAULT_CLAUSES[key]["nb"]
    n = 0
    while len(text) < size:
        text += ("\n\n" if n % 3 == 0 else " ") + SENTENCES[n % len(SENTENCES)]
        n += 1
    return text


def resident_mb() -> float:
    """The process's current resident memory (VmRSS), not its peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def figures(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def agreement_pages(pdf: bytes) -> int:
    """Pages before the signature page (its heading, in bokmål, starts a new page)."""
    for n, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):
        if page.extract_text().lstrip().startswith("Signaturer"):
            return n
    return 0


def load() -> str:
    return "load average " + " ".join(f"{figure:.2f}" for figure in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def build(municipality_id: int, user, organization: Organization):
    """One complete agreement, written, sent and accepted through the named operations."""
    staff = Actor(label=user.name, user_id=user.id, ip="10.20.30.40", user_agent=BROWSER)
    agreement = agreements.create_draft(organization, user, staff, title="Samarbeid om inkludering av nye innbyggere")
    write_all_sections(agreement, user, staff, text_for=long_text, filled=FILLED)
    agreements.send(agreement, staff)
    db.session.flush()
    link = db.session.scalar(select(LinkToken).where(LinkToken.municipality_id == municipality_id))
    organization_actor = Actor(label="Kari Nordmann (via lenke)", ip="84.210.1.2", user_agent=PHONE)
    agreements.accept(agreement, link, "Kari Nordmann", "styreleder", organization_actor, typed_signature=True)
    db.session.flush()
    return agreement, staff


def events_of(agreement) -> list[AuditEvent]:
    """The agreement's audit trail, as countersigning reads it."""
    return agreements.history(agreement)


def render_and_seal(agreement, events, recipients) -> tuple[bytes, float, float]:
    """The sealed PDF, and the seconds spent rendering and sealing it."""
    start = time.perf_counter()
    pdf = render_signed_pdf(agreement, agreement.accepted_version, events, recipients=recipients)
    rendered = time.perf_counter()
    sealed = seal.seal(pdf, agreement.municipality_id)
    return sealed, rendered - start, time.perf_counter() - rendered


def as_html_document(app, agreement, events, recipients) -> str:
    """The same signed document as one self-contained HTML file, its stylesheet inlined, as
    a word processor would open it. Inter's web fonts (woff2, @font-face) are left out:
    LibreOffice does not load them and uses an installed font instead."""
    version = agreement.accepted_version
    with force_locale(version.content.get("language", "nb")):
        html = render_template(
            "pdf/signed_agreement.html", agreement=agreement, version=version,
            signatures=agreement.signatures, events=events, recipients=recipients,
        )
    css = (Path(app.static_folder) / "css" / "document.css").read_text(encoding="utf-8")
    html = re.sub(r'\s*<link rel="stylesheet" href="vendor/inter/inter.css">', "", html)
    return html.replace('<link rel="stylesheet" href="css/document.css">', f"<style>\n{css}\n</style>")


def libreoffice(html: str) -> list[float] | str:
    """Seconds per conversion (a new soffice process each), or why none was measured."""
    program = shutil.which("soffice") or shutil.which("libreoffice")
    if program is None:
        return ("LibreOffice is not installed (no soffice or libreoffice on PATH; "
                "apt-get install --no-install-recommends libreoffice-writer-nogui)")
    with tempfile.TemporaryDirectory(prefix="bench-seal-lo-") as tmp:
        source = Path(tmp) / "samarbeidsavtale.html"
        source.write_text(html, encoding="utf-8")
        output = Path(tmp) / "pdf"
        # A throwaway profile: never the user's own, and made once, untimed, as on a desk
        # where LibreOffice has been started before.
        command = [program, f"-env:UserInstallation=file://{tmp}/lo-profile", "--headless", "--norestore",
                   "--convert-to", "pdf", "--outdir", str(output), str(source)]
        converted = output / "samarbeidsavtale.pdf"
        timings = []
        for n in range(LIBREOFFICE_RUNS + 1):
            converted.unlink(missing_ok=True)
            start = time.perf_counter()
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=LIBREOFFICE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                return f"LibreOffice did not finish a conversion within {LIBREOFFICE_TIMEOUT_S} s"
            elapsed = time.perf_counter() - start
            if result.returncode != 0 or not converted.is_file():
                message = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
                return f"LibreOffice failed (exit {result.returncode}): {message[0][:200]}"
            if n == 0:
                print(f"{version_of(program)}: first conversion, making its profile: {ms(elapsed)} "
                      f"(not counted); its PDF: {pages(converted.read_bytes())} pages")
            else:
                timings.append(elapsed)
        return timings


def version_of(program: str) -> str:
    try:
        result = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "(version unknown)"
    return (result.stdout.strip() or "(version unknown)")[:60]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite", "SECRET_KEY": "bench",
                          "SERVER_NAME": "localhost"})
        with app.app_context(), app.test_request_context():
            db.create_all()
            municipality = accounts.create_municipality("Fjordvik kommune", "9999", "991000054", "Rådhusplassen 1")
            user = accounts.create_user(municipality.id, "admin@fjordvik.example.no", "Anne Admin", "admin", "x" * 12)
            organization = Organization(municipality_id=municipality.id, name="Fjordvik Røde Kors",
                                        org_number="991000003", address="Storgata 1", postal_code="6650", city="Fjordvik")
            organization.contacts.append(Contact(municipality_id=municipality.id, name="Kari Nordmann", role="styreleder",
                                                 email="kari@lag.example.no", is_primary=True))
            db.session.add(organization)
            db.session.flush()
            agreement, staff = build(municipality.id, user, organization)
            recipients = [organization.notify_email]

            # Made once per municipality, on its first signing ever; not part of any render.
            start = time.perf_counter()
            seal.certificate_for(municipality.id)
            print(f"self-signed seal certificate made (once per municipality, not counted): "
                  f"{ms(time.perf_counter() - start)}")

            # Cold: the first render + seal in this process, of the accepted agreement (one
            # signature and one audit row fewer than the countersigned one below).
            assert not seal._signers, "the seal's signer cache should be empty before the cold run"
            _pdf, cold_render, cold_seal = render_and_seal(agreement, events_of(agreement), recipients)

            document = agreements.countersign(agreement, user, "Kommunedirektør", staff)
            db.session.commit()
            events = events_of(agreement)
            characters = sum(len(section.data.get("text", "")) for section in agreement.sections)
            print(f"signed agreement PDF (as countersigned and stored): {pages(document.pdf)} pages "
                  f"({agreement_pages(document.pdf)} of agreement, then signatures and audit trail), "
                  f"{len(document.pdf) / 1024:.0f} KiB; {len(agreement.sections)} sections, "
                  f"{f'{characters:,}'.replace(',', ' ')} characters of section text, {len(events)} audit events")
            print(f"machine: {load()}")

            renders, seals, totals = [], [], []
            for _ in range(RUNS):
                pdf, rendered, sealed = render_and_seal(agreement, events, recipients)
                renders.append(rendered)
                seals.append(sealed)
                totals.append(rendered + sealed)
            assert pages(pdf) == pages(document.pdf)
            median, p95 = figures(totals)
            print(f"cold (first in the process, not in the median): render {ms(cold_render)} + seal {ms(cold_seal)} "
                  f"= {ms(cold_render + cold_seal)}")
            print(f"warm over {RUNS} runs: render median {ms(statistics.median(renders))}, "
                  f"seal median {ms(statistics.median(seals))}; render + seal median {ms(median)}, p95 {ms(p95)}, "
                  f"min {ms(min(totals))}, max {ms(max(totals))} – goal ≤ {GOAL_S} s median: "
                  f"{'met' if median <= GOAL_S else 'NOT met'}")

            # Memory: many renders in one long-lived process, as on an app server.
            gc.collect()
            before = resident_mb()
            marks = []
            start = time.perf_counter()
            for n in range(1, MEMORY_RUNS + 1):
                pdf, _rendered, _sealed = render_and_seal(agreement, events, recipients)
                if n % 50 == 0:
                    marks.append(f"{n}: {resident_mb():.0f} MB")
            elapsed = time.perf_counter() - start
            del pdf
            gc.collect()
            after = resident_mb()
            growth = after - before
            print(f"memory: {MEMORY_RUNS} renders + seals in {elapsed:.0f} s; resident {before:.0f} MB before, "
                  f"{after:.0f} MB after (gc.collect()), growth {growth:+.1f} MB – goal ≤ {GOAL_MEMORY_MB} MB: "
                  f"{'met' if growth <= GOAL_MEMORY_MB else 'NOT met'} (along the way: {', '.join(marks)})")

            html = as_html_document(app, agreement, events, recipients)

        outcome = libreoffice(html)
        if isinstance(outcome, str):
            print(f"LibreOffice comparison skipped: {outcome}")
            return
        office = statistics.median(outcome)
        print(f"LibreOffice headless, same agreement as HTML to PDF, a new process each: median {ms(office)} over "
              f"{len(outcome)} conversions (min {ms(min(outcome))}, max {ms(max(outcome))})")
        speedup = office / median
        print(f"machine: {load()}")
        print(f"LibreOffice median / render + seal warm median = {speedup:.2f} (render + seal "
              f"{'faster' if speedup >= 1 else 'slower'}) – goal ≥ {GOAL_SPEEDUP:.0f}× faster: "
              f"{'met' if speedup >= GOAL_SPEEDUP else 'NOT met'}; against the cold render + seal: "
              f"{office / (cold_render + cold_seal):.2f}")


if __name__ == "__main__":
    main()
