"""How long rendering one signed agreement PDF takes (warm process), and its size.

Run with `make bench`. A script, not a test: figures vary with the machine.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from dugnad import accounts, agreements  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.lifecycle import Actor  # noqa: E402
from dugnad.models import AuditEvent, Contact, Organization  # noqa: E402
from dugnad.sections import SECTIONS  # noqa: E402

#: The structured fields of the sections that have them, filled as a real agreement would be.
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
RUNS = 20
PARAGRAPH = (
    "Organisasjonen stiller med frivillige som møter nye innbyggere jevnlig, og kommunen "
    "bidrar med informasjon, lokaler og en fast kontaktperson. "
) * 6


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite", "SECRET_KEY": "bench", "SERVER_NAME": "localhost"})
        with app.app_context(), app.test_request_context():
            db.create_all()
            municipality = accounts.create_municipality("Fjordvik kommune", "9999", "991000054", "Rådhusplassen 1")
            user = accounts.create_user(municipality.id, "admin@example.no", "Anne Admin", "admin", "x" * 12)
            org = Organization(municipality_id=municipality.id, name="Fjordvik Røde Kors", org_number="991000003")
            org.contacts.append(Contact(municipality_id=municipality.id, name="Kari", email="kari@example.no", is_primary=True))
            db.session.add(org)
            db.session.flush()
            actor = Actor(label="Anne Admin", user_id=user.id, ip="127.0.0.1")
            agreement = agreements.create_draft(org, user, actor, title="Samarbeid om flyktningguide")
            # Every one of the fifteen sections written, as a long real agreement would be.
            for section in SECTIONS:
                data = {**section.empty(), "text": PARAGRAPH}
                data.update(FILLED.get(section.key, {}))
                agreements.save_section(
                    agreement, section.key, data, revision=None, complete=True, explicit=True, user=user, actor=actor
                )
            agreements.send(agreement, actor)
            db.session.flush()
            from dugnad.models import LinkToken

            link = db.session.scalar(db.select(LinkToken))
            agreements.accept(agreement, link, "Kari Nordmann", "styreleder", actor)
            document = agreements.countersign(agreement, user, "Kommunedirektør", actor)
            events = db.session.scalars(db.select(AuditEvent)).all()
            version = agreement.accepted_version
            from dugnad.documents import render_signed_pdf

            timings = []
            for _ in range(RUNS):
                start = time.perf_counter()
                pdf = render_signed_pdf(agreement, version, events)
                timings.append(time.perf_counter() - start)
            import io

            from pypdf import PdfReader

            pages = len(PdfReader(io.BytesIO(document.pdf)).pages)
            print(f"signed agreement PDF: {pages} pages, {len(pdf) / 1024:.0f} KiB")
            print(f"render (WeasyPrint, warm): median {statistics.median(timings) * 1000:.0f} ms, "
                  f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms over {RUNS} runs")


if __name__ == "__main__":
    main()
