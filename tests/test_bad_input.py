"""Bad input: a 400 with an error summary linking each field in error, the typed
input kept, nothing saved; HTML typed into fields is always shown escaped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import link_in, login, outbox
from markupsafe import escape
from sqlalchemy import func, select
from world import ACCEPT, meeting_form, section_form, write_agreement

from dugnad.extensions import db
from dugnad.models import (
    Agreement,
    AgreementSection,
    AgreementVersion,
    Contact,
    Invitation,
    LinkToken,
    Meeting,
    Organization,
    OutboxMessage,
    Signature,
)
from dugnad.timeutil import OSLO, now_utc


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _get(app, model, object_id):
    with app.app_context():
        obj = db.session.get(model, object_id)
        db.session.expunge_all()
        return obj


def _summary(page: str) -> str:
    """The error summary's HTML (the first one on the page)."""
    match = re.search(r'<div class="ds-error-summary".*?</div>', page, re.S)
    assert match, "no error summary on the page"
    return match.group(0)


def assert_rejected(response, fields: list[str], kept: dict[str, str] | None = None, not_in_error: tuple = ()):
    """400, a summary linking each field in error (and no other), the typed values kept."""
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    summary = _summary(page)
    linked = re.findall(r'href="#([^"]+)"', summary)
    assert sorted(set(linked)) == sorted(fields), linked
    for field in fields:
        assert f'id="{field}"' in page, f"the summary links to #{field}, which is not on the page"
        message_id = field.removesuffix("-0")  # a radio group's message belongs to the group
        assert f'id="{message_id}-error"' in page, f"no message next to {field}"
    for field in not_in_error:
        assert f'href="#{field}"' not in summary
    for field, value in (kept or {}).items():
        shown = str(escape(value))
        assert f'value="{shown}"' in page or f">\r\n{shown}</textarea>" in page or f">{shown}</textarea>" in page, (
            f"{field}: typed value not kept"
        )
    return page


# --- Organisations ---------------------------------------------------------------

VALID_ORGANIZATION = {
    "name": "Surnadal Røde Kors",
    "org_number": "991 000 003",
    "address": "Storgata 1",
    "postal_code": "6650",
    "city": "Surnadal",
    "email": "post@rodekors.example.no",
    "contacts-0-name": "Kari Nordmann",
    "contacts-0-role": "styreleder",
    "contacts-0-email": "kari@rodekors.example.no",
}


@pytest.fixture
def staff_client(client, factory):
    municipality = factory.municipality()
    client.municipality_id = municipality
    login(client, factory.user(municipality, "staff"))
    return client


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        pytest.param({"name": ""}, ["name"], id="missing name"),
        pytest.param({"name": "   "}, ["name"], id="blank name"),
        pytest.param({"name": "N" * 201}, ["name"], id="name of 201 characters"),
        pytest.param({"org_number": "123456789"}, ["org_number"], id="org number failing MOD11"),
        pytest.param({"org_number": "12345"}, ["org_number"], id="org number too short"),
        pytest.param({"org_number": "abcdefghi"}, ["org_number"], id="org number of letters"),
        pytest.param({"email": "ikke-en-epost"}, ["email"], id="malformed email"),
        pytest.param({"contacts-0-email": "kari@"}, ["contacts-0-email"], id="malformed contact email"),
        pytest.param({"postal_code": "66"}, ["postal_code"], id="postal code"),
        pytest.param({"website": "rodekors"}, ["website"], id="website"),
        pytest.param({"contacts-0-name": ""}, ["contacts-0-name"], id="contact details without a name"),
        pytest.param(
            {"name": "", "org_number": "123456789", "email": "x@", "postal_code": "abcd"},
            ["name", "org_number", "email", "postal_code"],
            id="several at once",
        ),
    ],
)
def test_organisation_form_rejects(app, staff_client, changes, fields):
    data = {**VALID_ORGANIZATION, **changes}
    response = staff_client.post("/organizations/new", data=data)
    # A valid number is shown normalised ("991000003"); everything else as typed.
    kept = {key: value for key, value in data.items() if value.strip() and (key != "org_number" or key in fields)}
    assert_rejected(response, fields, kept=kept, not_in_error=("city", "address"))
    assert _count(app, Organization) == 0
    assert _count(app, Contact) == 0
    # The same form, corrected, is saved.
    assert staff_client.post("/organizations/new", data=VALID_ORGANIZATION).status_code == 302
    assert _count(app, Organization) == 1


def test_duplicate_org_number_links_to_the_existing_organisation(app, client, factory):
    municipality = factory.municipality()
    existing = factory.organization(municipality, name="Surnadal Røde Kors", org_number="991000003")
    login(client, factory.user(municipality, "staff"))

    response = client.post("/organizations/new", data={**VALID_ORGANIZATION, "name": "Røde Kors Surnadal"})
    page = assert_rejected(response, ["org_number"], kept={"name": "Røde Kors Surnadal", "org_number": "991 000 003"})
    assert f'href="/organizations/{existing}">Surnadal Røde Kors</a>' in page
    assert _count(app, Organization) == 1

    # Editing the existing one may keep its own number, but not take another's.
    other = factory.organization(municipality, name="Surnadal IL", org_number="991000011")
    response = client.post(f"/organizations/{existing}/edit", data={**VALID_ORGANIZATION, "name": "Surnadal Røde Kors"})
    assert response.status_code == 302
    response = client.post(f"/organizations/{other}/edit", data={**VALID_ORGANIZATION, "name": "Surnadal IL"})
    assert_rejected(response, ["org_number"])
    assert _get(app, Organization, other).org_number == "991000011"


def test_same_org_number_is_allowed_in_another_municipality(app, client, factory):
    first = factory.municipality()
    factory.organization(first, name="Surnadal Røde Kors", org_number="991000003")
    second = factory.municipality()
    login(client, factory.user(second, "staff"))
    response = client.post("/organizations/new", data=VALID_ORGANIZATION)
    assert response.status_code == 302
    assert _count(app, Organization, Organization.org_number == "991000003") == 2
    assert _count(app, Organization, Organization.municipality_id == second) == 1


# --- Meetings ----------------------------------------------------------------------


def _local(delta: timedelta, hour: int) -> str:
    moment = (now_utc() + delta).astimezone(OSLO).replace(hour=hour, minute=0)
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        pytest.param({"starts_at": _local(timedelta(days=10), 18), "ends_at": _local(timedelta(days=10), 17)}, ["ends_at"], id="end before start"),
        pytest.param({"starts_at": _local(timedelta(days=10), 18), "ends_at": _local(timedelta(days=10), 18)}, ["ends_at"], id="end at start"),
        pytest.param({"starts_at": _local(timedelta(days=-2), 18), "ends_at": _local(timedelta(days=-2), 20)}, ["starts_at"], id="start in the past"),
        pytest.param({"starts_at": "i morgen"}, ["starts_at"], id="start not a time"),
        pytest.param({"title": "", "place": ""}, ["title", "place"], id="missing title and place"),
        pytest.param({"agenda": "A" * 5001}, ["agenda"], id="agenda too long"),
    ],
)
def test_meeting_form_rejects(app, staff_client, changes, fields):
    data = {**meeting_form("Dialogmøte om bosetting"), **changes}
    response = staff_client.post("/meetings/new", data=data)
    kept = {key: value for key, value in data.items() if value and key != "agenda"}
    if "agenda" not in fields:
        kept["agenda"] = data["agenda"]
    assert_rejected(response, fields, kept=kept)
    assert _count(app, Meeting) == 0


# --- Agreements ------------------------------------------------------------------------


def _new_draft(client, organization_id: int) -> int:
    response = client.post("/agreements/new", data={"organization_id": str(organization_id)})
    assert response.status_code == 302
    return int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))


@pytest.mark.parametrize(
    ("key", "changes", "fields"),
    [
        pytest.param("purpose", {"text": "x" * 5001}, ["text"], id="section over 5000 characters"),
        pytest.param("contacts", {"organization_email": "kari@"}, ["organization_email"], id="contact email"),
        pytest.param("duration", {"start": "2027-12-31", "end": "2027-01-01"}, ["end"], id="ends before it starts"),
        pytest.param("duration", {"start": "31.13.2027"}, ["start"], id="no such date"),
        pytest.param("economy", {"grant": "-12 500"}, ["grant"], id="negative grant"),
        pytest.param("parties", {"organization_signatory": ""}, ["organization_signatory"], id="complete without signatory"),
    ],
)
def test_agreement_section_rejects_and_keeps_the_saved_draft(app, staff_client, factory, key, changes, fields):
    organization = factory.organization(staff_client.municipality_id)
    agreement_id = _new_draft(staff_client, organization)
    write_agreement(staff_client, agreement_id, "Samarbeid om leksehjelp")
    before = _get(app, Agreement, agreement_id)
    saved = {section.key: (dict(section.data), section.status, section.revision) for section in _sections(app, agreement_id)}

    response = staff_client.post(f"/agreements/{agreement_id}/sections/{key}", data=section_form(key, **changes))
    assert_rejected(response, fields, kept={name: value for name, value in changes.items() if value})

    after = _get(app, Agreement, agreement_id)
    assert (after.title, after.state) == (before.title, "draft")
    assert {section.key: (dict(section.data), section.status, section.revision) for section in _sections(app, agreement_id)} == saved


def _sections(app, agreement_id: int):
    with app.app_context():
        return db.session.scalars(
            select(AgreementSection).where(AgreementSection.agreement_id == agreement_id).order_by(AgreementSection.id)
        ).all()


def test_agreement_title_is_required(app, staff_client, factory):
    agreement_id = _new_draft(staff_client, factory.organization(staff_client.municipality_id))
    before = _get(app, Agreement, agreement_id).title
    response = staff_client.post(f"/agreements/{agreement_id}/details", data={"title": "", "language": "nb"})
    assert_rejected(response, ["title"])
    assert _get(app, Agreement, agreement_id).title == before


def test_sending_with_required_sections_missing(app, staff_client, factory):
    organization = factory.organization(staff_client.municipality_id, email="leder@lag.example.no")
    agreement_id = _new_draft(staff_client, organization)
    # Only the purpose is done; the other required sections are not.
    response = staff_client.post(f"/agreements/{agreement_id}/sections/purpose", data=section_form("purpose"))
    assert response.status_code == 302

    response = staff_client.post(f"/agreements/{agreement_id}/send", data={})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    summary = _summary(page)
    for key, title in (
        ("parties", "Parter og signatarer"),
        ("activities", "Aktiviteter"),
        ("municipality_responsibilities", "Kommunens ansvar"),
        ("organization_responsibilities", "Organisasjonens ansvar"),
        ("contacts", "Kontaktpersoner"),
        ("duration", "Varighet, endringer og oppsigelse"),
    ):
        assert f'href="/agreements/{agreement_id}/sections/{key}?return_to=check">{title}</a>' in summary
    # Done, or not required: not listed.
    assert "Bakgrunn og formål" not in summary and "Målgruppe" not in summary
    assert _get(app, Agreement, agreement_id).state == "draft"
    assert _count(app, AgreementVersion) == 0
    assert _count(app, LinkToken) == 0
    assert outbox(app, to="leder@lag.example.no") == []
    # Each link opens the section's page.
    for href in re.findall(r'href="([^"#]+)"', summary):
        assert staff_client.get(href.replace("&amp;", "&")).status_code == 200, href


def test_sending_to_an_organisation_without_email(app, staff_client, factory):
    organization = factory.organization(staff_client.municipality_id, email=None)
    agreement_id = _new_draft(staff_client, organization)
    write_agreement(staff_client, agreement_id, "Avtale")
    response = staff_client.post(f"/agreements/{agreement_id}/send", data={})
    assert response.status_code == 400
    assert "Organisasjonen har ingen e-postadresse" in response.get_data(as_text=True)
    assert _get(app, Agreement, agreement_id).state == "draft"
    assert _count(app, AgreementVersion) == 0 and _count(app, OutboxMessage) == 0


# --- The organisation's answer ---------------------------------------------------------


@pytest.fixture
def sent(app, staff_client, factory):
    """(agreement id, review link) of an agreement sent to its organisation."""
    organization = factory.organization(staff_client.municipality_id, name="Surnadal Røde Kors", email="kari@lag.example.no")
    agreement_id = _new_draft(staff_client, organization)
    write_agreement(staff_client, agreement_id, "Leksehjelp")
    assert staff_client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return agreement_id, link_in(outbox(app, to="kari@lag.example.no")[-1])


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        pytest.param({"action": "accept"}, ["accept-name", "accept-role", "accept-authority", "accept-signature"], id="accept with nothing"),
        pytest.param({**ACCEPT, "accept-name": ""}, ["accept-name"], id="accept without name"),
        pytest.param({**ACCEPT, "accept-role": " "}, ["accept-role"], id="accept without role"),
        pytest.param({k: v for k, v in ACCEPT.items() if k != "accept-authority"}, ["accept-authority"], id="authority unticked"),
        pytest.param({**ACCEPT, "accept-name": "N" * 121}, ["accept-name"], id="name too long"),
        pytest.param({**ACCEPT, "accept-signature": ""}, ["accept-signature"], id="accept without signature"),
        pytest.param({**ACCEPT, "accept-signature": "Ola Nordmann"}, ["accept-signature"], id="signature not the name"),
        pytest.param({"action": "decline", "decline-reason": ""}, ["decline-reason"], id="decline without reason"),
        pytest.param({"action": "request_changes", "changes-reason": "  "}, ["changes-reason"], id="changes without reason"),
        pytest.param({"action": "decline", "decline-reason": "r" * 2001}, ["decline-reason"], id="reason too long"),
    ],
)
def test_answer_form_rejects_and_the_agreement_stays_sent(app, sent, form, fields):
    agreement_id, link = sent
    visitor = app.test_client()
    response = visitor.post(link, data=form)
    kept = {key: value for key, value in form.items() if key.endswith(("-name", "-role")) and value.strip()}
    assert_rejected(response, fields, kept=kept)
    assert _get(app, Agreement, agreement_id).state == "sent"
    assert _count(app, Signature) == 0
    assert visitor.get(link).status_code == 200  # the link is not used up
    assert visitor.post(link, data=ACCEPT).status_code == 302  # and a good answer still goes through


@pytest.mark.parametrize("action", ["", "sign", "countersign", "withdraw"])
def test_answer_with_unknown_action_is_400(app, sent, action):
    agreement_id, link = sent
    response = app.test_client().post(link, data={**ACCEPT, "action": action})
    assert response.status_code == 400
    assert _get(app, Agreement, agreement_id).state == "sent"


def test_invitation_answer_rejects(app, staff_client, factory):
    organization = factory.organization(staff_client.municipality_id, email="kari@lag.example.no")
    meeting = factory.meeting(staff_client.municipality_id)
    assert staff_client.post(f"/meetings/{meeting}/invite", data={"organizations": [str(organization)]}).status_code == 302
    link = link_in(outbox(app, to="kari@lag.example.no")[-1])
    visitor = app.test_client()
    assert_rejected(visitor.post(link, data={"comment": "Kanskje"}), ["answer-0"], kept={"comment": "Kanskje"})
    assert_rejected(visitor.post(link, data={"answer": "maybe"}), ["answer-0"])
    assert_rejected(visitor.post(link, data={"answer": "attending", "comment": "c" * 2001}), ["comment"])
    with app.app_context():
        assert db.session.scalar(select(Invitation.answer)) == "pending"


# --- Ids and sizes that do not fit -----------------------------------------------------

HUGE = "99999999999999999999"  # beyond any integer column


IMPOSSIBLE_URLS = [
    f"/organizations/{HUGE}",
    f"/organizations/{HUGE}/edit",
    f"/meetings/{HUGE}",
    f"/agreements/{HUGE}",
    f"/agreements/{HUGE}/edit",
    f"/agreements/{HUGE}/signed.pdf",
    f"/agreements/{HUGE}/print",
    f"/mailbox/{HUGE}",
    "/organizations/2147483648",
    "/organizations/0",
    "/organizations/-1",
    "/organizations/1e3",
]


def test_ids_that_cannot_exist_are_404(client, factory):
    login(client, factory.user(factory.municipality(), "admin"))
    for url in IMPOSSIBLE_URLS:
        response = client.get(url)
        assert response.status_code == 404, f"{url} -> {response.status_code}"
        assert "Fant ikke siden" in response.get_data(as_text=True)
    for url in (f"/agreements/{HUGE}/send", f"/agreements/{HUGE}/countersign", f"/meetings/{HUGE}/invite"):
        response = client.post(url, data={"role": "Kommunedirektør"})
        assert response.status_code == 404, f"POST {url} -> {response.status_code}"


def test_starting_an_agreement_with_a_bad_organisation_id(app, staff_client):
    for value, status in ((HUGE, 404), ("-5", 404), ("0", 404), ("abc", 400), ("", 400)):
        response = staff_client.post("/agreements/new", data={"organization_id": value})
        assert response.status_code == status, value
    assert _count(app, Agreement) == 0


def test_inviting_with_bad_organisation_ids(app, staff_client, factory):
    meeting = factory.meeting(staff_client.municipality_id)
    for value in ("abc", HUGE, ""):
        response = staff_client.post(f"/meetings/{meeting}/invite", data={"organizations": [value]})
        assert response.status_code == 400, value
    assert _count(app, Invitation) == 0


def test_too_large_a_post_is_413(app, staff_client):
    response = staff_client.post("/organizations/new", data={"name": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Filen er for stor" in response.get_data(as_text=True)
    assert _count(app, Organization) == 0


def test_unknown_language_is_400(client):
    assert client.post("/language", data={"lang": "xx"}).status_code == 400


# --- HTML typed into fields is shown as text -------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def assert_escaped(html: str, *values: str):
    for value in values:
        assert value not in html, f"{value!r} shown unescaped"
        assert str(escape(value)) in html, f"{value!r} not shown at all"


def test_html_in_fields_is_escaped_everywhere(app, client, factory):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    login(client, admin)

    # A rejected form shows the typed HTML back, escaped.
    response = client.post("/organizations/new", data={"name": SCRIPT, "email": IMG})
    assert response.status_code == 400
    assert_escaped(response.get_data(as_text=True), SCRIPT, IMG)

    response = client.post(
        "/organizations/new",
        data={"name": SCRIPT, "city": IMG, "contacts-0-name": IMG, "contacts-0-email": "kari@lag.example.no"},
    )
    assert response.status_code == 302
    organization = int(response.headers["Location"].rsplit("/", 1)[1])
    assert_escaped(client.get(f"/organizations/{organization}").get_data(as_text=True), SCRIPT, IMG)
    assert_escaped(client.get("/organizations/").get_data(as_text=True), SCRIPT, IMG)
    assert_escaped(client.get("/organizations/", headers={"HX-Request": "true"}).get_data(as_text=True), SCRIPT)

    # A meeting, and an invitation answered with HTML in the comment.
    response = client.post("/meetings/new", data=meeting_form(SCRIPT, place=IMG, agenda=IMG))
    assert response.status_code == 302
    meeting_url = response.headers["Location"]
    assert_escaped(client.get(meeting_url).get_data(as_text=True), SCRIPT, IMG)
    assert client.post(f"{meeting_url}/invite", data={"organizations": [str(organization)]}).status_code == 302
    invitation_mail = outbox(app, to="kari@lag.example.no")[-1]
    assert_escaped(invitation_mail.body_html, SCRIPT, IMG)
    visitor = app.test_client()
    invitation_link = link_in(invitation_mail)
    assert_escaped(visitor.get(invitation_link).get_data(as_text=True), SCRIPT, IMG)
    assert visitor.post(invitation_link, data={"answer": "attending", "comment": IMG}).status_code == 302
    assert_escaped(client.get(meeting_url).get_data(as_text=True), IMG)

    # An agreement: the draft, the frozen version, the page the organisation reads, the history.
    agreement_id = _new_draft(client, organization)
    write_agreement(
        client, agreement_id, SCRIPT,
        purpose={"text": IMG},
        activities={"rows-0-what": SCRIPT, "rows-0-where": IMG, "text": f"Linje 1\n{SCRIPT}\n\n{IMG}"},
        economy={"text": SCRIPT, "payment_schedule": IMG},
        contacts={"organization_name": SCRIPT},
    )
    for page in ("edit", "check", "preview", "sections/activities", "sections/economy", "sections/contacts"):
        assert_escaped(client.get(f"/agreements/{agreement_id}/{page}").get_data(as_text=True), SCRIPT)
    assert_escaped(client.get(f"/agreements/{agreement_id}/sections/purpose").get_data(as_text=True), IMG)
    assert_escaped(client.get(f"/agreements/{agreement_id}").get_data(as_text=True), SCRIPT)
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    with app.app_context():
        version = db.session.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == agreement_id))
        assert_escaped(version.html, SCRIPT, IMG)
    review_mail = outbox(app, to="kari@lag.example.no")[-1]
    assert_escaped(review_mail.body_html, SCRIPT)
    review_link = link_in(review_mail)
    assert_escaped(visitor.get(review_link).get_data(as_text=True), SCRIPT, IMG)
    answer = {**ACCEPT, "accept-name": SCRIPT, "accept-role": IMG, "accept-signature": SCRIPT}
    assert visitor.post(review_link, data=answer).status_code == 302
    assert_escaped(client.get(f"/agreements/{agreement_id}").get_data(as_text=True), SCRIPT, IMG)
    assert_escaped(client.get("/agreements/").get_data(as_text=True), SCRIPT)
    assert_escaped(client.get("/").get_data(as_text=True), SCRIPT)

    # The mailbox shows the messages' text escaped, with only real links made clickable.
    with app.app_context():
        message_ids = db.session.scalars(select(OutboxMessage.id)).all()
    for message_id in message_ids:
        page = client.get(f"/mailbox/{message_id}").get_data(as_text=True)
        assert SCRIPT not in page and IMG not in page
    assert_escaped(client.get("/mailbox/").get_data(as_text=True), SCRIPT)
