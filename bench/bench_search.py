"""How long the registry's live search takes with 5,000 organisations, and how many SQL
statements each request costs (it must not depend on the registry's size).

Run with `make bench`. A script, not a test: figures vary with the machine. Runs on a
temporary SQLite file, and on PostgreSQL too when BENCH_POSTGRES_URL (default: the local
test server) is reachable: in a database of its own, created and dropped here.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from databases import on_both_databases  # noqa: E402
from sqlalchemy import event  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.models import (  # noqa: E402
    ActivityArea,
    Agreement,
    Contact,
    Invitation,
    Meeting,
    Organization,
    OrganizationType,
)
from dugnad.timeutil import now_utc  # noqa: E402

SIZES = (50, 5000)
REQUESTS = 200
PASSWORD = "bench-password-long"

WORDS = ("Røde Kors", "Idrettslag", "Sanitetsforening", "Frivilligsentral", "Korps", "Kor", "Språkkafé",
         "Turlag", "Sjakklubb", "Menighet", "Forening", "Ungdomslag", "Bygdekvinnelag", "Innvandrerforening")
PLACES = ("Fjordvik", "Nordby", "Sørli", "Austmark", "Vestre", "Bakken", "Dalen", "Holmen", "Åsen", "Øyra")
FIRST = ("Kari", "Ola", "Amina", "Yonas", "Ingrid", "Per", "Fatima", "Lars", "Siri", "Ahmed")
LAST = ("Nordmann", "Hansen", "Yusuf", "Tesfay", "Berg", "Olsen", "Ali", "Johansen", "Lie", "Haugen")


def populate(size: int, rng: random.Random) -> str:
    """A municipality with `size` organisations; returns its staff login."""
    municipality = accounts.create_municipality("Fjordvik kommune", "9999", "991000054")
    email = "staff@fjordvik.example.no"
    accounts.create_user(municipality.id, email, "Sigurd Staff", "staff", PASSWORD)
    areas = db.session.scalars(db.select(ActivityArea).where(ActivityArea.municipality_id == municipality.id)).all()
    start = now_utc() + timedelta(days=7)
    meetings = [
        Meeting(municipality_id=municipality.id, title=f"Dialogmøte {n}", starts_at=start + timedelta(days=n),
                ends_at=start + timedelta(days=n, hours=2), place="Rådhuset")
        for n in range(5)
    ]
    db.session.add_all(meetings)
    types = [t.value for t in OrganizationType]
    organizations = []
    for n in range(size):
        organization = Organization(
            municipality_id=municipality.id,
            name=f"{rng.choice(PLACES)} {rng.choice(WORDS)} {n}",
            org_number=f"{900000000 + n}",
            org_type=rng.choice(types),
            email="" if n % 7 == 0 else f"post{n}@lag.example.no",
            activity_areas=rng.sample(areas, rng.randint(0, 3)),
        )
        for c in range(rng.randint(1, 3)):
            organization.contacts.append(Contact(
                municipality_id=municipality.id,
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                email=f"kontakt{n}-{c}@lag.example.no",
                is_primary=c == 0,
            ))
        organizations.append(organization)
    db.session.add_all(organizations)
    db.session.flush()
    # Some invited (a third of those answered), some with agreements, a few deleted.
    for n, organization in enumerate(rng.sample(organizations, size // 5)):
        db.session.add(Invitation(
            municipality_id=municipality.id, meeting_id=meetings[n % 5].id, organization_id=organization.id,
            answer="attending" if n % 3 == 0 else "pending", answered_at=now_utc() if n % 3 == 0 else None,
        ))
    for n, organization in enumerate(rng.sample(organizations, size // 20)):
        db.session.add(Agreement(
            municipality_id=municipality.id, organization_id=organization.id, number=f"2026-{n:04d}",
            title="Samarbeid", state="draft", content={},
        ))
    for organization in rng.sample(organizations, size // 100):
        organization.deleted_at = now_utc()
    db.session.commit()
    return email


def queries(rng: random.Random) -> list[dict]:
    """What people type and choose: name parts, numbers, contacts, and some filters."""
    result = []
    for n in range(REQUESTS):
        kind = n % 5
        if kind == 0:
            args = {"q": rng.choice(WORDS).split()[0][: rng.randint(3, 6)].lower()}
        elif kind == 1:
            args = {"q": str(rng.randint(900000000, 900004999))[: rng.randint(4, 9)]}
        elif kind == 2:
            args = {"q": rng.choice(LAST)[:4]}
        elif kind == 3:
            args = {"q": rng.choice(PLACES), "stage": rng.choice(("not_invited", "invited", "answered", "drafted"))}
        else:
            args = {"q": rng.choice(WORDS)[:3], "type": rng.choice([t.value for t in OrganizationType]), "sort": "-created"}
        result.append(args)
    return result


class StatementCounter:
    """An engine event listener counting the SQL statements sent."""

    def __init__(self):
        self.count = 0

    def __call__(self, *_args):
        self.count += 1


def run(url: str, label: str) -> None:
    for size in SIZES:
        rng = random.Random(size)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SERVER_NAME": "localhost",
                          "WTF_CSRF_ENABLED": False})
        with app.app_context():
            db.drop_all()
            db.create_all()
            built = time.perf_counter()
            email = populate(size, rng)
            built = time.perf_counter() - built
            db.session.remove()
            engine = db.engine
        # Requests outside that app context, so each gets its own session, as in production.
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
        statements = StatementCounter()
        event.listen(engine, "before_cursor_execute", statements)
        timings, counts = [], []
        for args in [{"q": "warm"}, *queries(rng)]:
            statements.count = 0
            start = time.perf_counter()
            response = client.get("/organizations/", query_string=args, headers={"HX-Request": "true"})
            timings.append(time.perf_counter() - start)
            counts.append(statements.count)
            assert response.status_code == 200
        timings, counts = timings[1:], counts[1:]
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(f"{label}, {size} organisations (built in {built:.1f} s): live search over {REQUESTS} requests: "
              f"median {statistics.median(timings) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; "
              f"SQL statements per request: {min(counts)}–{max(counts)}")
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def main() -> None:
    on_both_databases(run, "bench_search")


if __name__ == "__main__":
    main()
