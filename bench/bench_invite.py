"""How long inviting 300 organisations takes: one POST of the send form through the
Flask test client, which queues 300 emails, each with its own link and .ics file.

Goal: at most 3 s to queue them all. Run with `make bench`. A script, not a test:
figures vary with the machine. Each run uses a fresh meeting (and database rows).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import PASSWORD, CSRFClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.models import Contact, Meeting, Organization, OutboxAttachment  # noqa: E402
from dugnad.timeutil import now_utc  # noqa: E402

ORGANIZATIONS = 300
RUNS = 5
GOAL_SECONDS = 3.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite")
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SERVER_NAME": "localhost", "TESTING": True})
        app.test_client_class = CSRFClient
        with app.app_context():
            db.create_all()
            municipality = accounts.create_municipality("Fjordvik kommune", "9999", "991000054", "Rådhusplassen 1")
            accounts.create_user(municipality.id, "admin@example.no", "Anne Admin", "admin", PASSWORD)
            ids = []
            for n in range(ORGANIZATIONS):
                organization = Organization(municipality_id=municipality.id, name=f"Lag nummer {n:03d}")
                organization.contacts.append(
                    Contact(municipality_id=municipality.id, name=f"Leder {n}", email=f"leder{n}@lag.example.no", is_primary=True)
                )
                db.session.add(organization)
                db.session.flush()
                ids.append(str(organization.id))
            db.session.commit()
            municipality_id = municipality.id

        client = app.test_client()
        assert client.post("/login", data={"email": "admin@example.no", "password": PASSWORD}).status_code == 302
        timings = []
        for run in range(RUNS):
            with app.app_context():
                start = now_utc() + timedelta(days=10 + run)
                meeting = Meeting(
                    municipality_id=municipality_id, title=f"Dialogmøte {run}", starts_at=start,
                    ends_at=start + timedelta(hours=2), place="Rådhuset", room="Sal A", agenda="Velkommen",
                )
                db.session.add(meeting)
                db.session.commit()
                meeting_id = meeting.id
            begin = time.perf_counter()
            response = client.post(f"/meetings/{meeting_id}/invite", data={"organizations": ids})
            timings.append(time.perf_counter() - begin)
            assert response.status_code == 302, response.status_code
        with app.app_context():
            attachments = db.session.scalar(select(func.count(OutboxAttachment.id)))
            sample = db.session.scalar(select(OutboxAttachment.data).limit(1))
            db.session.remove()
            db.engine.dispose()
        assert attachments == ORGANIZATIONS * RUNS, attachments
        median = statistics.median(timings)
        print(f"invite {ORGANIZATIONS} organisations (emails + .ics queued, one POST): "
              f"median {median:.2f} s, min {min(timings):.2f} s, max {max(timings):.2f} s over {RUNS} runs "
              f"({'within' if median <= GOAL_SECONDS else 'OVER'} the {GOAL_SECONDS:.0f} s goal); "
              f"one .ics is {len(sample)} bytes")


if __name__ == "__main__":
    main()
