"""The yearly report to the council: every figure checked against data built through the
app's own pages (meetings, answers, attendance, agreements written, sent, accepted,
countersigned and terminated), with evaluation rows inserted as the evaluation workflow
stores them; the page, the PDF, the CSV file and the workbook; a bad year; and another
municipality's data never counted.

The municipality is built once for the module (signing agreements renders their PDFs),
on an app of its own over the test database, and emptied at the end.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from helpers import Factory, empty_database, link_in, login, make_app, outbox
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import event, select, update
from world import ACCEPT, countersign_form, meeting_form, write_agreement

from dugnad import reports
from dugnad.extensions import db
from dugnad.models import ActivityArea, Evaluation, Invitation, Meeting
from dugnad.timeutil import OSLO, now_utc, today_oslo

TODAY = today_oslo()
YEAR = TODAY.year
LAST_YEAR = YEAR - 1
FORMULA = '=HYPERLINK("http://angrep.example","Klikk")'


@dataclass
class Town:
    municipality_id: int
    staff: object
    admin: object
    orgs: dict[str, int] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    areas: dict[str, int] = field(default_factory=dict)
    agreements: dict[str, int] = field(default_factory=dict)
    meetings: dict[str, int] = field(default_factory=dict)


@dataclass
class Built:
    app: object
    factory: Factory
    a: Town
    b: Town
    #: A municipality with nothing in it, for the query count.
    empty_staff: object = None
    #: Whether the future meeting falls in this year (not after 21 December).
    planned_this_year: bool = True


def _town(app, factory, name: str, slug: str, org_names: list[str]) -> Town:
    municipality_id = factory.municipality(name)
    staff_email = factory.user(municipality_id, "staff", email=f"staff@{slug}.example.no")
    admin_email = factory.user(municipality_id, "admin", email=f"admin@{slug}.example.no")
    staff, admin = app.test_client(), app.test_client()
    login(staff, staff_email)
    login(admin, admin_email)
    town = Town(municipality_id, staff, admin)
    for n, org in enumerate(org_names):
        town.emails[org] = f"leder{n}@{slug}-lag.example.no"
        town.orgs[org] = factory.organization(municipality_id, name=org, email=town.emails[org])
    with app.app_context():
        town.areas = dict(
            db.session.execute(
                select(ActivityArea.name, ActivityArea.id).where(ActivityArea.municipality_id == municipality_id)
            ).all()
        )
    return town


def _rows(town: Town, areas: list[str]) -> dict:
    """The activities section with one row per area (or one row without an area)."""
    rows = {}
    for index, area in enumerate(areas or [""]):
        rows.update({
            f"rows-{index}-area_id": str(town.areas[area]) if area else "",
            f"rows-{index}-what": f"Aktivitet {index + 1}", f"rows-{index}-where": "Biblioteket",
            f"rows-{index}-how_often": "Ukentlig", f"rows-{index}-leader": "Kari Nordmann",
        })
    return rows


def _agreement(app, town: Town, org: str, title: str, grant: str, areas: list[str], start: date,
               end: date | None = None, sign: bool = True) -> int:
    """Written through the builder, sent, accepted through the emailed link, countersigned."""
    client = town.admin
    response = client.post("/agreements/new", data={"organization_id": str(town.orgs[org])})
    assert response.status_code == 302
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(
        client, agreement_id, title,
        activities=_rows(town, areas),
        economy={"grant": grant},
        duration={"start": start.isoformat(), "end": end.isoformat() if end else ""},
    )
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    if sign:
        link = link_in(outbox(app, to=town.emails[org])[-1])
        assert app.test_client().post(link, data=ACCEPT).status_code == 302
        response = client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    return agreement_id


def _meeting(app, town: Town, title: str, invited: list[str], starts_in=timedelta(days=10)) -> int:
    response = town.staff.post("/meetings/new", data=meeting_form(title, starts_in=starts_in))
    assert response.status_code == 302
    meeting_id = int(re.search(r"/meetings/(\d+)", response.headers["Location"]).group(1))
    response = town.staff.post(f"/meetings/{meeting_id}/invite", data={"organizations": [str(town.orgs[o]) for o in invited]})
    assert response.status_code == 302
    return meeting_id


def _answer(app, town: Town, org: str, answer: str) -> None:
    message = [m for m in outbox(app, to=town.emails[org]) if m.subject.startswith("Invitasjon")][-1]
    assert app.test_client().post(link_in(message), data={"answer": answer}).status_code == 302


def _move_into_the_past(app, meeting_id: int) -> None:
    """Time passes: the meeting was held earlier this year (pages only make future meetings)."""
    now = now_utc()
    start_of_year = datetime(YEAR, 1, 1, tzinfo=OSLO)
    start = now - min(timedelta(days=2), (now - start_of_year) / 2)
    with app.app_context():
        db.session.execute(
            update(Meeting).where(Meeting.id == meeting_id).values(starts_at=start, ends_at=start + timedelta(minutes=30))
        )
        db.session.commit()


def _evaluation(app, municipality_id: int, agreement_id: int, due_on: date, answered_at: datetime | None, **answer) -> None:
    """An evaluation row as the evaluation workflow stores it (this report only reads them)."""
    with app.app_context():
        db.session.add(Evaluation(
            municipality_id=municipality_id, agreement_id=agreement_id, due_on=due_on,
            sent_at=(answered_at or now_utc()) - timedelta(days=7), answered_at=answered_at,
            answered_by="Kari Nordmann" if answered_at else "", **answer,
        ))
        db.session.commit()


def build(app, factory) -> Built:
    a = _town(app, factory, "Rapportvik kommune", "rapportvik", [
        "Rapportvik Røde Kors", "Rapportvik Idrettslag", "Rapportvik Sjakklubb", "Rapportvik Korps", "Rapportvik Leselag",
    ])
    b = _town(app, factory, "Bortby kommune", "bortby", ["Bortby Frivilligsentral"])
    red_cross, sports, chess, band, readers = list(a.orgs)
    first_this, first_last, first_next = date(YEAR, 1, 1), date(LAST_YEAR, 1, 1), date(YEAR + 1, 1, 1)

    # Meetings: one held (three invited, two said yes, one came), one cancelled, one to come.
    held = _meeting(app, a, "Rapportvik dialogmøte", [red_cross, sports, chess])
    _answer(app, a, red_cross, "attending")
    _answer(app, a, sports, "attending")
    _answer(app, a, chess, "not_attending")
    _move_into_the_past(app, held)
    with app.app_context():
        invitations = dict(db.session.execute(
            select(Invitation.organization_id, Invitation.id).where(Invitation.meeting_id == held)
        ).all())
        version = db.session.get(Meeting, held).version
    response = a.staff.post(f"/meetings/{held}/attendance",
                            data={"attended": [str(invitations[a.orgs[red_cross]])], "notes": "Godt møte.", "version": str(version)})
    assert response.status_code == 302
    cancelled = _meeting(app, a, "Rapportvik avlyst møte", [band])
    assert a.staff.post(f"/meetings/{cancelled}/cancel", data={}).status_code == 302
    _move_into_the_past(app, cancelled)
    coming = _meeting(app, a, "Rapportvik kommende møte", [readers])
    a.meetings = {"held": held, "cancelled": cancelled, "coming": coming}

    # Agreements: in force this year with grants over one, two and three areas, one without
    # a grant, one without an area (terminated today), one that ended last year, one that
    # starts next year, and one only sent.
    a.agreements = {
        "two_areas": _agreement(app, a, red_cross, "Språkkafé og leksehjelp", "12 500",
                                ["Språkkafé / norsktrening", "Leksehjelp"], first_this, date(YEAR, 12, 31)),
        "three_areas": _agreement(app, a, sports, "Idrett og friluftsliv", "30 000,01",
                                  ["Leksehjelp", "Idrett", "Friluftsliv / turgrupper"], first_last),
        "no_grant": _agreement(app, a, red_cross, "Idrettskveld", "", ["Idrett"], first_this),
        "no_area": _agreement(app, a, sports, "Dugnad uten område", "10 000", [], first_last),
        "ended_last_year": _agreement(app, a, red_cross, "Leksehjelp i fjor", "7 000", ["Leksehjelp"],
                                      first_last, date(LAST_YEAR, 12, 31)),
        "next_year": _agreement(app, a, sports, "Leksehjelp neste år", "99 999", ["Leksehjelp"], first_next),
        "only_sent": _agreement(app, a, red_cross, "Svømming", "55 555", ["Svømmeopplæring"], first_this, sign=False),
    }
    response = a.admin.post(f"/agreements/{a.agreements['no_area']}/terminate",
                            data={"ends_on": TODAY.isoformat(), "reason": "Laget har lagt ned aktiviteten."})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]

    # Another municipality, with figures of its own that must never be counted in A's.
    b_org = next(iter(b.orgs))
    b.agreements = {"signed": _agreement(app, b, b_org, "Bortby leksehjelp", "44 444", ["Leksehjelp"], first_this)}
    b.meetings = {"held": _meeting(app, b, "Bortby dialogmøte", [b_org])}
    _answer(app, b, b_org, "attending")
    _move_into_the_past(app, b.meetings["held"])

    just_now = now_utc() - timedelta(minutes=1)
    _evaluation(app, a.municipality_id, a.agreements["two_areas"], TODAY, just_now, volunteers=12, participants=40,
                went_well="Språkkafeen fylte biblioteket.", went_badly="For få frivillige i juli.", wishes=FORMULA,
                municipality_view="Godt samarbeid.")
    _evaluation(app, a.municipality_id, a.agreements["three_areas"], TODAY, just_now, volunteers=5, participants=None,
                went_well="Mange nye på fotballtreningene.", went_badly="", wishes="Flere baner.")
    _evaluation(app, a.municipality_id, a.agreements["no_grant"], TODAY, None)  # sent, not answered
    _evaluation(app, a.municipality_id, a.agreements["ended_last_year"], date(LAST_YEAR, 6, 1),
                datetime(LAST_YEAR, 6, 15, 12, 0, tzinfo=OSLO), volunteers=7, participants=9,
                went_well="Leksehjelpen i fjor gikk fint.")
    _evaluation(app, b.municipality_id, b.agreements["signed"], TODAY, just_now, volunteers=100, participants=300,
                went_well="Bortby hemmelig svar.")

    built = Built(app, factory, a, b)
    empty = factory.municipality("Tomby kommune")
    built.empty_staff = app.test_client()
    login(built.empty_staff, factory.user(empty, "staff", email="staff@tomby.example.no"))
    with app.app_context():
        built.planned_this_year = db.session.get(Meeting, coming).starts_at.astimezone(OSLO).year == YEAR
    return built


@pytest.fixture(scope="module")
def built(database_url):
    app = make_app(database_url)
    factory = Factory(app)
    factory.kommunenummer = itertools.cycle(range(9400, 9500))
    empty_database(database_url)
    yield build(app, factory)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    empty_database(database_url)


def _report(built: Built, town: Town, year: int) -> reports.Report:
    with built.app.app_context():
        return reports.council_report(town.municipality_id, year)


def _areas(report: reports.Report) -> dict[str, tuple[int, Decimal]]:
    return {area.name: (area.agreements, area.grant) for area in report.areas}


def _text(data: bytes | str) -> str:
    """Text with the no-break spaces of grouped numbers read as plain spaces."""
    text = data.decode() if isinstance(data, bytes) else data
    return text.replace("\u00a0", " ").replace("\u202f", " ")


# --- The figures ---------------------------------------------------------------------------


def test_this_years_figures_match_what_was_built(built):
    report = _report(built, built.a, YEAR)
    assert (report.municipality, report.year, report.first_day, report.last_day) == (
        "Rapportvik kommune", YEAR, date(YEAR, 1, 1), TODAY)
    assert report.whole_year is (TODAY == date(YEAR, 12, 31))

    # Engaged: the three invited to the meeting held (two of them also in agreements); not
    # the band (only a cancelled meeting) nor the readers (a meeting still to come).
    assert (report.organisations_engaged, report.organisations_invited, report.organisations_with_agreement) == (3, 3, 2)

    assert [(m.title, m.invited, m.attending, m.attended, m.recorded) for m in report.meetings] == [
        ("Rapportvik dialogmøte", 3, 2, 1, True)]
    assert (report.meetings_held, report.invited, report.attending, report.attended) == (1, 3, 2, 1)
    assert report.meetings_planned == (1 if built.planned_this_year else 0)

    # Six countersigned this year (the one only sent is not); four in force; one ended (terminated today).
    assert (report.agreements_signed, report.agreements_active, report.agreements_ended, report.agreements_terminated) == (6, 4, 1, 1)

    # Grants of the four in force: 12 500 over two areas, 30 000,01 over three (the odd øre to
    # the first in the catalogue's order), none, and 10 000 without an area.
    assert report.agreements_with_grant == 3
    assert report.grant_total == Decimal("52500.01")
    assert report.grant_without_area == Decimal("10000.00")
    areas = _areas(report)
    assert areas["Språkkafé / norsktrening"] == (1, Decimal("6250.00"))
    assert areas["Leksehjelp"] == (2, Decimal("16250.01"))
    assert areas["Idrett"] == (2, Decimal("10000.00"))
    assert areas["Friluftsliv / turgrupper"] == (1, Decimal("10000.00"))
    # A gap stays in the list with 0: the only-sent agreement does not cover swimming.
    assert areas["Svømmeopplæring"] == (0, Decimal("0.00"))
    assert sum(grant for _count, grant in areas.values()) + report.grant_without_area == report.grant_total
    assert "Svømmeopplæring" in [area.name for area in report.gaps]
    assert all(isinstance(area.grant_ore, int) for area in report.areas)

    # Evaluations answered this year: not the unanswered one, not last year's, not Bortby's.
    assert [(e.organization, e.volunteers, e.participants) for e in report.evaluations] == [
        ("Rapportvik Idrettslag", 5, None), ("Rapportvik Røde Kors", 12, 40)]
    assert (len(report.evaluations), report.volunteers, report.participants) == (2, 17, 40)
    red_cross = report.evaluations[1]
    assert (red_cross.went_well, red_cross.went_badly, red_cross.wishes, red_cross.municipality_view) == (
        "Språkkafeen fylte biblioteket.", "For få frivillige i juli.", FORMULA, "Godt samarbeid.")


def test_last_years_figures_count_only_what_ran_then(built):
    report = _report(built, built.a, LAST_YEAR)
    assert report.whole_year and (report.first_day, report.last_day) == (date(LAST_YEAR, 1, 1), date(LAST_YEAR, 12, 31))
    # In force last year: the three-area agreement, the one terminated today, the one that ended.
    assert (report.agreements_signed, report.agreements_active, report.agreements_ended, report.agreements_terminated) == (0, 3, 1, 0)
    assert report.meetings == [] and report.meetings_planned == 0
    assert (report.organisations_engaged, report.organisations_invited, report.organisations_with_agreement) == (2, 0, 2)
    assert report.grant_total == Decimal("47000.01")
    areas = _areas(report)
    assert areas["Leksehjelp"] == (2, Decimal("17000.01"))
    assert areas["Språkkafé / norsktrening"] == (0, Decimal("0.00"))
    assert [(e.organization, e.volunteers, e.participants) for e in report.evaluations] == [("Rapportvik Røde Kors", 7, 9)]


def test_the_other_municipality_counts_only_its_own(built):
    report = _report(built, built.b, YEAR)
    assert (report.organisations_engaged, report.meetings_held, report.invited, report.attending) == (1, 1, 1, 1)
    # Nobody recorded who came: the report says so rather than counting 0 present.
    assert (report.meetings[0].recorded, report.attended) == (False, 0)
    assert (report.agreements_signed, report.agreements_active, report.agreements_ended) == (1, 1, 0)
    assert report.grant_total == Decimal("44444.00")
    assert _areas(report)["Leksehjelp"] == (1, Decimal("44444.00"))
    assert [(e.organization, e.volunteers) for e in report.evaluations] == [("Bortby Frivilligsentral", 100)]


def test_the_report_makes_the_same_number_of_queries_whatever_the_data(built):
    counted = []

    def count(*_args):
        counted.append(1)

    with built.app.app_context():
        engine = db.engine
    statements = {}
    for name, client in (("full", built.a.staff), ("empty", built.empty_staff)):
        counted.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/reports/council").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        statements[name] = len(counted)
    assert statements["full"] == statements["empty"]


# --- The page -------------------------------------------------------------------------------


def test_page_shows_the_figures_in_tables_and_accessible_charts(built):
    response = built.a.staff.get("/reports/council")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = _text(page)
    assert f"Rapport til kommunestyret {YEAR}" in page
    # Each chart is an image with a title and a text alternative, and its numbers in a table.
    for chart_id, title in (("chart-agreements", f"Avtaler i {YEAR}"), ("chart-attendance", "Invitasjoner og oppmøte på møtene"),
                            ("chart-grants", "Tilskudd per aktivitetsområde"), ("chart-coverage", "Avtaler i kraft per aktivitetsområde")):
        assert f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"' in page
        assert f'<title id="{chart_id}-title">{title}</title>' in page
    desc = _text(re.search(r'<desc id="chart-grants-desc">([^<]*)</desc>', page).group(1))
    assert "Leksehjelp: kr 16 250,01" in desc and "Uten aktivitetsområde: kr 10 000" in desc
    assert '<th scope="row">Leksehjelp</th><td class="number">kr 16 250,01</td>' in text
    assert '<tr class="sum"><th scope="row">Sum</th><td class="number">kr 52 500,01</td></tr>' in text
    assert '<th scope="row">Svømmeopplæring</th><td class="number">0 (ingen)</td>' in text
    assert "Ingen avtale i kraft dekker:" in page and "Svømmeopplæring" in page
    assert '<th scope="row">Organisasjoner engasjert</th><td class="number">3</td>' in page
    assert '<th scope="row">Rapportvik dialogmøte</th>' in page
    assert "Språkkafeen fylte biblioteket." in page and "For få frivillige i juli." in page
    # The year choice offers the years with data; the downloads are for the year shown.
    assert re.search(rf'<option selected value="{YEAR}">{YEAR}</option>', page)
    assert f'value="{LAST_YEAR}"' in page and f'value="{LAST_YEAR - 1}"' not in page
    assert f'href="/reports/council.pdf?year={YEAR}"' in page
    # No inline styles or scripts (the CSP stays strict); nothing of Bortby's.
    assert "style=" not in page and "<script>" not in page
    for name in ("Bortby", "44 444", "hemmelig"):
        assert name not in text
    # The staff navigation links to it.
    assert 'href="/reports/council"' in page


def test_page_for_another_year(built):
    page = _text(built.a.admin.get(f"/reports/council?year={LAST_YEAR}").get_data(as_text=True))
    assert f"Rapport til kommunestyret {LAST_YEAR}" in page and f"Hele året {LAST_YEAR}" in page
    assert '<tr class="sum"><th scope="row">Sum</th><td class="number">kr 47 000,01</td></tr>' in page
    assert "Leksehjelpen i fjor gikk fint." in page and "Språkkafeen fylte biblioteket." not in page


@pytest.mark.parametrize("year", ["abc", "1999", str(YEAR + 1), "²⁰²⁶", "", "2026.0"])
@pytest.mark.parametrize("path", ["/reports/council", "/reports/council.pdf", "/reports/council.csv", "/reports/council.xlsx"])
def test_bad_year_is_400_with_a_message(built, path, year):
    response = built.a.staff.get(path, query_string={"year": year})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    message = f"Velg et år fra 2000 til {YEAR}."
    assert 'id="error-summary"' in page and f'href="#year">År: {message}</a>' in page
    assert f'<div class="ds-validation-message" data-field="validation" id="year-error">{message}</div>' in page
    assert 'aria-describedby="year-error"' in page


# --- The files ------------------------------------------------------------------------------


def test_pdf_holds_the_figures(built):
    response = built.a.staff.get(f"/reports/council.pdf?year={YEAR}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f'filename="rapport-kommunestyret-{YEAR}.pdf"' in response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.get_data()))
    # PDF/A-2a, as the other documents: archivable and tagged for screen readers.
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="2"|>2<)', xmp) and re.search(r'pdfaid:conformance(="A"|>A<)', xmp), xmp
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    text = _text("\n".join(page.extract_text() for page in reader.pages))
    assert f"Rapport til kommunestyret {YEAR}" in text and "Rapportvik kommune" in text
    for expected in ("Organisasjoner engasjert 3", "Møter holdt 1", "Avtaler i kraft 4", "Avtaler signert 6",
                     "Leksehjelp kr 16 250,01", "Sum kr 52 500,01", "Uten aktivitetsområde kr 10 000",
                     "Rapportvik dialogmøte", "Rapportvik Røde Kors", "Språkkafeen fylte biblioteket.",
                     "Tilskudd per aktivitetsområde", "Svømmeopplæring 0 (ingen)"):
        assert expected in text, expected
    assert "Bortby" not in text


def _csv_tables(data: bytes) -> dict[str, list[list[str]]]:
    """The CSV file's tables by title: the rows after a title row up to the blank line."""
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads æøå
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    tables, current = {}, None
    for row in rows[2:]:
        if not row:
            current = None
        elif current is None:
            current = tables.setdefault(row[0], [])
        else:
            current.append(row)
    return tables


def test_csv_holds_the_tables_one_after_another(built):
    response = built.a.staff.get(f"/reports/council.csv?year={YEAR}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'attachment; filename="rapport-kommunestyret-{YEAR}.csv"' == response.headers["Content-Disposition"]
    tables = _csv_tables(response.get_data())
    assert list(tables) == [f"Nøkkeltall {YEAR}", "Møter holdt", "Tilskudd per aktivitetsområde (kr)",
                            "Avtaler i kraft per aktivitetsområde", "Evalueringer", "Slik er tallene telt"]
    figures = dict(tables[f"Nøkkeltall {YEAR}"][1:])
    assert figures["Organisasjoner engasjert"] == "3" and figures["Avtaler i kraft"] == "4"
    assert figures["Tilskudd i alt (kr)"] == "52500,01"
    grants = tables["Tilskudd per aktivitetsområde (kr)"]
    assert grants[0] == ["Aktivitetsområde", "Tilskudd (kr)"]
    assert dict(grants[1:]) == {
        "Språkkafé / norsktrening": "6250,00", "Leksehjelp": "16250,01", "Idrett": "10000,00",
        "Friluftsliv / turgrupper": "10000,00", "Uten aktivitetsområde": "10000,00", "Sum": "52500,01",
    }
    assert dict(tables["Avtaler i kraft per aktivitetsområde"][1:])["Svømmeopplæring"] == "0"
    meetings = tables["Møter holdt"]
    assert meetings[1][0] == "Rapportvik dialogmøte" and meetings[1][2:] == ["3", "2", "1"]
    evaluations = {row[0]: row for row in tables["Evalueringer"][1:]}
    assert evaluations["Rapportvik Røde Kors"][3:6] == ["12", "40", "Språkkafeen fylte biblioteket."]
    assert evaluations["Rapportvik Røde Kors"][7] == "'" + FORMULA  # never run as a formula
    assert evaluations["Sum"][3:5] == ["17", "40"]
    assert "Bortby" not in response.get_data(as_text=True)


def test_workbook_has_a_sheet_per_table_with_numbers_as_numbers(built):
    response = built.a.staff.get(f"/reports/council.xlsx?year={YEAR}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["Nøkkeltall", "Møter", "Tilskudd", "Aktivitetsdekning", "Evalueringer", "Merknader"]
    for sheet in workbook:
        assert all(cell.font.bold for cell in sheet[1] if cell.value is not None), sheet.title
    grants = {row[0]: row[1] for row in workbook["Tilskudd"].iter_rows(min_row=2, values_only=True)}
    assert all(isinstance(value, (int, float)) for value in grants.values())
    assert {name: Decimal(str(value)).quantize(Decimal("0.01")) for name, value in grants.items()} == {
        "Språkkafé / norsktrening": Decimal("6250.00"), "Leksehjelp": Decimal("16250.01"), "Idrett": Decimal("10000.00"),
        "Friluftsliv / turgrupper": Decimal("10000.00"), "Uten aktivitetsområde": Decimal("10000.00"), "Sum": Decimal("52500.01"),
    }
    figures = {row[0]: row[1] for row in workbook["Nøkkeltall"].iter_rows(min_row=2, values_only=True)}
    assert figures["Organisasjoner engasjert"] == 3 and figures["Avtaler signert"] == 6
    coverage = {row[0]: row[1] for row in workbook["Aktivitetsdekning"].iter_rows(min_row=2, values_only=True)}
    assert coverage["Leksehjelp"] == 2 and coverage["Svømmeopplæring"] == 0
    meeting = next(workbook["Møter"].iter_rows(min_row=2, values_only=True))
    assert meeting[0] == "Rapportvik dialogmøte" and meeting[1].year == YEAR and meeting[2:] == (3, 2, 1)
    rows = {row[0].value: row for row in workbook["Evalueringer"].iter_rows(min_row=2)}
    wishes = rows["Rapportvik Røde Kors"][7]
    assert wishes.value == FORMULA and wishes.data_type == "s"  # text, not a formula
    assert (rows["Sum"][3].value, rows["Sum"][4].value) == (17, 40)
    assert "Bortby" not in str([list(sheet.values) for sheet in workbook])


def test_each_municipality_sees_only_its_own_report(built):
    page = _text(built.b.admin.get("/reports/council").get_data(as_text=True))
    assert "Bortby kommune" in page and "kr 44 444" in page and "Bortby hemmelig svar." in page
    assert re.search(r'<th scope="row">Bortby dialogmøte</th>\s*<td>[^<]*</td>\s*<td class="number">1</td>\s*'
                     r'<td class="number">1</td>\s*<td class="number">ikke registrert</td>', page)
    for name in ("Rapportvik", "52 500,01", "Språkkafeen"):
        assert name not in page
    csv_text = built.b.admin.get("/reports/council.csv").get_data(as_text=True)
    assert "Rapportvik" not in csv_text and "44444,00" in csv_text
