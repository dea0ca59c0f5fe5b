"""The audit log page: the municipality's events newest first, in pages of 50 (keyset), filtered
by object, user and dates from the URL; bad filters named next to their field; the CSV export
streamed, formula-safe, in Norwegian time with the zone named; administrators only, and only
their own municipality's events."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import login
from sqlalchemy import select

from dugnad.extensions import db
from dugnad.models import AuditEvent, User

FORMULA = '=HYPERLINK("http://angrep.example","Klikk")'


@pytest.fixture
def town(app, factory):
    """A municipality with an administrator, a staff member, and another municipality."""
    municipality = factory.municipality("Loggvik kommune")
    admin = factory.user(municipality, "admin", name="Astrid Admin")
    staff = factory.user(municipality, "staff", name="Sindre Saksbehandler")
    other = factory.municipality("Annenby kommune")
    other_admin = factory.user(other, "admin", name="Otto Annenby")
    with app.app_context():
        ids = {email: db.session.scalar(select(User.id).where(User.email == email)) for email in (admin, staff, other_admin)}
    return {
        "municipality": municipality, "admin": admin, "staff": staff, "other": other, "other_admin": other_admin,
        "admin_id": ids[admin], "staff_id": ids[staff], "other_admin_id": ids[other_admin],
    }


def add_events(app, municipality_id: int, *events: dict) -> list[int]:
    """Insert events as the app writes them (created_at given, so their order is known)."""
    with app.app_context():
        rows = [
            AuditEvent(
                municipality_id=municipality_id,
                actor_user_id=values.get("user_id"),
                actor_label=values.get("label", "Dugnad"),
                action=values.get("action", "edit"),
                object_type=values.get("object_type", "agreement"),
                object_id=values.get("object_id", 1),
                from_state=values.get("from_state"),
                to_state=values.get("to_state"),
                created_at=values["at"],
                ip=values.get("ip", "192.0.2.7"),
                user_agent=values.get("user_agent", "Testleser/1.0"),
                details=values.get("details", {}),
            )
            for values in events
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def admin_client(app, town):
    client = app.test_client()
    login(client, town["admin"])
    return client


def row_ids(page: str) -> list[str]:
    """The 'Objekt' cells of the table, in order (each event below has its own object id);
    the users' own creation (the factory's) left out."""
    return re.findall(r"(?:Avtale|Organisasjon|Møte|Kontaktperson) (\d+)</", page)


def error_of(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]+)<', page)
    assert match, page[:3000]
    return match.group(1).strip()


# --- The page ----------------------------------------------------------------------------


def test_events_done_through_the_app_are_listed_newest_first_with_labels(app, town):
    client = admin_client(app, town)
    response = client.post("/organizations/new", data={"name": "Loggvik Sjakklubb", "contacts-0-name": "Per"})
    assert response.status_code == 302
    organization_id = int(re.search(r"/organizations/(\d+)", response.headers["Location"]).group(1))
    add_events(app, town["municipality"], {
        "at": datetime(2020, 1, 1, 12, tzinfo=UTC), "action": "send", "from_state": "draft", "to_state": "sent",
        "object_id": 7, "label": "Gammel hendelse",
    })

    response = client.get("/audit/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Hendelseslogg" in page
    assert 'href="/audit/"' in page  # the admin menu links to it
    new, old = page.index("Astrid Admin</td>"), page.index("Gammel hendelse")
    assert new < old  # newest first
    assert f'href="/organizations/{organization_id}"' in page  # the object links to its page
    assert "Sendt til organisasjonen" in page and "Utkast → Sendt til organisasjonen" in page
    assert "01.01.2020 13:00 (CET, Europe/Oslo)" in page
    assert "192.0.2.7" in page and "Testleser/1.0" in page


def test_staff_may_not_see_the_log(app, town):
    client = app.test_client()
    login(client, town["staff"])
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert 'href="/audit/"' not in client.get("/organizations/").get_data(as_text=True)


def test_only_the_municipalitys_own_events_show(app, town):
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    own = add_events(app, town["municipality"], {"at": at, "label": "Egen hendelse", "object_id": 11})
    other = add_events(app, town["other"], {"at": at, "label": "Otto Annenby", "object_id": 12, "user_id": town["other_admin_id"]})
    client = admin_client(app, town)
    page = client.get("/audit/").get_data(as_text=True)
    assert "Egen hendelse" in page and "Otto Annenby" not in page
    # Another municipality's user is not a user to filter by, nor its event a place to page from.
    response = client.get("/audit/", query_string={"user": str(town["other_admin_id"])})
    assert response.status_code == 400 and "Otto Annenby" not in response.get_data(as_text=True)
    for cursor in ("before", "after"):
        page = client.get("/audit/", query_string={cursor: str(other[0])}).get_data(as_text=True)
        assert "Egen hendelse" in page and "Otto Annenby" not in page
    csv_text = client.get("/audit/export.csv").get_data(as_text=True)
    assert "Egen hendelse" in csv_text and "Otto Annenby" not in csv_text
    assert own


# --- Filters -------------------------------------------------------------------------------


@pytest.fixture
def filtered_town(app, town):
    """Events by object, user and day: each has its own object id, so a page is easy to read."""
    add_events(
        app, town["municipality"],
        {"at": datetime(2026, 1, 31, 22, 59, tzinfo=UTC), "object_id": 101, "user_id": town["admin_id"], "label": "Astrid Admin"},
        # 31 January, 23:30 UTC is 1 February 00:30 in Norway.
        {"at": datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "object_id": 102, "user_id": town["staff_id"], "label": "Sindre Saksbehandler"},
        {"at": datetime(2026, 2, 10, 12, tzinfo=UTC), "object_id": 103, "object_type": "organization", "label": "Organisasjon: Lag (Kari)"},
        {"at": datetime(2026, 2, 28, 22, 59, tzinfo=UTC), "object_id": 104, "user_id": town["staff_id"], "label": "Sindre Saksbehandler"},
        {"at": datetime(2026, 2, 28, 23, 0, tzinfo=UTC), "object_id": 105, "label": "Dugnad"},
    )
    return town


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, ["105", "104", "103", "102", "101"]),
        ({"type": "agreement"}, ["105", "104", "102", "101"]),
        ({"type": "organization"}, ["103"]),
        ({"type": "agreement", "id": "102"}, ["102"]),
        ({"user": "staff"}, ["104", "102"]),
        ({"user": "none"}, ["105", "103"]),
        # Days are Norwegian days, to and including the last one.
        ({"from_date": "01.02.2026", "to_date": "28.02.2026"}, ["104", "103", "102"]),
        ({"from_date": "2026-02-01", "to_date": "2026-02-28"}, ["104", "103", "102"]),
        ({"from_date": "1.2.26"}, ["105", "104", "103", "102"]),
        ({"to_date": "31.01.2026"}, ["101"]),
        ({"from_date": "01.02.2026", "to_date": "01.02.2026", "user": "staff"}, ["102"]),
        ({"type": "meeting"}, []),
    ],
)
def test_filters(app, filtered_town, args, expected):
    town = filtered_town
    args = {key: str(town["staff_id"]) if value == "staff" else value for key, value in args.items()}
    client = admin_client(app, town)
    response = client.get("/audit/", query_string=args)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert row_ids(page) == expected
    if not expected:
        assert "Ingen hendelser passer til valgene." in page
    # The form shows what was asked, and the export takes the same filter.
    for key, value in args.items():
        assert f'value="{value}"' in page, key
    exported = list(csv.reader(io.StringIO(client.get("/audit/export.csv", query_string=args).get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert [row[3].split()[-1] for row in exported[1:] if not row[3].startswith("Bruker")] == expected


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"type": "spaceship"}, "type", "Velg en type fra listen."),
        ({"type": "agreement", "id": "tolv"}, "id", "Skriv nummeret med sifre, for eksempel 12."),
        ({"type": "agreement", "id": "²"}, "id", "Skriv nummeret med sifre, for eksempel 12."),
        ({"type": "agreement", "id": "99999999999"}, "id", "Skriv nummeret med sifre, for eksempel 12."),
        ({"type": "agreement", "id": "0"}, "id", "Skriv nummeret med sifre, for eksempel 12."),
        ({"id": "12"}, "id", "Velg hvilken type objekt nummeret gjelder."),
        ({"user": "12345"}, "user", "Velg en bruker fra listen."),
        ({"user": "alle"}, "user", "Velg en bruker fra listen."),
        ({"from_date": "31.02.2026"}, "from_date", "Skriv en gyldig dato, for eksempel 01.12.2026."),
        ({"from_date": "i går"}, "from_date", "Skriv en gyldig dato, for eksempel 01.12.2026."),
        ({"from_date": "0001-01-01"}, "from_date", "Skriv en dato fra år 2000 til 2100."),
        ({"to_date": "31.12.9999"}, "to_date", "Skriv en dato fra år 2000 til 2100."),
        ({"from_date": "10.02.2026", "to_date": "09.02.2026"}, "to_date", "Til-datoen kan ikke være før fra-datoen."),
    ],
)
def test_bad_filters_are_400_with_the_message_next_to_the_field(app, town, args, field, message):
    client = admin_client(app, town)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get("/audit/", query_string=args, headers=headers)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert error_of(page, field) == message
        assert f'href="#{field}"' in page  # the summary links to the field
    response = client.get("/audit/export.csv", query_string=args)
    assert response.status_code == 400 and error_of(response.get_data(as_text=True), field) == message


def test_htmx_gets_the_log_without_the_page_and_a_short_url(app, filtered_town):
    client = admin_client(app, filtered_town)
    response = client.get(
        "/audit/", query_string={"type": "agreement", "id": "", "user": "", "from_date": "", "to_date": ""},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in page and 'hx-target="#audit-log"' in page
    assert row_ids(page) == ["105", "104", "102", "101"]
    assert response.headers["HX-Push-Url"] == "/audit/?type=agreement"
    assert "HX-Request" in response.headers["Vary"]
    # Without JavaScript the same form is a plain GET form.
    full = client.get("/audit/").get_data(as_text=True)
    assert '<form method="get" action="/audit/"' in full and 'id="audit-log"' in full


# --- Pages -----------------------------------------------------------------------------------


def _link(page: str, rel: str) -> str | None:
    match = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def test_pages_of_fifty_newest_first_back_and_forth(app, town):
    start = datetime(2026, 5, 1, 8, tzinfo=UTC)
    # 120 events; every third pair shares its second, so the order also rests on the id.
    events = [
        {"at": start + timedelta(seconds=n - n % 2 * (n % 3 == 0)), "object_id": n, "label": f"Hendelse {n}"}
        for n in range(1, 121)
    ]
    add_events(app, town["municipality"], *events)
    add_events(app, town["municipality"], {"at": start, "object_type": "meeting", "object_id": 999})
    client = admin_client(app, town)
    with app.app_context():
        expected = [
            str(object_id)
            for object_id in db.session.scalars(
                select(AuditEvent.object_id)
                .where(AuditEvent.municipality_id == town["municipality"], AuditEvent.object_type == "agreement")
                .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            )
        ]

    seen, url, pages = [], "/audit/?type=agreement", []
    while url:
        page = client.get(url).get_data(as_text=True)
        pages.append((url, page))
        seen += row_ids(page)
        url = _link(page, "next")
        if url:
            assert parse_qs(urlsplit(url).query)["type"] == ["agreement"]  # the filter stays
    assert [len(row_ids(page)) for _url, page in pages] == [50, 50, 20]
    assert seen == expected  # every event once, in order, none from the filtered-out meeting
    assert _link(pages[0][1], "prev") is None and "Nyeste" not in pages[0][1]

    # Back from the last page: the same pages, newest first within each.
    url = _link(pages[-1][1], "prev")
    page = client.get(url).get_data(as_text=True)
    assert row_ids(page) == row_ids(pages[1][1])
    page = client.get(_link(page, "prev")).get_data(as_text=True)
    assert row_ids(page) == row_ids(pages[0][1])
    assert _link(page, "prev") is None


def test_a_cursor_that_is_not_a_number_shows_the_first_page(app, town):
    add_events(app, town["municipality"], {"at": datetime(2026, 5, 1, tzinfo=UTC), "object_id": 5})
    client = admin_client(app, town)
    for value in ("abc", "-1", "99999999999999999999", "²"):
        response = client.get("/audit/", query_string={"before": value})
        assert response.status_code == 200 and row_ids(response.get_data(as_text=True)) == ["5"]


# --- The export --------------------------------------------------------------------------------


def test_csv_export_is_streamed_formula_safe_and_in_norwegian_time(app, town):
    add_events(
        app, town["municipality"],
        {"at": datetime(2026, 1, 15, 11, 0, 5, tzinfo=UTC), "label": FORMULA, "user_agent": "@SUM(A1:A9)", "object_id": 1,
         "action": "send", "from_state": "draft", "to_state": "sent", "details": {"til": ["kari@lag.no"], "grunn": "=1+1"}},
        {"at": datetime(2026, 7, 15, 11, 0, 5, tzinfo=UTC), "label": "+47 Sommer", "object_type": "organization", "object_id": 2,
         "ip": "2001:db8::1", "action": "ukjent_handling"},
    )
    client = admin_client(app, town)
    response = client.get("/audit/export.csv", query_string={"from_date": "01.01.2026", "to_date": "31.07.2026"})
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="hendelseslogg.csv"'
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Tidspunkt (Europe/Oslo)", "Bruker eller aktør", "Handling", "Objekt", "Status før", "Status etter",
        "IP-adresse", "Nettleser (user agent)", "Detaljer (JSON)",
    ]
    summer, winter = rows[1], rows[2]
    assert summer[:4] == ["15.07.2026 13:00:05 (CEST, Europe/Oslo)", "'+47 Sommer", "ukjent_handling", "Organisasjon 2"]
    assert summer[4:8] == ["", "", "2001:db8::1", "Testleser/1.0"]
    assert winter == [
        "15.01.2026 12:00:05 (CET, Europe/Oslo)", "'" + FORMULA, "Sendt til organisasjonen", "Avtale 1", "Utkast",
        "Sendt til organisasjonen", "192.0.2.7", "'@SUM(A1:A9)", '{"grunn": "=1+1", "til": ["kari@lag.no"]}',
    ]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_csv_export_of_many_events_comes_in_chunks(app, town):
    start = datetime(2026, 5, 1, tzinfo=UTC)
    add_events(app, town["municipality"], *({"at": start + timedelta(minutes=n), "object_id": n} for n in range(1, 1202)))
    client = admin_client(app, town)
    response = client.get("/audit/export.csv", query_string={"type": "agreement"})
    chunks = list(response.response)
    assert len(chunks) >= 3  # written as it is read, not built whole
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + 1201
    assert rows[1][3] == "Avtale 1201" and rows[-1][3] == "Avtale 1"
