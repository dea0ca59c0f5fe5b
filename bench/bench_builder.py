"""How fast the agreement builder answers while someone writes: the live preview of the
whole document (rendered on every pause in typing) and saving a section, on a complete
agreement of fifteen long-ish sections with several activity rows.

Goals: live preview at most 50 ms, saving a section at most 30 ms (server time: a
request through the Flask test client, CSRF checked, as the browser sends it). Also
the autosave and the SQL statements per request.

Run with `make bench`. A script, not a test: figures vary with the machine. Runs on a
temporary SQLite file, and on PostgreSQL too when BENCH_POSTGRES_URL (default: the local
test server) is reachable: in a database of its own, created and dropped here.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from databases import on_both_databases  # noqa: E402
from helpers import PASSWORD, CSRFClient  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.models import Agreement, AgreementSection, Contact, Organization  # noqa: E402
from dugnad.sections import DEFAULT_CLAUSES, SECTION_KEYS, SECTIONS_BY_KEY  # noqa: E402

REQUESTS = 200
WARMUP = 10
PREVIEW_GOAL_MS = 50
SAVE_GOAL_MS = 30
ACTIVITY_ROWS = 8

SENTENCES = (
    "Partene samarbeider om at nye innbyggere raskt blir en del av lokalsamfunnet.",
    "Organisasjonen stiller med frivillige som møter deltakerne jevnlig, og kommunen bidrar med lokaler og en fast kontaktperson.",
    "Frivillige som arbeider med barn, viser politiattest til organisasjonen før de starter.",
    "Kontaktpersonene møtes minst to ganger i året og sier fra til hverandre når noe endrer seg.",
    "Aktivitetene er gratis og åpne for alle i målgruppen, også for familiene deres.",
)


def long_text(key: str, size: int = 1600) -> str:
    """A section's clause text followed by paragraphs of plain Norwegian, about `size` characters."""
    text = DEFAULT_CLAUSES[key]["nb"]
    n = 0
    while len(text) < size:
        text += ("\n\n" if n % 3 == 0 else " ") + SENTENCES[n % len(SENTENCES)]
        n += 1
    return text


def section_forms(areas: list[int]) -> dict[str, dict]:
    """Every section complete, with realistic long-ish text."""
    forms = {key: {"text": long_text(key), "complete": "yes"} for key in SECTION_KEYS}
    forms["parties"].update(
        municipality_signatory="Ola Nordmann", municipality_signatory_title="Kommunedirektør",
        organization_signatory="Kari Nordmann", organization_signatory_role="Styreleder", place="Fjordvik",
    )
    activities = ("Leksehjelp for 5.–10. trinn", "Språkkafé", "Flyktningguide", "Fotballtrening for jenter",
                  "Turgruppe", "Sykkelverksted", "Strikkekafé", "Foreldrekafé")
    for n in range(ACTIVITY_ROWS):
        forms["activities"].update({
            f"rows-{n}-area_id": str(areas[n % len(areas)]),
            f"rows-{n}-what": activities[n % len(activities)],
            f"rows-{n}-where": "Biblioteket i Fjordvik sentrum",
            f"rows-{n}-how_often": "Hver tirsdag kl. 17–19, unntatt i skoleferiene",
            f"rows-{n}-leader": "Kari Nordmann",
        })
    forms["contacts"].update(
        municipality_name="Siri Saksbehandler", municipality_role="Flyktningkonsulent",
        municipality_email="siri@fjordvik.kommune.example.no", municipality_phone="+47 99 88 77 66",
        organization_name="Kari Nordmann", organization_role="Styreleder",
        organization_email="kari@lag.example.no", organization_phone="41 22 33 44",
    )
    forms["economy"].update(grant="125 000", payment_schedule=long_text("economy", 600), reporting=long_text("economy", 600))
    forms["evaluation"].update(interval_months="12")
    forms["duration"].update(start="01.01.2027", end="31.12.2028", notice_months="3")
    return forms


class StatementCounter:
    """An engine event listener counting the SQL statements sent."""

    def __init__(self):
        self.count = 0

    def __call__(self, *_args):
        self.count += 1


def figures(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def timed(client, statements, requests, check) -> tuple[list[float], list[int]]:
    """Each request's wall time and SQL statements, after WARMUP untimed ones."""
    timings, counts = [], []
    for n, request in enumerate(requests):
        before = request.get("before")
        if before:
            before()
        statements.count = 0
        start = time.perf_counter()
        response = client.post(request["url"], data=request["data"], headers=request.get("headers", {}))
        elapsed = time.perf_counter() - start
        check(response)
        if n >= WARMUP:
            timings.append(elapsed)
            counts.append(statements.count)
    return timings, counts


def report(label: str, what: str, timings: list[float], counts: list[int], goal_ms: float | None) -> None:
    median, p95 = figures(timings)
    verdict = ""
    if goal_ms is not None:
        verdict = f" – goal ≤ {goal_ms} ms: {'met' if p95 <= goal_ms else ('median met, p95 not' if median <= goal_ms else 'NOT met')}"
    print(f"{label}: {what} over {len(timings)} requests: median {median:.1f} ms, p95 {p95:.1f} ms; "
          f"SQL statements per request: {min(counts)}–{max(counts)}{verdict}")


def run(url: str, label: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SERVER_NAME": "localhost", "TESTING": True})
    app.test_client_class = CSRFClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        municipality = accounts.create_municipality("Fjordvik kommune", "9999", "991000054", "Rådhusplassen 1")
        accounts.create_user(municipality.id, "staff@fjordvik.example.no", "Siri Saksbehandler", "staff", PASSWORD, title="Rådgiver")
        organization = Organization(municipality_id=municipality.id, name="Fjordvik Røde Kors", org_number="991000003",
                                    address="Storgata 1", postal_code="6650", city="Fjordvik")
        organization.contacts.append(Contact(municipality_id=municipality.id, name="Kari Nordmann", role="styreleder",
                                             email="kari@lag.example.no", is_primary=True))
        db.session.add(organization)
        db.session.commit()
        organization_id = organization.id
        from dugnad.models import ActivityArea

        areas = db.session.scalars(select(ActivityArea.id).where(ActivityArea.municipality_id == municipality.id)).all()
        db.session.remove()
        engine = db.engine

    # Requests outside that app context, so each gets its own session, as in production.
    client = app.test_client()
    assert client.post("/login", data={"email": "staff@fjordvik.example.no", "password": PASSWORD}).status_code == 302
    response = client.post("/agreements/new", data={"organization_id": str(organization_id)})
    assert response.status_code == 302, response.status_code
    agreement_id = int(response.headers["Location"].rstrip("/").split("/")[-2])
    forms = section_forms(areas)
    for key, form in forms.items():
        response = client.post(f"/agreements/{agreement_id}/sections/{key}", data=form)
        assert response.status_code == 302, (key, response.status_code, response.get_data(as_text=True)[:500])
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        assert all(section.status == "completed" for section in agreement.sections)
        size = sum(len(section.data.get("text", "")) for section in agreement.sections)
        db.session.remove()
    characters = f"{size:,}".replace(",", " ")
    print(f"{label}: a complete agreement of {len(SECTION_KEYS)} sections, {characters} characters of text, "
          f"{ACTIVITY_ROWS} activity rows")

    statements = StatementCounter()
    event.listen(engine, "before_cursor_execute", statements)
    htmx = {"HX-Request": "true"}

    def ok(response):
        assert response.status_code == 200, response.status_code

    def previewed(response):
        ok(response)
        body = response.get_data(as_text=True)
        # The typed text, not the saved one (a form error would show that instead).
        assert "agreement-document-body" in body and "sist ble lagret" not in body

    def redirected(response):
        assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:500])

    # The live preview: every pause in typing posts the section's form; the document comes back.
    for key in ("purpose", "activities"):
        requests = [
            {"url": f"/agreements/{agreement_id}/sections/{key}/preview", "headers": htmx,
             "data": {**forms[key], "text": forms[key]["text"] + " " + "skriver" * (n % 7)}}
            for n in range(REQUESTS + WARMUP)
        ]
        timings, counts = timed(client, statements, requests, previewed)
        title = SECTIONS_BY_KEY[key].title
        report(label, f"live preview (typing in «{title}»)", timings, counts, PREVIEW_GOAL_MS)

    # Saving: alternating texts, so every save really writes, from the revision the page holds.
    def revision_of(key):
        with app.app_context():
            revision = db.session.scalar(select(AgreementSection.revision).where(
                AgreementSection.agreement_id == agreement_id, AgreementSection.key == key))
            db.session.remove()
            return str(revision)

    for key, mode in (("purpose", "explicit"), ("activities", "explicit"), ("purpose", "autosave")):
        texts = (forms[key]["text"], forms[key]["text"] + " Endret.")
        requests = []
        for n in range(REQUESTS + WARMUP):
            data = {**forms[key], "text": texts[n % 2]}
            if mode == "autosave":
                data["autosave"] = "1"
            request = {"url": f"/agreements/{agreement_id}/sections/{key}", "data": data}
            # The revision the page would hold, read before the clock starts.
            request["before"] = lambda data=data, key=key: data.__setitem__("revision", revision_of(key))
            if mode == "autosave":
                request["headers"] = htmx
            requests.append(request)
        timings, counts = timed(client, statements, requests, ok if mode == "autosave" else redirected)
        title = SECTIONS_BY_KEY[key].title
        what = f"section save («{title}», Lagre og fortsett)" if mode == "explicit" else f"autosave («{title}»)"
        report(label, what, timings, counts, SAVE_GOAL_MS)
    with app.app_context():
        revision = int(revision_of("purpose"))
        assert revision > 2 * REQUESTS, revision  # every save wrote
        db.drop_all()
        db.engine.dispose()


def main() -> None:
    on_both_databases(run, "bench_builder")


if __name__ == "__main__":
    main()
