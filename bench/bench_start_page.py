"""The staff start page ("what needs me", the pipeline chart, activity coverage) for a large
municipality: 600 organisations, 400 agreements in every state, 40 meetings with their
invitations, 30,000 audit events. Goal (issue 6): at most 60 ms server time, median, with
a fixed number of SQL queries whatever the data size.

The data is written straight into the database (a bench's fixture, not the lifecycle):
the page only reads it. Server time is the Flask test client's round trip (the app's
whole request handling, no network), as an administrator and as a staff member. The
number of SQL statements is counted for the same page on a municipality with almost
nothing in it and on the large one: they must be equal.

Run with `make bench`. A script, not a test: figures vary with the machine. Runs on a
temporary SQLite file, and on PostgreSQL too when BENCH_POSTGRES_URL (default: the local
test server) is reachable.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from databases import on_both_databases  # noqa: E402
from helpers import PASSWORD, CSRFClient  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.models import (  # noqa: E402
    ActivityArea,
    Agreement,
    AgreementSection,
    AgreementVersion,
    AuditEvent,
    Contact,
    Invitation,
    Meeting,
    Organization,
)
from dugnad.timeutil import now_utc, today_oslo  # noqa: E402

ORGANIZATIONS = 600
AGREEMENTS = 400
MEETINGS = 40
AUDIT_EVENTS = 30_000
RUNS = 60
GOAL_MS = 60
#: How many agreements are in each state (400 in all): most signed, the rest under way.
STATES = {"signed": 250, "draft": 50, "sent": 40, "accepted": 20, "declined": 15, "changes_requested": 15, "withdrawn": 10}


def build(municipality_id: int, user_id: int, rng: random.Random, small: bool = False) -> None:
    """A large municipality's data (or, `small`, one organisation with one of everything)."""
    now, today = now_utc(), today_oslo()
    areas = db.session.scalars(select(ActivityArea.id).where(ActivityArea.municipality_id == municipality_id)).all()
    n_orgs, n_meetings, n_events = (3, 1, 10) if small else (ORGANIZATIONS, MEETINGS, AUDIT_EVENTS)
    states = {state: 1 for state in STATES} if small else STATES
    organizations = []
    for n in range(n_orgs):
        organization = Organization(municipality_id=municipality_id, name=f"Lag nr. {n + 1}", org_number=None)
        organization.contacts.append(Contact(municipality_id=municipality_id, name=f"Leder {n}", email=f"lag{n}@example.no", is_primary=True))
        organizations.append(organization)
    db.session.add_all(organizations)
    db.session.flush()
    meetings = []
    for n in range(n_meetings):
        # Half held already, half to come.
        starts = now + timedelta(days=(n - n_meetings // 2) * 7)
        meetings.append(Meeting(municipality_id=municipality_id, title=f"Dialogmøte {n + 1}", starts_at=starts,
                                ends_at=starts + timedelta(hours=2), place="Rådhuset"))
    db.session.add_all(meetings)
    db.session.flush()
    invitations = []
    for meeting in meetings:
        held = meeting.starts_at < now
        for organization in rng.sample(organizations, min(len(organizations), 35)):
            answer = rng.choice(("pending", "attending", "attending", "not_attending"))
            invitations.append({
                "municipality_id": municipality_id, "meeting_id": meeting.id, "organization_id": organization.id,
                "answer": answer, "answered_at": None if answer == "pending" else now, "comment": "",
                "participant_names": "", "reminders_sent": 0,
                "attended": (answer == "attending") if held else None, "created_at": now,
            })
    db.session.execute(insert(Invitation), invitations)
    number = 0
    sections = []
    for state, count in states.items():
        for _ in range(count):
            number += 1
            organization = organizations[number % len(organizations)]
            valid_from = valid_to = None
            if state == "signed":
                # Most in force, some expiring within 60 days, some ended.
                valid_from = today - timedelta(days=rng.randint(30, 700))
                valid_to = today + timedelta(days=rng.choice((-90, 20, 45, 200, 400, 700)))
            agreement = Agreement(
                municipality_id=municipality_id, organization_id=organization.id, number=f"2026-{number:04d}",
                title=f"Samarbeid {number}", state="draft", owner_id=user_id, valid_from=valid_from, valid_to=valid_to,
            )
            db.session.add(agreement)
            db.session.flush()
            if state in ("accepted", "signed"):  # these name the version the organisation accepted
                version = AgreementVersion(municipality_id=municipality_id, agreement_id=agreement.id, number=1,
                                           content={}, html="<p>Avtale</p>", sha256="0" * 64)
                db.session.add(version)
                db.session.flush()
                agreement.accepted_version_id = version.id
            agreement.state = state
            rows = [{"area_id": str(rng.choice(areas)), "area": "", "what": "Aktivitet", "where": "Biblioteket",
                     "how_often": "Ukentlig", "leader": "Kari"} for _ in range(rng.randint(1, 3))]
            sections.append({"municipality_id": municipality_id, "agreement_id": agreement.id, "key": "activities",
                             "data": {"rows": rows, "text": ""}, "status": "completed", "revision": 1})
    db.session.execute(insert(AgreementSection), sections)
    agreement_ids = db.session.scalars(select(Agreement.id).where(Agreement.municipality_id == municipality_id)).all()
    events = [{
        "municipality_id": municipality_id, "actor_user_id": user_id, "actor_label": "Anne Admin",
        "action": rng.choice(("edit", "send", "remind", "opened", "accept")), "object_type": "agreement",
        "object_id": rng.choice(agreement_ids), "created_at": now - timedelta(minutes=n), "ip": "10.0.0.1",
        "user_agent": "Mozilla/5.0", "details": {},
    } for n in range(n_events)]
    for start in range(0, len(events), 5000):
        db.session.execute(insert(AuditEvent), events[start:start + 5000])
    db.session.commit()


def statements(app, client, path: str = "/") -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def timed(client, path: str) -> list[float]:
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200
    return timings


def run(url: str, label: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SERVER_NAME": "localhost", "TESTING": True})
    app.test_client_class = CSRFClient
    rng = random.Random(6)
    with app.app_context(), app.test_request_context():
        db.drop_all()
        db.create_all()
        large = accounts.create_municipality("Storby kommune", "9998", "991000054", "Rådhusplassen 1")
        small = accounts.create_municipality("Litjbygd kommune", "9997", "991000054", "Rådhuset")
        people = {}
        for municipality, prefix in ((large, "stor"), (small, "lit")):
            for role in ("admin", "staff"):
                email = f"{role}@{prefix}.example.no"
                people[(prefix, role)] = accounts.create_user(municipality.id, email, f"{role} {prefix}", role, PASSWORD)
        db.session.commit()
        start = time.perf_counter()
        build(large.id, people[("stor", "admin")].id, rng)
        build(small.id, people[("lit", "admin")].id, rng, small=True)
        setup = time.perf_counter() - start
        counts = {model.__name__: db.session.scalar(select(db.func.count()).select_from(model).where(model.municipality_id == large.id))
                  for model in (Organization, Agreement, Invitation, AuditEvent)}
        db.session.remove()
    events = f"{counts['AuditEvent']:,}".replace(",", " ")
    print(f"{label}: large municipality: {counts['Organization']} organisations, {counts['Agreement']} agreements, "
          f"{counts['Invitation']} invitations in {MEETINGS} meetings, "
          f"{events} audit events (written in {setup:.1f} s)")

    for role in ("admin", "staff"):
        clients = {}
        for prefix in ("stor", "lit"):
            client = app.test_client()
            response = client.post("/login", data={"email": f"{role}@{prefix}.example.no", "password": PASSWORD})
            assert response.status_code == 302
            clients[prefix] = client
        page = clients["stor"].get("/").get_data(as_text=True)
        assert "Hvor organisasjonene står" in page and "Venter på deg" in page
        timings = timed(clients["stor"], "/")
        median = statistics.median(timings) * 1000
        ordered = sorted(timings)
        p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
        few, many = statements(app, clients["lit"]), statements(app, clients["stor"])
        print(f"{label}: start page as {role}: median {median:.1f} ms, p95 {p95:.1f} ms over {RUNS} requests, "
              f"{len(page) / 1024:.0f} KiB – goal ≤ {GOAL_MS} ms median: {'met' if median <= GOAL_MS else 'NOT met'}; "
              f"SQL statements: {many} for the large municipality, {few} for the small one "
              f"({'the same' if many == few else 'NOT the same'})")
    pipeline = timed(clients["stor"], "/overview/pipeline")
    print(f"{label}: the pipeline chart alone (htmx refresh): median {statistics.median(pipeline) * 1000:.1f} ms")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    on_both_databases(run, "bench_start_page")


if __name__ == "__main__":
    main()
