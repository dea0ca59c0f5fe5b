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

from agreement_data import write_all_sections  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts, agreements  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.lifecycle import Actor  # noqa: E402
from dugnad.models import AuditEvent, Contact, Organization  # noqa: E402

RUNS = 20


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
            write_all_sections(agreement, user, actor)
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
