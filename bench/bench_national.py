"""Dugnad at national scale, served by gunicorn (issue 7): 357 municipalities, 20,000
organisations, 50,000 agreements, 1,000,000 audit events. For the main pages and htmx
fragments: throughput and median / 95th-percentile latency under concurrent clients, side
by side with a minimal endpoint on the same server (the stack's own limit); and the number
of SQL statements per page, for the largest municipality and for a small one, which must be
the same (a page that costs more with more data would show here).

The data is written straight into the database (a bench's fixture, not the lifecycle). The
server is gunicorn on 127.0.0.1 with the project's gunicorn.conf.py; the clients are
threads in this process, each logged in as the largest municipality's administrator, on
keep-alive connections. Client and server share this machine's CPUs, so the figures are a
floor, not a ceiling.

Run with `make bench` (or alone: .venv/bin/python bench/bench_national.py). SQLite first,
then PostgreSQL when BENCH_POSTGRES_URL (default: the local server) answers. Scale it down
for a quick look with BENCH_NATIONAL_SCALE=0.1.
"""

from __future__ import annotations

import http.client
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from databases import on_both_databases  # noqa: E402
from helpers import CSRFClient  # noqa: E402
from sqlalchemy import bindparam, event, insert, select  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from app import create_app  # noqa: E402
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
    Municipality,
    Organization,
    User,
)
from dugnad.timeutil import now_utc, today_oslo  # noqa: E402

SCALE = float(os.environ.get("BENCH_NATIONAL_SCALE", "1"))
MUNICIPALITIES = 357
ORGANIZATIONS = int(20_000 * SCALE)
AGREEMENTS = int(50_000 * SCALE)
AUDIT_EVENTS = int(1_000_000 * SCALE)
#: The largest municipality's share (an Oslo): the page it sees is the heaviest.
LARGEST = {"organizations": int(1_500 * SCALE), "agreements": int(3_000 * SCALE), "events": int(60_000 * SCALE)}
PASSWORD = "bench-passord-123"
CLIENTS = 8
REQUESTS_PER_PAGE = 400
STATES = ("signed",) * 6 + ("draft", "sent", "accepted", "declined", "terminated")


def _spread(total: int, largest: int, count: int) -> list[int]:
    """`total` split over `count` municipalities, the first getting `largest`."""
    rest = max(0, total - largest)
    each, extra = divmod(rest, count - 1)
    return [largest] + [each + (1 if n < extra else 0) for n in range(count - 1)]


def build(rng: random.Random) -> dict:
    """The national data set; returns the ids the bench needs."""
    now, today = now_utc(), today_oslo()
    password_hash = generate_password_hash(PASSWORD)  # once: scrypt is slow on purpose
    db.session.execute(insert(Municipality), [
        {"name": f"Kommune {n:03d}", "kommunenummer": f"{1000 + n:04d}", "org_number": "991000054", "address": ""}
        for n in range(MUNICIPALITIES)
    ])
    municipalities = db.session.scalars(select(Municipality.id).order_by(Municipality.id)).all()
    db.session.execute(insert(ActivityArea), [
        {"municipality_id": m, "name": name, "position": position}
        for m in municipalities for position, name in enumerate(("Leksehjelp", "Språkkafé", "Idrett", "Flyktningguide"))
    ])
    db.session.execute(insert(User), [
        {"municipality_id": m, "email": f"admin@{m}.example.no", "name": f"Admin {m}", "role": "admin",
         "password_hash": password_hash}
        for m in municipalities
    ])
    users = dict(db.session.execute(select(User.municipality_id, User.id)).all())
    areas: dict[int, list[int]] = {}
    for m, area in db.session.execute(select(ActivityArea.municipality_id, ActivityArea.id)).all():
        areas.setdefault(m, []).append(area)

    org_counts = _spread(ORGANIZATIONS, LARGEST["organizations"], MUNICIPALITIES)
    db.session.execute(insert(Organization), [
        {"municipality_id": m, "name": f"Lag {n} i {m}", "org_number": None}
        for m, count in zip(municipalities, org_counts, strict=True) for n in range(count)
    ])
    organizations: dict[int, list[int]] = {}
    for m, organization in db.session.execute(select(Organization.municipality_id, Organization.id)).all():
        organizations.setdefault(m, []).append(organization)
    db.session.execute(insert(Contact), [
        {"municipality_id": m, "organization_id": o, "name": f"Leder {o}", "email": f"lag{o}@example.no", "is_primary": True}
        for m, ids in organizations.items() for o in ids
    ])

    # Four meetings a municipality, 30 invitations each (or as many organisations as it has).
    db.session.execute(insert(Meeting), [
        {"municipality_id": m, "title": f"Dialogmøte {n}", "starts_at": now + timedelta(days=(n - 2) * 30),
         "ends_at": now + timedelta(days=(n - 2) * 30, hours=2), "place": "Rådhuset"}
        for m in municipalities for n in range(4)
    ])
    invitations = []
    for meeting_id, m, starts_at in db.session.execute(select(Meeting.id, Meeting.municipality_id, Meeting.starts_at)).all():
        for o in rng.sample(organizations[m], min(30, len(organizations[m]))):
            answer = rng.choice(("pending", "attending", "not_attending"))
            invitations.append({"municipality_id": m, "meeting_id": meeting_id, "organization_id": o, "answer": answer,
                                "answered_at": None if answer == "pending" else now, "comment": "",
                                "participant_names": "", "reminders_sent": 0, "created_at": now,
                                "attended": (answer == "attending") if starts_at < now else None})
    for start in range(0, len(invitations), 10_000):
        db.session.execute(insert(Invitation), invitations[start:start + 10_000])

    agreement_counts = _spread(AGREEMENTS, LARGEST["agreements"], MUNICIPALITIES)
    rows = []
    for m, count in zip(municipalities, agreement_counts, strict=True):
        for n in range(count):
            state = STATES[n % len(STATES)]
            signed = state in ("signed", "terminated")
            rows.append({
                "municipality_id": m, "organization_id": organizations[m][n % len(organizations[m])],
                "number": f"{2020 + n % 7}-{n:05d}", "title": f"Samarbeid {n}", "state": "draft", "owner_id": users[m],
                "valid_from": today - timedelta(days=rng.randint(30, 700)) if signed else None,
                "valid_to": today + timedelta(days=rng.choice((-90, 20, 45, 200, 400))) if signed else None,
                "_state": state,
            })
    for start in range(0, len(rows), 10_000):
        db.session.execute(insert(Agreement), [{k: v for k, v in row.items() if k != "_state"} for row in rows[start:start + 10_000]])
    agreement_ids = db.session.execute(select(Agreement.id, Agreement.municipality_id).order_by(Agreement.id)).all()
    versions, sections = [], []
    for (agreement_id, m), row in zip(agreement_ids, rows, strict=True):
        row["id"] = agreement_id
        if row["_state"] != "draft":
            versions.append({"municipality_id": m, "agreement_id": agreement_id, "number": 1, "content": {},
                             "html": "<p>Avtale</p>", "sha256": "0" * 64})
        activity_rows = [{"area_id": str(rng.choice(areas[m])), "area": "", "what": "Aktivitet", "where": "Biblioteket",
                          "how_often": "Ukentlig", "leader": "Kari"}]
        sections.append({"municipality_id": m, "agreement_id": agreement_id, "key": "activities",
                         "data": {"rows": activity_rows, "text": ""}, "status": "completed", "revision": 1})
    for start in range(0, len(versions), 10_000):
        db.session.execute(insert(AgreementVersion), versions[start:start + 10_000])
    for start in range(0, len(sections), 10_000):
        db.session.execute(insert(AgreementSection), sections[start:start + 10_000])
    version_of = dict(db.session.execute(select(AgreementVersion.agreement_id, AgreementVersion.id)).all())
    by_state: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        by_state.setdefault(row["_state"], []).append((row["id"], version_of.get(row["id"])))
    for state, pairs in by_state.items():
        if state == "draft":
            continue
        for start in range(0, len(pairs), 5_000):
            chunk = pairs[start:start + 5_000]
            if state in ("signed", "accepted", "terminated"):
                db.session.execute(
                    Agreement.__table__.update()
                    .where(Agreement.id == bindparam("agreement_id"))
                    .values(accepted_version_id=bindparam("version_id"), state=state),
                    [{"agreement_id": a, "version_id": v} for a, v in chunk],
                )
            else:
                db.session.execute(Agreement.__table__.update().where(Agreement.id.in_([a for a, _ in chunk])).values(state=state))
    db.session.commit()

    _audit_events(municipalities, users, rows, rng)
    largest = municipalities[0]
    small = municipalities[-1]
    return {
        "largest": largest, "small": small,
        "agreement": next(row["id"] for row in rows if row["municipality_id"] == largest and row["_state"] == "signed"),
        "small_agreement": next(row["id"] for row in rows if row["municipality_id"] == small and row["_state"] == "signed"),
    }


def _audit_events(municipalities, users, rows, rng) -> None:
    """1,000,000 events: COPY on PostgreSQL, batched inserts on SQLite."""
    now = now_utc()
    counts = _spread(AUDIT_EVENTS, LARGEST["events"], len(municipalities))
    agreements: dict[int, list[int]] = {}
    for row in rows:
        agreements.setdefault(row["municipality_id"], []).append(row["id"])
    actions = ("edit", "send", "remind", "opened", "accept")

    def events():
        for m, count in zip(municipalities, counts, strict=True):
            ids = agreements[m]
            for n in range(count):
                yield (m, users[m], f"Admin {m}", actions[n % 5], "agreement", ids[n % len(ids)],
                       now - timedelta(minutes=n), "10.0.0.1", "Mozilla/5.0", "{}")

    if db.engine.dialect.name == "postgresql":
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cursor, cursor.copy(
                "COPY audit_event (municipality_id, actor_user_id, actor_label, action, object_type, object_id, "
                "created_at, ip, user_agent, details) FROM STDIN"
            ) as copy:
                for event_row in events():
                    # COPY bypasses the UTCDateTime type: the column holds naive UTC.
                    copy.write_row((*event_row[:6], event_row[6].replace(tzinfo=None), *event_row[7:]))
            raw.commit()
        finally:
            raw.close()
        return
    batch = []
    keys = ("municipality_id", "actor_user_id", "actor_label", "action", "object_type", "object_id", "created_at", "ip",
            "user_agent", "details")
    for event_row in events():
        batch.append(dict(zip(keys, event_row[:-1] + ({},), strict=True)))
        if len(batch) == 20_000:
            db.session.execute(insert(AuditEvent), batch)
            batch = []
    if batch:
        db.session.execute(insert(AuditEvent), batch)
    db.session.commit()


def pages(ids: dict, municipality: str) -> list[tuple[str, str, bool]]:
    """(name, path, htmx) of the pages measured; `municipality` picks the agreement."""
    agreement = ids["agreement"] if municipality == "largest" else ids["small_agreement"]
    return [
        ("start page", "/", False),
        ("pipeline chart (htmx)", "/overview/pipeline", True),
        ("registry", "/organizations/", False),
        ("registry search (htmx)", "/organizations/?q=lag+1", True),
        ("agreements", "/agreements/", False),
        ("agreement", f"/agreements/{agreement}", False),
        ("meetings", "/meetings/", False),
        ("council report", "/reports/council", False),
    ]


def statements(app, ids: dict) -> dict[str, tuple[int, int]]:
    """SQL statements per page: (largest municipality, small municipality)."""
    counts: dict[str, list[int]] = {}
    for which in ("largest", "small"):
        client = app.test_client()
        response = client.post("/login", data={"email": f"admin@{ids[which]}.example.no", "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        for name, path, htmx in pages(ids, which):
            seen = []
            with app.app_context():
                engine = db.engine
            listener = lambda *_args, seen=seen: seen.append(1)  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                response = client.get(path, headers={"HX-Request": "true"} if htmx else {})
                assert response.status_code == 200, (path, response.status_code)
            finally:
                event.remove(engine, "before_cursor_execute", listener)
            counts.setdefault(name, []).append(len(seen))
    return {name: (pair[0], pair[1]) for name, pair in counts.items()}


# --- The HTTP side: gunicorn and the clients ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    """One client on a keep-alive connection, logged in when given an email."""

    def __init__(self, port: int, email: str | None = None, password: str = PASSWORD):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""
        self.last_body = ""
        if email is None:
            return
        page = self.get("/login")[1]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page)
        body = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
        status, _ = self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, f"login failed: {status}"

    def request_full(self, method: str, path: str, body: str | None = None,
                     headers: dict | None = None) -> tuple[int, str, str]:
        """(status, body, Location) of one request, carrying and keeping the session cookie."""
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection (between two pages): reconnect.
            self.connection.close()
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        self.last_body = data
        return response.status, data, response.getheader("Location") or ""

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None) -> tuple[int, str]:
        status, data, _location = self.request_full(method, path, body, headers)
        return status, data

    def get(self, path: str, htmx: bool = False) -> tuple[int, str]:
        return self.request("GET", path, headers={"HX-Request": "true"} if htmx else None)


def load(sessions: list[Session], path: str, htmx: bool) -> tuple[float, list[float], int]:
    """REQUESTS_PER_PAGE requests spread over the sessions, concurrently: (requests per
    second, latencies, errors)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per_client = REQUESTS_PER_PAGE // len(sessions)

    def work(session: Session) -> None:
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            status, _body = session.get(path, htmx)
            mine.append(time.perf_counter() - start)
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(session,)) for session in sessions]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors[0]


#: gunicorn's own log (errors and tracebacks) of the last bench run.
SERVER_LOG = Path(tempfile.gettempdir()) / "dugnad-bench-gunicorn.log"


def p95(ordered: list[float]) -> float:
    """The 95th percentile of sorted values (nearest rank)."""
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def serve(url: str, port: int, log: Path = SERVER_LOG, **popen_options) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-national", "PYTHONPATH": str(ROOT)}
    config = ["-c", str(ROOT / "gunicorn.conf.py")] if (ROOT / "gunicorn.conf.py").exists() else ["-w", "2", "--threads", "4"]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), *config, "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "/dev/null", "bench.national_app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("a"),
        # Its own process group, so a fault bench can kill the master and its workers at once.
        start_new_session=True, **popen_options,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"gunicorn did not start: {log.read_text()[-2000:]}")


def run(url: str, label: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-national", "RATELIMIT_ENABLED": False,
                      "SERVER_NAME": "localhost", "TESTING": True})
    app.test_client_class = CSRFClient  # the in-process client counts statements; it carries the CSRF token
    rng = random.Random(7)
    with app.app_context():
        db.create_all()
        start = time.perf_counter()
        ids = build(rng)
        setup = time.perf_counter() - start
        total = {model.__name__: db.session.scalar(select(db.func.count()).select_from(model))
                 for model in (Municipality, Organization, Agreement, AuditEvent)}
        db.session.remove()
    def n(value: int) -> str:
        return f"{value:,}".replace(",", " ")

    print(f"{label}: {total['Municipality']} municipalities, {n(total['Organization'])} organisations, "
          f"{n(total['Agreement'])} agreements, {n(total['AuditEvent'])} audit events (written in {setup:.0f} s)")
    counts = statements(app, ids)
    with app.app_context():
        db.engine.dispose()

    port = _free_port()
    server = serve(url, port)
    try:
        sessions = [Session(port, f"admin@{ids['largest']}.example.no") for _ in range(CLIENTS)]
        for name, path, htmx in [("minimal endpoint", "/_bench/ping", False), *pages(ids, "largest")]:
            load(sessions[:2], path, htmx)  # warm up every worker's caches
            throughput, latencies, errors = load(sessions, path, htmx)
            ordered = sorted(latencies)
            median = statistics.median(ordered) * 1000
            slowest = p95(ordered) * 1000
            sql = counts.get(name)
            sql_text = f"; SQL statements: {sql[0]} (largest) vs {sql[1]} (small)" + (
                " – the same" if sql[0] == sql[1] else " – GROWS WITH THE DATA") if sql else ""
            print(f"{label}: {name:24} {throughput:7.1f} req/s, median {median:6.1f} ms, p95 {slowest:6.1f} ms, "
                  f"{errors} errors over {len(latencies)} requests ({CLIENTS} clients){sql_text}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    on_both_databases(run, "bench_national")
