"""Many people doing the whole path at once, against gunicorn on 127.0.0.1 (issue 7): staff
register an organisation, write an agreement through the builder's fifteen sections and
send it; the organisation opens its emailed link and accepts; an administrator countersigns
(render + seal). Every client thread does this PATHS times, in four municipalities at once.

Afterwards the database must account for exactly what the clients did: one path is run
alone first to learn what one path writes (organisations, agreements, versions, signatures,
sealed documents, emails, audit events), and after the load every table must have grown by
exactly that many times the paths completed: nothing lost, nothing done twice. Any status
other than the expected one, or any exception, is an error; the goal is 0.

Run with `make bench` (or alone). SQLite first, then PostgreSQL when BENCH_POSTGRES_URL
(default: the local server) answers. BENCH_LOAD_CLIENTS and BENCH_LOAD_PATHS size it.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_national import SERVER_LOG, Session, _free_port, p95, serve  # noqa: E402
from databases import on_both_databases  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from world import ACCEPT, SECTION_FORMS, section_form  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.models import (  # noqa: E402
    Agreement,
    AgreementVersion,
    AuditEvent,
    Organization,
    OutboxMessage,
    Signature,
    SignedDocument,
)

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "8"))
PATHS = int(os.environ.get("BENCH_LOAD_PATHS", "3"))
MUNICIPALITIES = 4
PASSWORD = "bench-passord-123"
COUNTED = (Organization, Agreement, AgreementVersion, Signature, SignedDocument, OutboxMessage, AuditEvent)
_LINK = re.compile(r"https?://[^/\s]+(/r/agreement/[A-Za-z0-9_\-]+)")


def _form(session: Session, fields: dict) -> str:
    """URL-encoded form with the session's CSRF token."""
    return urlencode({**fields, "csrf_token": session.csrf})


class Client(Session):
    """A logged-in Session that knows its CSRF token and posts forms."""

    def __init__(self, port: int, email: str):
        super().__init__(port, email, password=PASSWORD)
        page = self.get("/")[1]
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post(self, path: str, fields: dict) -> tuple[int, str, str]:
        status, body, location = self.request_full(
            "POST", path, _form(self, fields), {"Content-Type": "application/x-www-form-urlencoded"})
        return status, body, location


def _review_path(app, email: str) -> str:
    """The review link in the newest email to `email`, read from the outbox as the
    organisation would read it in its mailbox."""
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.to_addr == email, OutboxMessage.body_text.contains("/r/agreement/"))
            .order_by(OutboxMessage.id.desc()).limit(1)
        )
    return _LINK.search(body).group(1)


def _version_sha(app, agreement_id: int) -> str:
    with app.app_context():
        return db.session.scalar(
            select(AgreementVersion.sha256).where(AgreementVersion.agreement_id == agreement_id)
            .order_by(AgreementVersion.number.desc()).limit(1))


def whole_path(app, port: int, staff: Client, admin: Client, name: str, timings: dict, errors: list,
               until: str = "signed") -> int | None:
    """One organisation from registration to a sealed agreement (or only until the agreement
    is "written" or "accepted"). The agreement's id when every step did what it should."""

    def step(label: str, call, expected: int):
        start = time.perf_counter()
        try:
            status, body, location = call()
        except Exception as error:  # noqa: BLE001 - a bench counts every failure
            errors.append(f"{label}: {type(error).__name__}: {error}")
            return None
        timings.setdefault(label, []).append(time.perf_counter() - start)
        if status != expected:
            errors.append(f"{label}: HTTP {status} (expected {expected}) {body[:200]!r}")
            return None
        return location

    email = f"{name}@lag.example.no"
    location = step("register organisation", lambda: staff.post("/organizations/new", {
        "name": f"Lag {name}", "contacts-0-name": "Kari Nordmann", "contacts-0-email": email,
        "contacts-0-is_primary": "y"}), 302)
    if location is None:
        return None
    organization_id = int(re.search(r"/organizations/(\d+)", location).group(1))
    location = step("new agreement", lambda: staff.post("/agreements/new", {"organization_id": str(organization_id)}), 302)
    if location is None:
        return None
    agreement_id = int(re.search(r"/agreements/(\d+)", location).group(1))
    if step("details", lambda: staff.post(f"/agreements/{agreement_id}/details", {"title": f"Samarbeid {name}", "language": "nb"}), 302) is None:
        return None
    for key in SECTION_FORMS:
        if step("save section", lambda key=key: staff.post(f"/agreements/{agreement_id}/sections/{key}", section_form(key)), 302) is None:
            return None
    if until == "written":
        return agreement_id
    if step("send", lambda: staff.post(f"/agreements/{agreement_id}/send", {}), 302) is None:
        return None
    organisation = Session(port)  # no account: only the emailed link
    link = _review_path(app, email)
    if step("open link", lambda: organisation.request_full("GET", link), 200) is None:
        return None
    organisation.csrf = re.search(r'name="csrf_token" value="([^"]+)"', organisation.last_body).group(1)
    if step("accept", lambda: organisation.request_full(
            "POST", link, _form(organisation, ACCEPT), {"Content-Type": "application/x-www-form-urlencoded"}), 302) is None:
        return None
    if until == "accepted":
        return agreement_id
    ok = step("countersign (render + seal)", lambda: admin.post(f"/agreements/{agreement_id}/countersign",
                                                                countersign_form(app, agreement_id)), 302)
    return agreement_id if ok is not None else None


def countersign_form(app, agreement_id: int) -> dict:
    """What the countersign page posts: the role, the fingerprint of the version the
    organisation accepted (shown to the administrator), the password again."""
    return {"role": "Kommunedirektør", "version_sha256": _version_sha(app, agreement_id), "password": PASSWORD}


def counts(app) -> Counter:
    with app.app_context():
        result = Counter({model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in COUNTED})
        db.session.remove()
    return result


def run(url: str, label: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-load", "RATELIMIT_ENABLED": False})
    with app.app_context(), app.test_request_context():
        db.create_all()
        for n in range(MUNICIPALITIES):
            municipality = accounts.create_municipality(f"Lastby {n}", f"{9900 + n}", "991000054")
            for role in ("staff", "admin"):
                accounts.create_user(municipality.id, f"{role}{n}@lastby.example.no", f"{role} {n}", role, PASSWORD)
        db.session.commit()
        db.session.remove()
    port = _free_port()
    server = serve(url, port)
    try:
        people = {n: (Client(port, f"staff{n}@lastby.example.no"), Client(port, f"admin{n}@lastby.example.no"))
                  for n in range(MUNICIPALITIES)}
        # One path alone: what a path writes.
        before = counts(app)
        errors: list[str] = []
        assert whole_path(app, port, *people[0], "kalibrering", {}, errors), errors
        per_path = counts(app) - before
        before = counts(app)

        timings: dict[str, list[float]] = {}
        done = Counter()
        lock = threading.Lock()

        def user(number: int) -> None:
            staff = Client(port, f"staff{number % MUNICIPALITIES}@lastby.example.no")
            admin = Client(port, f"admin{number % MUNICIPALITIES}@lastby.example.no")
            mine: dict[str, list[float]] = {}
            for n in range(PATHS):
                ok = whole_path(app, port, staff, admin, f"k{number}-{n}", mine, errors) is not None
                with lock:
                    done["complete" if ok else "broken"] += 1
            with lock:
                for key, values in mine.items():
                    timings.setdefault(key, []).extend(values)

        threads = [threading.Thread(target=user, args=(n,)) for n in range(CLIENTS)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        grown = counts(app) - before
        expected = Counter({table: count * done["complete"] for table, count in per_path.items()})
        requests = sum(len(values) for values in timings.values())
        print(f"{label}: {CLIENTS} clients × {PATHS} whole paths in {elapsed:.1f} s: {done['complete']} complete, "
              f"{done['broken']} broken; {requests} requests ({requests / elapsed:.1f}/s); errors: {len(errors)}")
        for error in errors[:5]:
            print(f"{label}:   error: {error[:160]}")
        if errors:
            print(f"{label}:   the server's log: {SERVER_LOG}")
        for key, values in timings.items():
            ordered = sorted(values)
            print(f"{label}:   {key:28} median {statistics.median(ordered) * 1000:7.1f} ms, "
                  f"p95 {p95(ordered) * 1000:7.1f} ms ({len(ordered)})")
        accounted = grown == expected
        print(f"{label}: rows written under load vs {done['complete']} × one path: "
              + ", ".join(f"{table} {grown[table]}/{expected[table]}" for table in sorted(per_path))
              + (" – every one accounted for" if accounted else " – MISMATCH"))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    on_both_databases(run, "bench_load")
