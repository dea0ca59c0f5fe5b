"""The agreement builder: one section per page with its rules, the task list, check
your answers, sending, autosave and conflicts, the live preview, the clause library,
nynorsk, escaping and agreement numbers. Through the Flask test client, as staff work."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

import pytest
from flask_babel import force_locale
from helpers import PASSWORD, CSRFClient, link_in, login, outbox
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import create_engine, event, func, insert, select, update
from world import ACCEPT, SECTION_FORMS, section_form, snapshot, write_agreement

from dugnad.extensions import db
from dugnad.models import ActivityArea, Agreement, AgreementSection, AgreementVersion, AuditEvent, OutboxMessage
from dugnad.sections import DEFAULT_CLAUSES, REQUIRED_SECTIONS, SECTION_KEYS, SECTIONS, SECTIONS_BY_KEY, Status
from dugnad.timeutil import now_utc, to_oslo

NBSP = "\u00a0"
TEXT_SECTIONS = [section.key for section in SECTIONS if section.text_required]


@dataclass
class Desk:
    """A member of staff at work: their client, municipality and an organisation."""

    app: object
    client: CSRFClient
    municipality_id: int
    organization_id: int
    email: str

    def new(self, organization_id: int | None = None, **form) -> int:
        """A new draft started through the page; its id."""
        data = {"organization_id": str(organization_id or self.organization_id), **form}
        response = self.client.post("/agreements/new", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
        return int(re.search(r"/agreements/(\d+)/edit$", response.headers["Location"]).group(1))

    def save(self, agreement_id: int, key: str, client: CSRFClient | None = None, **fields):
        return (client or self.client).post(f"/agreements/{agreement_id}/sections/{key}", data=fields)

    def page(self, url: str, client: CSRFClient | None = None) -> str:
        response = (client or self.client).get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def desk(app, client, factory) -> Desk:
    municipality = factory.municipality("Fjordvik kommune")
    email = factory.user(municipality, "staff", name="Siri Saksbehandler")
    organization = factory.organization(municipality, name="Fjordvik Røde Kors", email="leder@rodekors.example.no")
    login(client, email)
    return Desk(app, client, municipality, organization, email)


def _sections(app, agreement_id: int) -> dict[str, AgreementSection]:
    with app.app_context():
        rows = db.session.scalars(select(AgreementSection).where(AgreementSection.agreement_id == agreement_id)).all()
        db.session.expunge_all()
        return {row.key: row for row in rows}


def _agreement(app, agreement_id: int) -> Agreement:
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        db.session.expunge_all()
        return agreement


def _revision(page: str) -> str:
    return re.search(r'<input id="revision" name="revision" type="hidden" value="(\d*)">', page).group(1)


def _summary(page: str) -> str:
    match = re.search(r'<div class="ds-error-summary".*?</ul>', page, re.S)
    assert match, "no error summary"
    return match.group(0)


def _edit_events(app, agreement_id: int) -> list[dict]:
    with app.app_context():
        return [
            event.details
            for event in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id, AuditEvent.action == "edit")
                .order_by(AuditEvent.id)
            )
        ]


def _complete_required(desk: Desk, agreement_id: int, **overrides: dict) -> None:
    for key in REQUIRED_SECTIONS:
        response = desk.save(agreement_id, key, **section_form(key, **overrides.get(key, {})))
        assert response.status_code == 302, (key, response.get_data(as_text=True)[:2000])


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# --- Each section's rules --------------------------------------------------------------------
#
# (section, fields changed from a valid complete form, the field in error, its label, the message).
# Completion rules apply when the user says the section is complete ...

COMPLETION_RULES = [
    *[
        (key, {"text": ""}, "text", "Tekst i avtalen", "Skriv teksten, eller velg «Nei» og fortsett senere.")
        for key in TEXT_SECTIONS
    ],
    ("parties", {"municipality_signatory": ""}, "municipality_signatory", "Hvem signerer for kommunen?",
     "Skriv navnet på den som signerer for kommunen."),
    ("parties", {"municipality_signatory_title": ""}, "municipality_signatory_title",
     "Stillingen til den som signerer for kommunen", "Skriv stillingen til den som signerer for kommunen."),
    ("parties", {"organization_signatory": ""}, "organization_signatory", "Hvem signerer for organisasjonen?",
     "Skriv navnet på den som signerer for organisasjonen."),
    ("parties", {"organization_signatory_role": ""}, "organization_signatory_role",
     "Rollen til den som signerer for organisasjonen", "Skriv rollen til den som signerer for organisasjonen."),
    ("contacts", {"municipality_name": ""}, "municipality_name", "Kommunens kontaktperson",
     "Skriv navnet på kommunens kontaktperson."),
    ("contacts", {"organization_name": ""}, "organization_name", "Organisasjonens kontaktperson",
     "Skriv navnet på organisasjonens kontaktperson."),
    ("contacts", {"municipality_email": "", "municipality_phone": ""}, "municipality_email", "E-post",
     "Skriv e-post eller telefon til kommunens kontaktperson."),
    ("contacts", {"organization_email": "", "organization_phone": ""}, "organization_email", "E-post",
     "Skriv e-post eller telefon til organisasjonens kontaktperson."),
    ("economy", {"payment_schedule": ""}, "payment_schedule", "Utbetaling", "Skriv når tilskuddet betales ut."),
    ("economy", {"reporting": ""}, "reporting", "Rapportering", "Skriv hvordan organisasjonen rapporterer om tilskuddet."),
    ("evaluation", {"interval_months": ""}, "interval_months", "Evaluering hver … måned",
     "Skriv hvor mange måneder det går mellom hver evaluering."),
    ("duration", {"start": "", "end": ""}, "start", "Gjelder fra", "Skriv datoen avtalen gjelder fra."),
    ("duration", {"notice_months": ""}, "notice_months", "Oppsigelsestid i måneder",
     "Skriv oppsigelsestiden i måneder (0 hvis ingen)."),
]

# ... format rules on every save, complete or not.
FORMAT_RULES = [
    *[
        (key, {"text": "x" * 5001}, "text", "Tekst i avtalen", "Teksten kan ha høyst 5 000 tegn.")
        for key in SECTION_KEYS
    ],
    ("parties", {"organization_signatory": "K" * 121}, "organization_signatory", "Hvem signerer for organisasjonen?",
     "Kan ha høyst 120 tegn."),
    ("parties", {"place": "F" * 121}, "place", "Sted for signering", "Kan ha høyst 120 tegn."),
    ("activities", {"rows-0-how_often": "o" * 201}, "rows-0-how_often", "Aktivitet 1, hvor ofte", "Kan ha høyst 200 tegn."),
    ("contacts", {"municipality_email": "siri@"}, "municipality_email", "E-post",
     "Skriv en gyldig e-postadresse, for eksempel navn@lag.no."),
    ("contacts", {"organization_email": "kari på laget"}, "organization_email", "E-post",
     "Skriv en gyldig e-postadresse, for eksempel navn@lag.no."),
    ("contacts", {"municipality_phone": "ring meg"}, "municipality_phone", "Telefon",
     "Telefonnummeret kan bare ha siffer, mellomrom, bindestrek, parenteser og + først."),
    ("contacts", {"organization_phone": "99 88 77 66 ext. 5"}, "organization_phone", "Telefon",
     "Telefonnummeret kan bare ha siffer, mellomrom, bindestrek, parenteser og + først."),
    ("economy", {"grant": "-12 500"}, "grant", "Tilskudd i kroner", "Beløpet kan ikke være negativt."),
    ("economy", {"grant": "12 500,505"}, "grant", "Tilskudd i kroner", "Beløpet kan ha høyst to desimaler (øre)."),
    ("economy", {"grant": "12.500"}, "grant", "Tilskudd i kroner",
     "Skriv tusener med mellomrom, ikke punktum: for eksempel 12 500."),
    ("economy", {"grant": "tolv tusen"}, "grant", "Tilskudd i kroner",
     "Skriv beløpet i kroner med siffer, for eksempel 12 500 eller 12 500,50."),
    ("economy", {"grant": "100 000 001"}, "grant", "Tilskudd i kroner", "Beløpet kan være høyst kr 100 000 000."),
    ("economy", {"payment_schedule": "u" * 2001}, "payment_schedule", "Utbetaling", "Teksten kan ha høyst 2 000 tegn."),
    ("economy", {"reporting": "r" * 2001}, "reporting", "Rapportering", "Teksten kan ha høyst 2 000 tegn."),
    *[
        ("evaluation", {"interval_months": months}, "interval_months", "Evaluering hver … måned",
         "Skriv et helt antall måneder fra 1 til 36.")
        for months in ("0", "37", "tolv", "1,5", "-3", "²", "1" * 5000)
    ],
    ("duration", {"start": "31.02.2027"}, "start", "Gjelder fra", "Skriv en gyldig dato, for eksempel 01.01.2027."),
    ("duration", {"start": "neste år"}, "start", "Gjelder fra", "Skriv en gyldig dato, for eksempel 01.01.2027."),
    ("duration", {"end": "2027-13-01"}, "end", "Gjelder til og med", "Skriv en gyldig dato, for eksempel 31.12.2027."),
    ("duration", {"start": "2027-01-01", "end": "31.12.2026"}, "end", "Gjelder til og med",
     "Sluttdatoen må være etter startdatoen."),
    ("duration", {"start": "01.01.2027", "end": "2027-01-01"}, "end", "Gjelder til og med",
     "Sluttdatoen må være etter startdatoen."),
    *[
        ("duration", {"notice_months": months}, "notice_months", "Oppsigelsestid i måneder",
         "Skriv et helt antall måneder fra 0 til 24.")
        for months in ("25", "-1", "tre", "²")
    ],
]


def _refused(desk: Desk, agreement_id: int, key: str, form: dict, field_id: str, label: str, message: str,
             error_id: str | None = None):
    """Posts `form` and proves it is refused as the rules say, with nothing saved."""
    before = snapshot(desk.app)
    response = desk.save(agreement_id, key, **form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    error_id = error_id or f"{field_id}-error"
    assert f'id="{error_id}">{escape(message)}</div>' in page  # next to the field
    assert f'<a class="ds-link" href="#{field_id}">{escape(label)}: {escape(message)}</a>' in _summary(page)
    if error_id == f"{field_id}-error":  # the field points at its message and is marked invalid
        field_tag = re.search(rf'<(?:input|textarea|select)[^>]*\bid="{field_id}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field_tag and error_id in field_tag
    assert snapshot(desk.app) == before  # nothing saved, nothing audited
    return page


@pytest.mark.parametrize("key, fields, field_id, label, message", COMPLETION_RULES,
                         ids=[f"{case[0]}-{case[2]}" for case in COMPLETION_RULES])
def test_a_complete_section_needs_its_required_fields(desk, key, fields, field_id, label, message):
    agreement_id = desk.new()
    _refused(desk, agreement_id, key, section_form(key, **fields), field_id, label, message)
    # Saying "not yet" saves the same answers, in progress.
    response = desk.save(agreement_id, key, **section_form(key, complete="no", **fields))
    assert response.status_code == 302
    stored = _sections(desk.app, agreement_id)[key]
    assert stored.status == Status.IN_PROGRESS
    assert all(stored.data[name] == value for name, value in fields.items() if name in stored.data)


@pytest.mark.parametrize("complete", ["yes", "no"])
@pytest.mark.parametrize("key, fields, field_id, label, message", FORMAT_RULES,
                         ids=[f"{case[0]}-{case[2]}-{str(list(case[1].values())[-1])[:12]}" for case in FORMAT_RULES])
def test_format_rules_apply_on_every_save(desk, complete, key, fields, field_id, label, message):
    agreement_id = desk.new()
    _refused(desk, agreement_id, key, section_form(key, complete=complete, **fields), field_id, label, message)


def test_the_completion_question_must_be_answered_unless_going_to_the_overview(desk):
    agreement_id = desk.new()
    form = section_form("purpose")
    del form["complete"]
    _refused(desk, agreement_id, "purpose", form, "complete-0", "Er avsnittet ferdig?",
             "Velg om avsnittet er ferdig, eller om du vil fortsette senere.", error_id="complete-error")
    # "Lagre og gå til oversikten" may leave the question for later.
    response = desk.save(agreement_id, "purpose", then="tasks", **form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/agreements/{agreement_id}/edit")
    stored = _sections(desk.app, agreement_id)["purpose"]
    assert (stored.data["text"], stored.status) == (SECTION_FORMS["purpose"]["text"], Status.IN_PROGRESS)


def test_an_activity_needs_at_least_one_row_to_be_complete(desk):
    agreement_id = desk.new()
    empty_row = {"rows-0-what": "", "rows-0-where": "", "rows-0-how_often": "", "rows-0-leader": ""}
    before = snapshot(desk.app)
    response = desk.save(agreement_id, "activities", **section_form("activities", **empty_row))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    message = "Legg inn minst én aktivitet, eller velg «Nei» og fortsett senere."
    assert f'id="rows-error">{message}</div>' in page
    assert message in _summary(page)
    assert snapshot(desk.app) == before


def test_an_activity_row_with_details_needs_what(desk):
    agreement_id = desk.new()
    page = _refused(desk, agreement_id, "activities", section_form("activities", **{"rows-0-what": ""}),
                    "rows-0-what", "Aktivitet 1, hva", "Skriv hva aktiviteten er.")
    assert 'value="Biblioteket"' in page  # the rest of the row is kept as typed


def test_an_activity_area_must_come_from_the_municipalitys_catalogue(desk, factory):
    other = factory.municipality("Nabovik kommune")
    with desk.app.app_context():
        foreign_area = db.session.scalar(select(ActivityArea.id).where(ActivityArea.municipality_id == other))
        own_area = db.session.scalar(
            select(ActivityArea).where(ActivityArea.municipality_id == desk.municipality_id).order_by(ActivityArea.position)
        )
        own_area_id, own_area_name = own_area.id, own_area.name
    agreement_id = desk.new()
    for area_id in (str(foreign_area), "999999", "x"):
        _refused(desk, agreement_id, "activities", section_form("activities", **{"rows-0-area_id": area_id}),
                 "rows-0-area_id", "Aktivitet 1, område", "Velg et område fra listen.")
    response = desk.save(agreement_id, "activities", **section_form("activities", **{"rows-0-area_id": str(own_area_id)}))
    assert response.status_code == 302
    [row] = _sections(desk.app, agreement_id)["activities"].data["rows"]
    assert (row["area_id"], row["area"], row["what"]) == (str(own_area_id), own_area_name, "Flyktningguide")


def test_activity_rows_are_added_and_removed_without_saving(desk):
    agreement_id = desk.new()
    before = snapshot(desk.app)
    form = section_form("activities")
    page = desk.save(agreement_id, "activities", add_row="1", **form).get_data(as_text=True)
    assert 'name="rows-1-what"' in page and "Aktivitet 2" in page
    assert re.search(r'<select[^>]*autofocus[^>]*id="rows-1-area_id"|id="rows-1-area_id"[^>]*autofocus', page)
    assert 'value="Flyktningguide"' in page  # what was typed stays
    # With htmx only the rows come back.
    response = desk.client.post(f"/agreements/{agreement_id}/sections/activities", data={**form, "add_row": "1"},
                                headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert fragment.lstrip().startswith("<fieldset") and "<html" not in fragment and 'name="rows-1-what"' in fragment
    two_rows = {**form, "rows-1-what": "Språkkafé", "rows-1-area_id": ""}
    page = desk.save(agreement_id, "activities", remove_row="0", **two_rows).get_data(as_text=True)
    assert 'value="Språkkafé"' in page and 'value="Flyktningguide"' not in page
    for bad in ("99", "²", "-1", "abc"):  # nonsense removes nothing and is no error
        assert desk.save(agreement_id, "activities", remove_row=bad, **two_rows).status_code == 200
    assert snapshot(desk.app) == before


@pytest.mark.parametrize(
    "typed, stored, shown, in_form",
    [
        ("12 500", "12500.00", f"kr{NBSP}12{NBSP}500", "12 500"),
        ("12 500,50", "12500.50", f"kr{NBSP}12{NBSP}500,50", "12 500,50"),
        ("12500.50", "12500.50", f"kr{NBSP}12{NBSP}500,50", "12 500,50"),
        ("kr 12 500,-", "12500.00", f"kr{NBSP}12{NBSP}500", "12 500"),
        (f"12{NBSP}500,50", "12500.50", f"kr{NBSP}12{NBSP}500,50", "12 500,50"),
        ("12\u202f500", "12500.00", f"kr{NBSP}12{NBSP}500", "12 500"),
    ],
)
def test_amounts_are_read_as_typed_and_shown_the_norwegian_way(desk, typed, stored, shown, in_form):
    agreement_id = desk.new()
    assert desk.save(agreement_id, "economy", **section_form("economy", grant=typed)).status_code == 302
    section = _sections(desk.app, agreement_id)["economy"]
    assert (section.data["grant"], section.status) == (stored, Status.COMPLETED)
    assert f'name="grant" type="text" value="{in_form}"' in desk.page(f"/agreements/{agreement_id}/sections/economy")
    assert f"Tilskudd: {shown}</p>" in desk.page(f"/agreements/{agreement_id}/check")
    assert f"Tilskudd: {shown}</p>" in desk.page(f"/agreements/{agreement_id}/preview")


def test_no_grant_needs_no_payment_schedule_or_reporting(desk):
    agreement_id = desk.new()
    for grant in ("", "0"):
        response = desk.save(agreement_id, "economy", **section_form("economy", grant=grant, payment_schedule="", reporting=""))
        assert response.status_code == 302
        assert _sections(desk.app, agreement_id)["economy"].status == Status.COMPLETED


@pytest.mark.parametrize(
    "fields, stored",
    [
        ({"start": "01.01.2027", "end": "31.12.2027"}, ("2027-01-01", "2027-12-31")),
        ({"start": "2027-01-01", "end": ""}, ("2027-01-01", "")),
        ({"start": "1.8.27", "end": "31.07.2028"}, ("2027-08-01", "2028-07-31")),
    ],
)
def test_dates_are_iso_or_as_norwegians_write_them(desk, fields, stored):
    agreement_id = desk.new()
    assert desk.save(agreement_id, "duration", **section_form("duration", **fields)).status_code == 302
    data = _sections(desk.app, agreement_id)["duration"].data
    assert (data["start"], data["end"]) == stored


@pytest.mark.parametrize("months, stored", [("0", "0"), ("24", "24"), ("03", "3")])
def test_notice_is_zero_to_twenty_four_months(desk, months, stored):
    agreement_id = desk.new()
    assert desk.save(agreement_id, "duration", **section_form("duration", notice_months=months)).status_code == 302
    assert _sections(desk.app, agreement_id)["duration"].data["notice_months"] == stored


@pytest.mark.parametrize("months, stored", [("1", "1"), ("36", "36"), ("06", "6")])
def test_evaluation_is_every_one_to_thirty_six_months(desk, months, stored):
    agreement_id = desk.new()
    assert desk.save(agreement_id, "evaluation", **section_form("evaluation", interval_months=months)).status_code == 302
    assert _sections(desk.app, agreement_id)["evaluation"].data["interval_months"] == stored
    if stored == "6":
        assert "Samarbeidet evalueres hver 6. måned." in desk.page(f"/agreements/{agreement_id}/preview")


def test_exactly_five_thousand_characters_are_accepted(desk):
    agreement_id = desk.new()
    text = "æ" * 5000
    assert desk.save(agreement_id, "purpose", **section_form("purpose", text=text)).status_code == 302
    assert _sections(desk.app, agreement_id)["purpose"].data["text"] == text


ANY_UNICODE = "Leksehjelp 📚🇳🇴 for alle: Čáđđi ŋ ŧ ž Áillohaš, مرحبا بكم, שלום, 学习, e\u0301"


def test_any_unicode_is_kept_and_control_characters_are_dropped(desk):
    agreement_id = desk.new()
    with_controls = "Før\x00 \x07etter\x1b"
    fields = {
        "parties": {"organization_signatory": f"Máret Áile {with_controls}", "text": ANY_UNICODE},
        "purpose": {"text": f"{ANY_UNICODE}\n\nAndre avsnitt \x00med NUL."},
        "activities": {"rows-0-what": ANY_UNICODE[:80], "rows-0-leader": "Ánde\x00 Ođđa"},
        "contacts": {"organization_name": "Sáhkku\x00 Niillas", "organization_role": "ساعد"},
        "economy": {"payment_schedule": "Innen 1. mars 💸\x00"},
    }
    for key, changed in fields.items():
        response = desk.save(agreement_id, key, **section_form(key, **changed))
        assert response.status_code == 302, (key, response.get_data(as_text=True)[:1000])
    stored = _sections(desk.app, agreement_id)
    assert stored["parties"].data["organization_signatory"] == "Máret Áile Før etter"
    assert stored["parties"].data["text"] == ANY_UNICODE
    assert stored["purpose"].data["text"] == f"{ANY_UNICODE}\n\nAndre avsnitt med NUL."
    assert stored["activities"].data["rows"][0]["what"] == ANY_UNICODE[:80]
    assert stored["activities"].data["rows"][0]["leader"] == "Ánde Ođđa"
    assert stored["contacts"].data["organization_name"] == "Sáhkku Niillas"
    assert stored["contacts"].data["organization_role"] == "ساعد"
    assert stored["economy"].data["payment_schedule"] == "Innen 1. mars 💸"
    for url in (f"/agreements/{agreement_id}/check", f"/agreements/{agreement_id}/preview",
                f"/agreements/{agreement_id}/sections/purpose"):
        page = desk.page(url)
        assert str(escape(ANY_UNICODE)) in page and "\x00" not in page
    # NUL anywhere else in a post is no 500 either: the title, the hidden fields, an autosave, the preview.
    response = desk.client.post(f"/agreements/{agreement_id}/details", data={"title": "Avtale\x00 om leksehjelp", "language": "nb\x00"})
    assert response.status_code == 302
    assert _agreement(desk.app, agreement_id).title == "Avtale om leksehjelp"
    nul_everywhere = {**section_form("target_group", text="Alle\x00"), "revision": "\x00", "complete": "yes\x00",
                      "return_to": "check\x00"}
    assert desk.save(agreement_id, "target_group", **nul_everywhere).status_code == 302
    assert _sections(desk.app, agreement_id)["target_group"].data["text"] == "Alle"
    assert desk.save(agreement_id, "target_group", autosave="1", **nul_everywhere).status_code == 200
    response = desk.client.post(f"/agreements/{agreement_id}/sections/target_group/preview", data=nul_everywhere)
    assert response.status_code == 200 and "Alle" in response.get_data(as_text=True)


# --- The task list ---------------------------------------------------------------------------


def _task_statuses(page: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="ds-tag" data-color="\w+" id="status-(\w+)">([^<]+)</span>', page))


def test_task_list_shows_each_sections_status_and_the_completed_count(desk):
    agreement_id = desk.new()
    tasks = f"/agreements/{agreement_id}/edit"
    page = desk.page(tasks)
    assert _task_statuses(page) == {key: "Ikke startet" for key in SECTION_KEYS}
    assert "0 av 15 avsnitt er ferdige." in page
    # Every section is a link, in document order; required ones say so.
    assert re.findall(rf'href="/agreements/{agreement_id}/sections/(\w+)"', page) == list(SECTION_KEYS)
    assert page.count("(må være ferdig før sending)") == len(REQUIRED_SECTIONS)

    assert desk.save(agreement_id, "purpose", **section_form("purpose", complete="no")).status_code == 302
    assert desk.save(agreement_id, "target_group", autosave="1", text="Bosatte flyktninger").status_code == 200
    assert desk.save(agreement_id, "disputes", **section_form("disputes")).status_code == 302
    page = desk.page(tasks)
    statuses = _task_statuses(page)
    assert (statuses["purpose"], statuses["target_group"], statuses["disputes"]) == ("Påbegynt", "Påbegynt", "Ferdig")
    assert "1 av 15 avsnitt er ferdige." in page
    assert {statuses[key] for key in SECTION_KEYS if key not in ("purpose", "target_group", "disputes")} == {"Ikke startet"}

    # In progress becomes completed; the section pages show the same list.
    assert desk.save(agreement_id, "purpose", **section_form("purpose")).status_code == 302
    page = desk.page(f"/agreements/{agreement_id}/sections/meetings")
    assert _task_statuses(page)["purpose"] == "Ferdig" and "2 av 15 avsnitt er ferdige." in page
    assert 'aria-current="page">Møter og informasjon</a>' in page


def test_save_and_continue_goes_to_the_next_section_and_the_last_to_the_check_page(desk):
    agreement_id = desk.new()
    response = desk.save(agreement_id, "purpose", **section_form("purpose"))
    assert response.headers["Location"].endswith(f"/agreements/{agreement_id}/sections/target_group")
    response = desk.save(agreement_id, "disputes", **section_form("disputes"))
    assert response.headers["Location"].endswith(f"/agreements/{agreement_id}/check")
    assert "«Tvister» er lagret." in desk.page(response.headers["Location"])


def test_unknown_section_is_404(desk):
    agreement_id = desk.new()
    assert desk.client.get(f"/agreements/{agreement_id}/sections/nonsense").status_code == 404
    assert desk.save(agreement_id, "nonsense", text="x").status_code == 404


# --- Check your answers ----------------------------------------------------------------------


def test_check_page_has_every_section_with_a_change_link_back_to_it(desk):
    agreement_id = desk.new()
    write_agreement(desk.client, agreement_id, premises={"text": "", "complete": "no"}, insurance={"text": "", "complete": "no"})
    check = f"/agreements/{agreement_id}/check"
    page = desk.page(check)
    for section in SECTIONS:
        assert f'<h2 class="ds-heading" data-size="sm" id="check-{section.key}">{escape(section.title)}</h2>' in page
        link = f'href="/agreements/{agreement_id}/sections/{section.key}?return_to=check">Endre<span class="visually-hidden"> {escape(section.title)}</span>'
        assert link in page
    # Blank optional sections say they are left out of the document.
    chunks = {re.search(r'id="check-(\w+)"', chunk).group(1): chunk for chunk in page.split('<section class="check-section"')[1:]}
    assert list(chunks) == list(SECTION_KEYS)
    left_out = "Tomt – avsnittet blir ikke med i avtalen."
    assert [key for key, chunk in chunks.items() if left_out in chunk] == ["premises", "insurance"]
    assert "Kontaktpersonene møtes to ganger i året." in page  # written text is shown

    # A Change link carries return_to=check through the section page and back.
    section_page = desk.page(f"/agreements/{agreement_id}/sections/meetings?return_to=check")
    assert '<input type="hidden" name="return_to" value="check">' in section_page
    assert f'<a class="ds-link" href="{check}">Tilbake</a>' in section_page
    response = desk.save(agreement_id, "meetings", return_to="check", **section_form("meetings", text="Møtes hver vår."))
    assert response.status_code == 302 and response.headers["Location"].endswith(check)
    assert "Møtes hver vår." in desk.page(check)
    # Also after a refusal, the form keeps where to return to.
    response = desk.save(agreement_id, "meetings", return_to="check", **section_form("meetings", text=""))
    assert response.status_code == 400
    assert '<input type="hidden" name="return_to" value="check">' in response.get_data(as_text=True)
    response = desk.client.post(f"/agreements/{agreement_id}/details", data={"title": "Ny tittel", "language": "nb", "return_to": "check"})
    assert response.headers["Location"].endswith(check)


# --- Sending ---------------------------------------------------------------------------------


def test_sending_is_refused_while_required_sections_are_incomplete(desk):
    agreement_id = desk.new()
    for key in ("purpose", "activities"):
        assert desk.save(agreement_id, key, **section_form(key)).status_code == 302
    before = snapshot(desk.app)
    response = desk.client.post(f"/agreements/{agreement_id}/send", data={})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    summary = _summary(page)
    assert "Avtalen kan ikke sendes før disse avsnittene er ferdige:" in summary
    missing = [key for key in REQUIRED_SECTIONS if key not in ("purpose", "activities")]
    assert re.findall(rf'href="/agreements/{agreement_id}/sections/(\w+)\?return_to=check"', summary) == missing
    for key in missing:
        assert f'return_to=check">{escape(SECTIONS_BY_KEY[key].title)}</a>' in summary
    assert snapshot(desk.app) == before  # nothing sent, no version, no mail, no event
    assert _agreement(desk.app, agreement_id).state == "draft"
    assert outbox(desk.app) == []


def test_sending_freezes_the_completed_draft_as_a_version(desk):
    agreement_id = desk.new()
    _complete_required(desk, agreement_id)
    assert desk.save(agreement_id, "economy", **section_form("economy", grant="12 500,50")).status_code == 302
    assert desk.save(agreement_id, "insurance", **section_form("insurance", complete="no")).status_code == 302
    response = desk.client.post(f"/agreements/{agreement_id}/send", data={})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/agreements/{agreement_id}")
    with desk.app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        assert agreement.state == "sent"
        [version] = agreement.versions
        assert set(version.content["sections"]) == set(SECTION_KEYS)
        assert version.content["sections"]["purpose"]["text"] == SECTION_FORMS["purpose"]["text"]
        assert version.content["sections"]["activities"]["rows"][0]["what"] == "Flyktningguide"
        assert version.sha256 == hashlib.sha256(version.html.encode("utf-8")).hexdigest()
        assert SECTION_FORMS["purpose"]["text"] in version.html
        assert f"Tilskudd: kr{NBSP}12{NBSP}500,50" in version.html
        # Optional sections go as they stand, finished or not.
        assert "Organisasjonen forsikrer de frivillige." in version.html
    [message] = outbox(desk.app, to="leder@rodekors.example.no")
    assert link_in(message).startswith("/r/")
    # A sent agreement is no longer a draft to edit.
    response = desk.save(agreement_id, "purpose", **section_form("purpose", text="Endret etter sending"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/agreements/{agreement_id}")
    assert _sections(desk.app, agreement_id)["purpose"].data["text"] == SECTION_FORMS["purpose"]["text"]


# --- Autosave, conflicts, double submits -----------------------------------------------------


def test_autosave_saves_and_answers_with_the_time_the_task_list_and_the_new_revision(desk):
    agreement_id = desk.new()
    revision = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    response = desk.save(agreement_id, "purpose", autosave="1", revision=revision, text="Skrevet så langt")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    now = to_oslo(now_utc())
    times = {now.strftime("%H:%M"), to_oslo(now_utc()).strftime("%H:%M")}
    assert any(f"Lagret kl. {time}." in body for time in times), body
    assert re.search(r'<nav id="task-list"[^>]*hx-swap-oob="true"', body)
    assert '<span class="ds-tag" data-color="info" id="status-purpose">Påbegynt</span>' in body
    stored = _sections(desk.app, agreement_id)["purpose"]
    assert f'<input type="hidden" name="revision" id="revision" value="{stored.revision}" hx-swap-oob="true">' in body
    assert stored.revision == int(revision) + 1
    assert (stored.data["text"], stored.status) == ("Skrevet så langt", Status.IN_PROGRESS)
    assert _edit_events(desk.app, agreement_id) == []  # only explicit saves are audited

    # The page's next save names that revision and is no conflict.
    response = desk.save(agreement_id, "purpose", **section_form("purpose", revision=str(stored.revision)))
    assert response.status_code == 302
    assert _sections(desk.app, agreement_id)["purpose"].status == Status.COMPLETED


def test_autosave_never_completes_a_section_and_keeps_a_completed_one_complete_while_it_is(desk):
    agreement_id = desk.new()
    # In progress stays in progress, even with everything filled in and "yes" chosen.
    assert desk.save(agreement_id, "purpose", autosave="1", **section_form("purpose")).status_code == 200
    assert _sections(desk.app, agreement_id)["purpose"].status == Status.IN_PROGRESS
    assert desk.save(agreement_id, "purpose", **section_form("purpose")).status_code == 302
    assert desk.save(agreement_id, "purpose", autosave="1", **section_form("purpose", text="Litt endret")).status_code == 200
    assert _sections(desk.app, agreement_id)["purpose"].status == Status.COMPLETED
    # Emptying a completed section's required text takes it back to in progress.
    assert desk.save(agreement_id, "purpose", autosave="1", **section_form("purpose", text="")).status_code == 200
    stored = _sections(desk.app, agreement_id)["purpose"]
    assert (stored.data["text"], stored.status) == ("", Status.IN_PROGRESS)


@pytest.mark.parametrize(
    "key, fields, field_id, label, message",
    [
        ("economy", {"grant": "12.500"}, "grant", "Tilskudd i kroner", "Skriv tusener med mellomrom, ikke punktum: for eksempel 12 500."),
        ("purpose", {"text": "x" * 5001}, "text", "Tekst i avtalen", "Teksten kan ha høyst 5 000 tegn."),
        ("duration", {"end": "31.12.2020"}, "end", "Gjelder til og med", "Sluttdatoen må være etter startdatoen."),
        ("activities", {"rows-0-what": ""}, "rows-0-what", "Hva", "Skriv hva aktiviteten er."),
    ],
)
def test_an_invalid_autosave_names_the_field_and_saves_nothing(desk, key, fields, field_id, label, message):
    agreement_id = desk.new()
    before = snapshot(desk.app)
    response = desk.save(agreement_id, key, autosave="1", **section_form(key, **fields))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'Ikke lagret: <a class="ds-link" href="#{field_id}">{escape(label)}: {escape(message)}</a>' in body
    assert snapshot(desk.app) == before


def test_autosave_does_not_ask_for_what_completion_needs(desk):
    agreement_id = desk.new()
    response = desk.save(agreement_id, "parties", autosave="1", **section_form("parties", organization_signatory=""))
    assert response.status_code == 200
    assert _sections(desk.app, agreement_id)["parties"].status == Status.IN_PROGRESS


@pytest.fixture
def colleague(app, desk, factory) -> CSRFClient:
    """A second member of staff of the same municipality, logged in on their own client."""
    client = app.test_client()
    login(client, factory.user(desk.municipality_id, "staff", name="Per Kollega"))
    return client


def test_a_conflicting_save_keeps_both_texts(desk, colleague):
    agreement_id = desk.new()
    url = f"/agreements/{agreement_id}/sections/purpose"
    revision = _revision(desk.page(url))
    assert _revision(desk.page(url, colleague)) == revision

    mine, theirs = "Siris tekst om formålet.", "Pers tekst om formålet."
    assert desk.save(agreement_id, "purpose", client=colleague, **section_form("purpose", text=theirs, revision=revision)).status_code == 302
    before = snapshot(desk.app)
    response = desk.save(agreement_id, "purpose", **section_form("purpose", text=mine, revision=revision))
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert snapshot(desk.app) == before  # nothing overwritten
    assert _sections(desk.app, agreement_id)["purpose"].data["text"] == theirs
    conflict = page[page.index('id="conflict"'):page.index("</details>")]
    assert "Noen andre har lagret dette avsnittet mens du skrev" in conflict
    assert "Per Kollega lagret kl." in conflict
    assert theirs in conflict  # the other person's text, to read
    assert re.search(rf'<textarea[^>]*name="text"[^>]*>\r?\n?{re.escape(mine)}</textarea>', page)  # mine, still in the form
    newer = _revision(page)
    assert int(newer) == int(revision) + 1

    # Saving again from the conflict page deliberately replaces it.
    assert desk.save(agreement_id, "purpose", **section_form("purpose", text=mine, revision=newer)).status_code == 302
    assert _sections(desk.app, agreement_id)["purpose"].data["text"] == mine


def test_a_conflicting_autosave_is_refused_with_who_saved(desk, colleague):
    agreement_id = desk.new()
    revision = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    assert desk.save(agreement_id, "purpose", client=colleague, autosave="1", revision=revision, text="Per skriver").status_code == 200
    before = snapshot(desk.app)
    response = desk.save(agreement_id, "purpose", autosave="1", revision=revision, text="Siri skriver")
    assert response.status_code == 409
    assert "Ikke lagret: Per Kollega lagret dette avsnittet kl." in response.get_data(as_text=True)
    assert snapshot(desk.app) == before


def test_the_same_text_from_the_same_revision_is_no_conflict(desk, colleague):
    agreement_id = desk.new()
    revision = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    form = section_form("purpose", text="Samme tekst fra begge.", revision=revision)
    assert desk.save(agreement_id, "purpose", client=colleague, **form).status_code == 302
    assert desk.save(agreement_id, "purpose", **form).status_code == 302
    assert _sections(desk.app, agreement_id)["purpose"].revision == int(revision) + 1


def test_a_double_submit_saves_once(desk):
    agreement_id = desk.new()
    revision = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    form = section_form("purpose", text="Sendt to ganger.", revision=revision)
    first, second = desk.save(agreement_id, "purpose", **form), desk.save(agreement_id, "purpose", **form)
    assert (first.status_code, second.status_code) == (302, 302)
    assert first.headers["Location"] == second.headers["Location"]
    stored = _sections(desk.app, agreement_id)["purpose"]
    assert (stored.revision, stored.data["text"]) == (int(revision) + 1, "Sendt to ganger.")
    assert _edit_events(desk.app, agreement_id) == [{"section": "purpose", "status": "completed"}]


def test_save_and_continue_supersedes_the_users_own_autosave_still_in_flight(desk):
    # The page autosaved while the user kept typing and pressed the button before the
    # autosave's answer (with the new revision) arrived: their own newer text wins, no conflict.
    agreement_id = desk.new()
    revision = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    assert desk.save(agreement_id, "purpose", autosave="1", **section_form("purpose", text="Skrevet", revision=revision)).status_code == 200
    response = desk.save(agreement_id, "purpose", **section_form("purpose", text="Skrevet ferdig.", revision=revision))
    assert response.status_code == 302
    stored = _sections(desk.app, agreement_id)["purpose"]
    assert (stored.data["text"], stored.status, stored.revision) == ("Skrevet ferdig.", Status.COMPLETED, int(revision) + 2)


def test_save_and_continue_after_an_autosave_of_the_same_text_completes_the_section(desk):
    # The page's own autosave stores the text a moment before the user presses the button,
    # so the button's post names the older revision: the section must still become completed.
    agreement_id = desk.new()
    revision = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    form = section_form("purpose", text="Skrevet og lagret automatisk.", revision=revision)
    assert desk.save(agreement_id, "purpose", autosave="1", **form).status_code == 200
    assert _sections(desk.app, agreement_id)["purpose"].status == Status.IN_PROGRESS
    assert desk.save(agreement_id, "purpose", **form).status_code == 302
    stored = _sections(desk.app, agreement_id)["purpose"]
    assert (stored.status, stored.data["text"]) == (Status.COMPLETED, "Skrevet og lagret automatisk.")


def test_two_people_saving_different_sections_keep_each_others_work(desk, colleague):
    agreement_id = desk.new()
    mine = _revision(desk.page(f"/agreements/{agreement_id}/sections/purpose"))
    theirs = _revision(desk.page(f"/agreements/{agreement_id}/sections/target_group", colleague))
    # Interleaved: an autosave each, then each one's explicit save.
    assert desk.save(agreement_id, "purpose", autosave="1", revision=mine, text="Siri, utkast").status_code == 200
    assert desk.save(agreement_id, "target_group", client=colleague, autosave="1", revision=theirs, text="Per, utkast").status_code == 200
    assert desk.save(agreement_id, "purpose", **section_form("purpose", text="Siris formål", revision=str(int(mine) + 1))).status_code == 302
    response = desk.save(agreement_id, "target_group", client=colleague,
                         **section_form("target_group", text="Pers målgruppe", revision=str(int(theirs) + 1)))
    assert response.status_code == 302
    stored = _sections(desk.app, agreement_id)
    assert (stored["purpose"].data["text"], stored["target_group"].data["text"]) == ("Siris formål", "Pers målgruppe")
    assert stored["purpose"].status == stored["target_group"].status == Status.COMPLETED


# --- The live preview ------------------------------------------------------------------------


def test_live_preview_shows_the_typed_text_without_saving(desk):
    agreement_id = desk.new()
    before = snapshot(desk.app)
    response = desk.client.post(f"/agreements/{agreement_id}/sections/purpose/preview",
                                data=section_form("purpose", text="Ulagret tekst\n\nAndre avsnitt"),
                                headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body  # a fragment
    assert "<p>Ulagret tekst</p><p>Andre avsnitt</p>" in body
    assert DEFAULT_CLAUSES["purpose"]["nb"] not in body
    assert DEFAULT_CLAUSES["target_group"]["nb"] in body  # the rest of the document as saved
    assert "forhåndsvisningen viser det som sist ble lagret" not in body
    assert snapshot(desk.app) == before


def test_live_preview_with_an_invalid_field_shows_the_last_saved_text_and_says_so(desk):
    agreement_id = desk.new()
    assert desk.save(agreement_id, "economy", **section_form("economy", payment_schedule="Lagret utbetaling.")).status_code == 302
    before = snapshot(desk.app)
    response = desk.client.post(f"/agreements/{agreement_id}/sections/economy/preview",
                                data=section_form("economy", grant="12.500", payment_schedule="Skrevet, ikke lagret."))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Et felt har feil, så forhåndsvisningen viser det som sist ble lagret." in body
    assert "Lagret utbetaling." in body and "Skrevet, ikke lagret." not in body
    assert f"Tilskudd: kr{NBSP}12{NBSP}500</p>" in body
    assert snapshot(desk.app) == before


# --- The clause library, languages and copies ------------------------------------------------


def test_a_new_agreement_starts_from_the_municipalitys_clauses_in_its_language(desk, factory):
    admin_client = desk.app.test_client()
    login(admin_client, factory.user(desk.municipality_id, "admin"))
    own_nb, own_nn = "Fjordvik og laget vil gi nye innbyggere en god start.", "Fjordvik og laget vil gi nye innbyggjarar ein god start."
    response = admin_client.post("/admin/clauses/purpose", data={"nb": own_nb, "nn": own_nn, "action": "save"})
    assert response.status_code == 302

    nb, nn = desk.new(language="nb"), desk.new(language="nn")
    assert _agreement(desk.app, nn).language == "nn"
    for agreement_id, language, own in ((nb, "nb", own_nb), (nn, "nn", own_nn)):
        stored = _sections(desk.app, agreement_id)
        assert stored["purpose"].data["text"] == own
        assert {key: row.data["text"] for key, row in stored.items() if key != "purpose"} == {
            key: DEFAULT_CLAUSES[key][language] for key in SECTION_KEYS if key != "purpose"
        }
        assert {row.status for row in stored.values()} == {Status.NOT_STARTED}
        assert f">\r\n{own}</textarea>" in desk.page(f"/agreements/{agreement_id}/sections/purpose")
    # Another municipality's wording stays its own.
    other = factory.municipality("Nabovik kommune")
    other_client = desk.app.test_client()
    login(other_client, factory.user(other, "staff"))
    other_org = factory.organization(other)
    response = other_client.post("/agreements/new", data={"organization_id": str(other_org)})
    other_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    assert _sections(desk.app, other_id)["purpose"].data["text"] == DEFAULT_CLAUSES["purpose"]["nb"]


def test_switching_language_swaps_the_text_of_sections_not_started_only(desk):
    agreement_id = desk.new(language="nb")
    assert desk.save(agreement_id, "purpose", **section_form("purpose", complete="no", text="Vår egen tekst.")).status_code == 302
    assert desk.save(agreement_id, "disputes", autosave="1", text=DEFAULT_CLAUSES["disputes"]["nb"] + " Tillegg.").status_code == 200
    response = desk.client.post(f"/agreements/{agreement_id}/details", data={"title": "Avtale på nynorsk", "language": "nn"})
    assert response.status_code == 302
    agreement = _agreement(desk.app, agreement_id)
    assert (agreement.language, agreement.title) == ("nn", "Avtale på nynorsk")
    stored = _sections(desk.app, agreement_id)
    assert stored["purpose"].data["text"] == "Vår egen tekst."
    assert stored["disputes"].data["text"] == DEFAULT_CLAUSES["disputes"]["nb"] + " Tillegg."
    for key in SECTION_KEYS:
        if key not in ("purpose", "disputes"):
            assert stored[key].data["text"] == DEFAULT_CLAUSES[key]["nn"], key
            assert stored[key].status == Status.NOT_STARTED
    # The other fields of a section not started are kept (e.g. the contacts from the registry).
    assert stored["contacts"].data["municipality_name"] == "Siri Saksbehandler"
    # And back.
    assert desk.client.post(f"/agreements/{agreement_id}/details", data={"title": "Avtale", "language": "nb"}).status_code == 302
    assert _sections(desk.app, agreement_id)["target_group"].data["text"] == DEFAULT_CLAUSES["target_group"]["nb"]


def test_a_copy_takes_the_sections_but_the_new_organisations_signatory_and_contact(desk, factory):
    source_id = desk.new(language="nn")
    write_agreement(desk.client, source_id)
    other_org = factory.organization(desk.municipality_id, name="Fjordvik Idrettslag", email="post@il.example.no")
    copy_id = desk.new(other_org, start_from="copy", copy_of=str(source_id), language="nb")
    source, copy = _sections(desk.app, source_id), _sections(desk.app, copy_id)
    assert _agreement(desk.app, copy_id).language == "nn"  # the copy keeps the source's language
    assert _agreement(desk.app, copy_id).organization_id == other_org
    assert {row.status for row in copy.values()} == {Status.IN_PROGRESS}
    for key in SECTION_KEYS:
        if key not in ("parties", "contacts"):
            assert copy[key].data == source[key].data, key
    parties = copy["parties"].data
    assert (parties["municipality_signatory"], parties["organization_signatory"], parties["organization_signatory_role"]) == (
        "Ola Nordmann", "", "")
    contacts = copy["contacts"].data
    assert contacts["municipality_name"] == "Siri Saksbehandler"
    assert contacts["organization_email"] == "post@il.example.no"
    assert contacts["organization_name"].startswith("Leder ") and contacts["organization_name"] != "Kari Nordmann"
    assert contacts["organization_role"] == "styreleder"
    # The copy's sections must be read again: it cannot be sent before.
    assert desk.client.post(f"/agreements/{copy_id}/send", data={}).status_code == 400


def test_another_municipalitys_agreement_cannot_be_copied(desk, factory):
    other = factory.municipality("Nabovik kommune")
    other_client = desk.app.test_client()
    login(other_client, factory.user(other, "staff"))
    response = other_client.post("/agreements/new", data={"organization_id": str(factory.organization(other))})
    foreign_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    before = snapshot(desk.app)
    response = desk.client.post("/agreements/new", data={
        "organization_id": str(desk.organization_id), "start_from": "copy", "copy_of": str(foreign_id), "language": "nb",
    })
    assert response.status_code in (400, 404)
    assert snapshot(desk.app) == before
    if response.status_code == 400:
        assert "Velg avtalen du vil kopiere." in response.get_data(as_text=True)


# --- Nynorsk ---------------------------------------------------------------------------------

NYNORSK_HEADINGS = {
    "parties": "Partar og signatarar", "activities": "Aktivitetar", "municipality_responsibilities": "Ansvaret til kommunen",
    "organization_responsibilities": "Ansvaret til organisasjonen", "contacts": "Kontaktpersonar",
    "duration": "Varigheit, endringar og oppseiing", "disputes": "Tvistar",
}


def _headings(html: str) -> list[str]:
    return [title for _number, title in re.findall(r"<h2>(\d+)\. ([^<]+)</h2>", html)]


def test_a_nynorsk_agreement_is_written_in_nynorsk_whatever_the_interface_language(desk):
    agreement_id = desk.new(language="nn")
    _complete_required(desk, agreement_id, **{
        key: {"text": DEFAULT_CLAUSES[key]["nn"]} for key in REQUIRED_SECTIONS if SECTIONS_BY_KEY[key].text_required
    })
    economy = section_form("economy", text=DEFAULT_CLAUSES["economy"]["nn"], payment_schedule="Innan 1. mars.")
    assert desk.save(agreement_id, "economy", **economy).status_code == 302
    with desk.app.test_request_context(), force_locale("nn"):
        in_nynorsk = [str(section.title) for section in SECTIONS]
    preview = desk.page(f"/agreements/{agreement_id}/preview")
    document = preview[preview.index('<article class="agreement-document-body" lang="nn">'):]
    assert _headings(document) == in_nynorsk
    for key, heading in NYNORSK_HEADINGS.items():
        assert heading in _headings(document), key
        assert escape(SECTIONS_BY_KEY[key].title) not in document  # not the bokmål title
    assert "Blir signert av Ola Nordmann, Kommunedirektør" in document
    assert f"Tilskot: kr{NBSP}12{NBSP}500" in document
    assert '<th scope="col">Kor ofte</th><th scope="col">Kven leier</th>' in document
    assert DEFAULT_CLAUSES["purpose"]["nn"] in document and DEFAULT_CLAUSES["privacy"]["nn"] in document
    assert DEFAULT_CLAUSES["purpose"]["nb"] not in document
    # The interface around it stays bokmål.
    assert "Forhåndsvisning av utkastet" in preview

    assert desk.client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    with desk.app.app_context():
        version = db.session.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == agreement_id))
        assert version.content["language"] == "nn"
        assert '<article class="agreement-document-body" lang="nn">' in version.html
        assert _headings(version.html) == in_nynorsk
        assert DEFAULT_CLAUSES["municipality_responsibilities"]["nn"] in version.html


# --- Escaping --------------------------------------------------------------------------------

HOSTILE = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '<a href="file:///etc/passwd">x</a>')


def _hostile_fields() -> dict[str, dict]:
    one, two, three = HOSTILE
    return {
        "parties": {"municipality_signatory": one, "municipality_signatory_title": two,
                    "organization_signatory": three, "organization_signatory_role": one, "place": two, "text": three},
        "purpose": {"text": f"{one}\n\n{two}\n{three}"},
        "activities": {"rows-0-what": one, "rows-0-where": two, "rows-0-how_often": three, "rows-0-leader": one,
                       "text": two},
        "contacts": {"municipality_name": two, "municipality_role": three, "organization_name": one,
                     "organization_role": two, "text": one},
        "economy": {"payment_schedule": one, "reporting": three, "text": two},
        "evaluation": {"text": three},
        "duration": {"text": one},
        "disputes": {"text": two},
    }


def _escaped_everywhere(page: str, where: str) -> None:
    for hostile in HOSTILE:
        assert hostile not in page, where
        assert str(escape(hostile)) in page, where


def test_hostile_text_is_escaped_everywhere_it_is_shown(desk, factory):
    admin = factory.user(desk.municipality_id, "admin", name="Anne Admin")
    agreement_id = desk.new()
    hostile = _hostile_fields()
    title = f"Avtale {HOSTILE[0]}"
    write_agreement(desk.client, agreement_id, title, **hostile)

    for key, fields in hostile.items():
        page = desk.page(f"/agreements/{agreement_id}/sections/{key}")
        for hostile_text in HOSTILE:
            assert hostile_text not in page, key
            if any(hostile_text in value for value in fields.values()):
                assert str(escape(hostile_text)) in page, key
    for url in ("check", "preview", "edit"):
        page = desk.page(f"/agreements/{agreement_id}/{url}")
        assert str(escape(title)) in page and title not in page
        if url != "edit":
            _escaped_everywhere(page, url)
    for key in ("purpose", "economy"):
        response = desk.client.post(f"/agreements/{agreement_id}/sections/{key}/preview",
                                    data=section_form(key, **hostile[key]))
        _escaped_everywhere(response.get_data(as_text=True), f"live preview of {key}")

    assert desk.client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    with desk.app.app_context():
        version = db.session.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == agreement_id))
        _escaped_everywhere(version.html, "version")
        fingerprint = version.sha256
        assert "<script" not in version.html and "<img" not in version.html and "<a " not in version.html
    link = link_in(outbox(desk.app, to="leder@rodekors.example.no")[-1])
    _escaped_everywhere(desk.page(link, desk.app.test_client()), "the organisation's page")
    assert desk.app.test_client().post(link, data=ACCEPT).status_code == 302
    admin_client = desk.app.test_client()
    login(admin_client, admin)
    assert admin_client.post(f"/agreements/{agreement_id}/countersign", data={"role": "Kommunedirektør", "version_sha256": fingerprint, "password": PASSWORD}).status_code == 302
    response = admin_client.get(f"/agreements/{agreement_id}/signed.pdf")
    assert response.status_code == 200
    flat = "".join(_pdf_text(response.data).split())
    for hostile_text in HOSTILE:
        assert "".join(hostile_text.split()) in flat  # printed as the text it is
    reader = PdfReader(io.BytesIO(response.data))
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            assert "file:" not in str(action.get("/URI", ""))  # no link was made of it


# --- Agreement numbers -----------------------------------------------------------------------


def test_numbers_run_per_municipality_and_year_and_continue_after_the_highest(desk, factory):
    year = to_oslo(now_utc()).year
    numbers = [_agreement(desk.app, desk.new()).number for _ in range(3)]
    assert numbers == [f"{year}-001", f"{year}-002", f"{year}-003"]

    other = factory.municipality("Nabovik kommune")
    other_client = desk.app.test_client()
    login(other_client, factory.user(other, "staff"))
    response = other_client.post("/agreements/new", data={"organization_id": str(factory.organization(other))})
    other_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    assert _agreement(desk.app, other_id).number == f"{year}-001"

    # A gap (e.g. numbers given by hand before Dugnad) does not make a number be used twice.
    with desk.app.app_context():
        db.session.execute(update(Agreement).where(Agreement.number == f"{year}-002",
                                                   Agreement.municipality_id == desk.municipality_id)
                           .values(number=f"{year}-010"))
        db.session.execute(update(Agreement).where(Agreement.number == f"{year}-003",
                                                   Agreement.municipality_id == desk.municipality_id)
                           .values(number=f"{year - 1}-050"))
        db.session.commit()
    assert _agreement(desk.app, desk.new()).number == f"{year}-011"
    assert _agreement(desk.app, desk.new()).number == f"{year}-012"
    with desk.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Agreement).where(Agreement.municipality_id == other)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_two_agreements_started_in_the_same_instant_get_different_numbers(desk, database_url):
    """A colleague's agreement takes the number between our reading the highest and our
    insert: the unique constraint refuses ours, which takes the next number."""
    if not database_url.startswith("postgresql"):
        # SQLite has one writer at a time, and the request has written before it numbers.
        pytest.skip("a concurrent writer needs PostgreSQL")
    year = to_oslo(now_utc()).year
    assert _agreement(desk.app, desk.new()).number == f"{year}-001"
    colleague = create_engine(database_url)
    taken = []

    def colleague_starts_one(_connection, _cursor, statement, *_args):
        if not taken and re.match(r"SELECT agreement\.number\s+FROM agreement", statement):
            with colleague.begin() as connection:
                connection.execute(insert(Agreement.__table__).values(
                    municipality_id=desk.municipality_id, organization_id=desk.organization_id,
                    number=f"{year}-002", title="Kollegaens avtale", state="draft", language="nb",
                ))
            taken.append(f"{year}-002")

    with desk.app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", colleague_starts_one)
    try:
        agreement_id = desk.new()
    finally:
        event.remove(engine, "after_cursor_execute", colleague_starts_one)
        colleague.dispose()
    assert taken == [f"{year}-002"]
    assert _agreement(desk.app, agreement_id).number == f"{year}-003"
    assert len(_sections(desk.app, agreement_id)) == len(SECTION_KEYS)
    with desk.app.app_context():
        numbers = db.session.scalars(select(Agreement.number).where(Agreement.municipality_id == desk.municipality_id)
                                     .order_by(Agreement.number)).all()
        assert numbers == [f"{year}-001", f"{year}-002", f"{year}-003"]
        events = db.session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "create")).all()
        assert agreement_id in events
