"""Personal data of contact persons: the export of what Dugnad holds about one person,
anonymising them (signed agreements untouched), the retention rule (`flask retention`),
the municipality's privacy settings, and the public privacy and accessibility pages."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from helpers import CSRFClient, link_in, login, outbox
from sqlalchemy import event, func, select, update
from world import ACCEPT, countersign_form, write_agreement

from dugnad import seal
from dugnad.extensions import db
from dugnad.models import (
    Agreement,
    AgreementVersion,
    AuditEvent,
    Contact,
    Invitation,
    Municipality,
    Organization,
    OutboxMessage,
    Signature,
    SignedDocument,
)
from dugnad.personal_data import ANONYMISED_NAME, anonymised_address
from dugnad.timeutil import now_utc, today_oslo

PERSON = "Kari Nordmann"
EMAIL = "kari@rodekors.example.no"
OTHER_PERSON = "Ola Hansen"


@dataclass
class Town:
    municipality_id: int
    kommunenummer: str
    organization_id: int
    contact_id: int
    staff: CSRFClient
    admin: CSRFClient


def _kommunenummer(app, municipality_id: int) -> str:
    with app.app_context():
        return db.session.get(Municipality, municipality_id).kommunenummer


def _town(app, factory, name: str, organization: str) -> Town:
    municipality = factory.municipality(name)
    staff, admin = app.test_client(), app.test_client()
    login(staff, factory.user(municipality, "staff"))
    login(admin, factory.user(municipality, "admin"))
    organization_id = factory.organization(municipality, name=organization, email=EMAIL)
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.organization_id == organization_id))
        contact.name, contact.phone = PERSON, "912 34 567"
        db.session.commit()
        contact_id = contact.id
    return Town(municipality, _kommunenummer(app, municipality), organization_id, contact_id, staff, admin)


def _invite_and_answer(app, town: Town, factory, participant_names: str) -> None:
    meeting = factory.meeting(town.municipality_id)
    response = town.staff.post(f"/meetings/{meeting}/invite", data={"organizations": [str(town.organization_id)]})
    assert response.status_code == 302
    link = link_in(outbox(app, to=EMAIL)[-1])
    response = app.test_client().post(
        link, data={"answer": "attending", "participants": "2", "participant_names": participant_names}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def _signed_agreement(app, town: Town, title: str, start=None, end=None) -> int:
    """An agreement written, sent, accepted by the contact through the emailed link and
    countersigned: the contact is its organisation's contact and signatory."""
    response = town.staff.post("/agreements/new", data={"organization_id": str(town.organization_id)})
    assert response.status_code == 302
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    start = start or today_oslo() - timedelta(days=30)
    end = end or today_oslo() + timedelta(days=365)
    write_agreement(
        town.staff, agreement_id, title,
        contacts={"organization_name": PERSON, "organization_email": EMAIL},
        parties={"organization_signatory": PERSON},
        duration={"start": start.isoformat(), "end": end.isoformat(), "notice_months": "3"},
    )
    assert town.staff.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    link = link_in(outbox(app, to=EMAIL)[-1])
    assert app.test_client().post(link, data=ACCEPT).status_code == 302  # signed by "Kari Nordmann"
    response = town.admin.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return agreement_id


@pytest.fixture
def towns(app, factory) -> tuple[Town, Town, int]:
    """Surnadal, where Kari answered an invitation and signed an agreement, and Bjørkvik,
    which has a contact with the same name and address (another person, as far as
    Surnadal is concerned) and has invited her organisation too."""
    surnadal = _town(app, factory, "Surnadal kommune", "Surnadal Røde Kors")
    _invite_and_answer(app, surnadal, factory, f"{PERSON} og {OTHER_PERSON}")
    agreement_id = _signed_agreement(app, surnadal, "Leksehjelp for nye innbyggere")
    bjorkvik = _town(app, factory, "Bjørkvik kommune", "Bjørkvik Sjakklubb")
    _invite_and_answer(app, bjorkvik, factory, f"{PERSON} alene")
    return surnadal, bjorkvik, agreement_id


def _agreement_number(app, agreement_id: int) -> str:
    with app.app_context():
        return db.session.get(Agreement, agreement_id).number


def _messages(app, municipality_id: int, to: str) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(OutboxMessage.id, OutboxMessage.subject, OutboxMessage.status)
            .where(OutboxMessage.municipality_id == municipality_id, OutboxMessage.to_addr == to)
            .order_by(OutboxMessage.id)
        ).all()


def _signed_document(app, agreement_id: int) -> tuple[bytes, str]:
    with app.app_context():
        document = db.session.scalar(select(SignedDocument).where(SignedDocument.agreement_id == agreement_id))
        return document.pdf, document.sha256


# --- Export ---------------------------------------------------------------------------------


def test_export_holds_the_contact_and_where_they_appear_in_their_municipality_only(app, towns):
    surnadal, bjorkvik, agreement_id = towns
    number = _agreement_number(app, agreement_id)

    statements = []
    with app.app_context():
        engine = db.engine
    count = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = surnadal.staff.get(f"/privacy/contacts/{surnadal.contact_id}/export.json")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    # One query per kind of record (plus the login and the contact), however much there is.
    assert len(statements) <= 12, statements
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="kontaktperson-{surnadal.contact_id}.json"'
    assert "Surnadal Røde Kors".encode() in response.data  # UTF-8 as written, not \u escapes
    data = json.loads(response.data)

    assert data["contact"] | {"anonymised_at": None} == {
        "id": surnadal.contact_id, "name": PERSON, "role": "styreleder", "email": EMAIL, "phone": "912 34 567",
        "is_primary": True, "anonymised_at": None,
    }
    assert data["organization"]["name"] == "Surnadal Røde Kors"
    assert data["municipality"]["kommunenummer"] == surnadal.kommunenummer
    # The version sent names her as the organisation's contact and signatory.
    [version] = data["agreement_versions"]
    assert (version["agreement_number"], version["version"]) == (number, 1)
    assert version["fields"]["sections.contacts.organization_name"] == PERSON
    assert version["fields"]["sections.contacts.organization_email"] == EMAIL
    assert version["fields"]["sections.parties.organization_signatory"] == PERSON
    assert [(s["agreement_number"], s["party"], s["name"]) for s in data["signatures"]] == [(number, "organization", PERSON)]
    assert [i["participant_names"] for i in data["invitations"]] == [f"{PERSON} og {OTHER_PERSON}"]
    # Every message to her address in Surnadal (invitation, agreement link, signed PDF), none of Bjørkvik's.
    surnadal_mail = _messages(app, surnadal.municipality_id, EMAIL)
    assert len(surnadal_mail) >= 3 and _messages(app, bjorkvik.municipality_id, EMAIL)
    assert [m["subject"] for m in data["messages"]] == [subject for _, subject, _ in surnadal_mail]
    assert {m["status"] for m in data["messages"]} <= {"pending", "sent", "failed"}
    # The review link was emailed to her (invitation links do not record their recipient).
    assert [link["purpose"] for link in data["links"]] == ["review_agreement"]
    # Her acceptance in the audit trail, by name.
    assert any(event["action"] == "accept" and PERSON in event["actor"] for event in data["audit_events"])

    text = response.get_data(as_text=True)
    for foreign in ("Bjørkvik", f"{PERSON} alene"):
        assert foreign not in text

    page = surnadal.staff.get(f"/privacy/contacts/{surnadal.contact_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in (PERSON, EMAIL, "Surnadal Røde Kors", number, f"{PERSON} og {OTHER_PERSON}", "Leksehjelp for nye innbyggere"):
        assert shown in html, shown
    assert "Bjørkvik" not in html

    # The organisation's page offers both, per contact.
    org_page = surnadal.staff.get(f"/organizations/{surnadal.organization_id}").get_data(as_text=True)
    assert f'href="/privacy/contacts/{surnadal.contact_id}/export.json"' in org_page
    assert f'href="/privacy/contacts/{surnadal.contact_id}/anonymise"' in org_page

    # Another municipality's staff find nothing.
    for url in (f"/privacy/contacts/{surnadal.contact_id}", f"/privacy/contacts/{surnadal.contact_id}/export.json",
                f"/privacy/contacts/{surnadal.contact_id}/anonymise"):
        assert bjorkvik.staff.get(url).status_code == 404, url


# --- Anonymising ----------------------------------------------------------------------------


def test_anonymise_erases_the_person_and_leaves_the_signed_agreement_as_it_was(app, towns):
    surnadal, bjorkvik, agreement_id = towns
    number = _agreement_number(app, agreement_id)
    pdf_before, sha_before = _signed_document(app, agreement_id)
    surnadal_mail = _messages(app, surnadal.municipality_id, EMAIL)
    bjorkvik_mail = _messages(app, bjorkvik.municipality_id, EMAIL)
    with app.app_context():
        versions_before = db.session.execute(select(AgreementVersion.content, AgreementVersion.sha256)).all()
        signatures_before = db.session.execute(select(Signature.name, Signature.role, Signature.version_sha256)).all()

    page = surnadal.staff.get(f"/privacy/contacts/{surnadal.contact_id}/anonymise")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"Anonymisere {PERSON}?" in text
    assert "Navn, rolle, e-postadresse og telefonnummer i registeret" in text
    assert "Signerte avtaler er arkivdokumenter og endres ikke" in text
    assert "de signerte PDF-ene beholder navnet" in text
    assert "1 avtaleversjoner, 1 signaturer" in text

    response = surnadal.staff.post(f"/privacy/contacts/{surnadal.contact_id}/anonymise", data={})
    assert response.status_code == 302
    org_page = surnadal.staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kontaktpersonen er anonymisert. Signerte avtaler er ikke endret" in org_page
    assert EMAIL not in org_page and PERSON not in org_page and ANONYMISED_NAME in org_page

    with app.app_context():
        contact = db.session.get(Contact, surnadal.contact_id)
        assert (contact.name, contact.role, contact.email, contact.phone) == (ANONYMISED_NAME, "", "", "")
        assert contact.anonymised_at is not None
        replacement = anonymised_address(contact)
        # Her messages stay (the history stays countable), without her address.
        assert _messages(app, surnadal.municipality_id, EMAIL) == []
        assert [m[:2] for m in _messages(app, surnadal.municipality_id, replacement)] == [m[:2] for m in surnadal_mail]
        # The other municipality's contact of the same address is not Surnadal's to erase.
        assert _messages(app, bjorkvik.municipality_id, EMAIL) == bjorkvik_mail
        invitation = db.session.scalar(select(Invitation).where(Invitation.organization_id == surnadal.organization_id))
        assert invitation.participant_names == f"{ANONYMISED_NAME} og {OTHER_PERSON}"
        other = db.session.scalar(select(Invitation).where(Invitation.organization_id == bjorkvik.organization_id))
        assert other.participant_names == f"{PERSON} alene"
        # The audit event says what was done, not whom to.
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "anonymise"))
        assert (event.object_type, event.object_id, event.municipality_id) == ("contact", surnadal.contact_id, surnadal.municipality_id)
        recorded = json.dumps([event.actor_label, event.details], ensure_ascii=False)
        for personal in (PERSON, "Kari", EMAIL, "912 34 567"):
            assert personal not in recorded
        # The records: versions, signatures and the signed PDF, byte for byte.
        assert db.session.execute(select(AgreementVersion.content, AgreementVersion.sha256)).all() == versions_before
        assert db.session.execute(select(Signature.name, Signature.role, Signature.version_sha256)).all() == signatures_before
        pdf_after, sha_after = _signed_document(app, agreement_id)
        assert (pdf_after, sha_after) == (pdf_before, sha_before)
        assert hashlib.sha256(pdf_after).hexdigest() == sha_after
        assert seal.verify(pdf_after).authentic
        db.session.remove()
    # And anyone can still check it.
    checked = app.test_client().post("/verify", data={"check": "number", "number": number, "fingerprint": sha_before})
    assert "Ekte og uendret" in checked.get_data(as_text=True)

    # Once is enough: a second post changes nothing.
    again = surnadal.staff.post(f"/privacy/contacts/{surnadal.contact_id}/anonymise", data={})
    assert again.status_code == 302
    assert "allerede anonymisert" in surnadal.staff.get(again.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "anonymise")) == 1

    # What is left to export names her no more, apart from the records.
    data = json.loads(surnadal.staff.get(f"/privacy/contacts/{surnadal.contact_id}/export.json").data)
    assert data["contact"]["name"] == ANONYMISED_NAME and data["contact"]["email"] == ""
    assert data["contact"]["anonymised_at"]
    assert [m["to"] for m in data["messages"]] == [replacement] * len(surnadal_mail)


def test_pending_mail_to_an_anonymised_contact_is_not_sent(app, factory):
    town = _town(app, factory, "Surnadal kommune", "Surnadal Røde Kors")
    meeting = factory.meeting(town.municipality_id)
    assert town.staff.post(f"/meetings/{meeting}/invite", data={"organizations": [str(town.organization_id)]}).status_code == 302
    assert [status for *_, status in _messages(app, town.municipality_id, EMAIL)] == ["pending"]  # no MAIL_SERVER in tests
    assert town.staff.post(f"/privacy/contacts/{town.contact_id}/anonymise", data={}).status_code == 302
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.municipality_id == town.municipality_id))
        assert message.status == "failed" and "anonymisert" in message.last_error
        assert EMAIL not in message.to_addr and EMAIL not in message.body_text
        assert all(EMAIL.encode() not in attachment.data for attachment in message.attachments)


# --- Retention ------------------------------------------------------------------------------


def _age(app, organization_id: int, days: int) -> None:
    """Make an organisation look registered `days` ago."""
    with app.app_context():
        db.session.execute(
            update(Organization).where(Organization.id == organization_id).values(created_at=now_utc() - timedelta(days=days))
        )
        db.session.commit()


def _contact_of(app, organization_id: int) -> Contact:
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.organization_id == organization_id))
        db.session.expunge_all()
        return contact


def test_retention_anonymises_contacts_no_longer_needed(app, factory, runner):
    town = _town(app, factory, "Surnadal kommune", "Surnadal Røde Kors")  # will have an agreement in force
    municipality = town.municipality_id
    forgotten = factory.organization(municipality, name="Nedlagt kor", email="kor@example.no")
    drafting = factory.organization(municipality, name="Idrettslaget", email="il@example.no")
    invited = factory.organization(municipality, name="Sjakklubben", email="sjakk@example.no")
    new = factory.organization(municipality, name="Nytt lag", email="nytt@example.no")
    _signed_agreement(app, town, "Leksehjelp")
    assert town.staff.post("/agreements/new", data={"organization_id": str(drafting)}).status_code == 302
    meeting = factory.meeting(municipality, starts_in=timedelta(days=10))  # invited this week
    assert town.staff.post(f"/meetings/{meeting}/invite", data={"organizations": [str(invited)]}).status_code == 302
    for organization_id in (town.organization_id, forgotten, drafting, invited):
        _age(app, organization_id, 800)
    # A municipality without a retention period: nothing happens there, however old.
    elsewhere = factory.municipality("Bjørkvik kommune")
    untouched = factory.organization(elsewhere, name="Gammelt lag", email="gammelt@example.no")
    _age(app, untouched, 2000)
    with app.app_context():
        db.session.get(Municipality, municipality).contact_retention_months = 12
        db.session.commit()

    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    assert "contacts anonymised: 1" in result.output
    assert _contact_of(app, forgotten).anonymised_at is not None
    assert _contact_of(app, forgotten).name == ANONYMISED_NAME
    for kept in (town.organization_id, drafting, invited, new, untouched):
        contact = _contact_of(app, kept)
        assert contact.anonymised_at is None and contact.email, kept
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "anonymise"))
        assert event.actor_label == "Dugnad (lagringstid)" and event.object_id == _contact_of(app, forgotten).id

    # Once the agreement has ended (its last day long past), its contact goes too; the rest stay.
    with app.app_context():
        db.session.execute(
            update(Agreement).where(Agreement.organization_id == town.organization_id)
            .values(valid_to=today_oslo() - timedelta(days=400))
        )
        db.session.commit()
    result = runner.invoke(args=["retention"])
    assert "contacts anonymised: 1" in result.output
    assert _contact_of(app, town.organization_id).anonymised_at is not None
    assert runner.invoke(args=["retention"]).output.strip() == "contacts anonymised: 0"
    assert _contact_of(app, untouched).anonymised_at is None


# --- Settings and the public pages --------------------------------------------------------


def test_settings_are_for_administrators_and_check_what_is_typed(app, factory):
    town = _town(app, factory, "Surnadal kommune", "Surnadal Røde Kors")
    assert town.staff.get("/privacy/settings").status_code == 403
    assert town.staff.post("/privacy/settings", data={"contact_retention_months": "12"}).status_code == 403
    page = town.admin.get("/privacy/settings")
    assert page.status_code == 200
    assert 'href="/privacy/settings"' in page.get_data(as_text=True)  # in the admin menu

    for months in ("abc", "0", "121", "1.5", "-3"):
        response = town.admin.post(
            "/privacy/settings",
            data={"contact_retention_months": months, "privacy_notice": "Vår egen tekst", "accessibility_statement": ""},
        )
        assert response.status_code == 400, months
        html = response.get_data(as_text=True)
        assert 'href="#contact_retention_months"' in html  # the error summary links to the field
        assert 'id="contact_retention_months-error"' in html
        assert "Skriv et helt antall måneder fra 1 til 120, eller la feltet stå tomt." in html
        assert "Vår egen tekst" in html  # what was typed stays
    too_long = "x" * 20_001
    response = town.admin.post("/privacy/settings", data={"contact_retention_months": "", "privacy_notice": too_long})
    assert response.status_code == 400
    assert "Personvernerklæringen kan ha høyst 20 000 tegn." in response.get_data(as_text=True)
    with app.app_context():
        municipality = db.session.get(Municipality, town.municipality_id)
        assert (municipality.contact_retention_months, municipality.privacy_notice) == (None, "")

    notice = "Kommunen tar vare på personvernet ditt.\n\nSkriv til postmottak@surnadal.example.no."
    statement = "Vi har ingen kjente avvik.\n\nMeld fra om feil til kommunen."
    response = town.admin.post(
        "/privacy/settings",
        data={"contact_retention_months": " 24 ", "privacy_notice": notice, "accessibility_statement": statement},
    )
    assert response.status_code == 302
    with app.app_context():
        municipality = db.session.get(Municipality, town.municipality_id)
        assert (municipality.contact_retention_months, municipality.privacy_notice, municipality.accessibility_statement) == (24, notice, statement)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy_settings"))
        assert event.details["contact_retention_months"] == {"from": None, "to": 24}
    visitor = app.test_client()
    public = visitor.get(f"/personvern?kommune={town.kommunenummer}").get_data(as_text=True)
    assert "<p>Kommunen tar vare på personvernet ditt.</p><p>Skriv til postmottak@surnadal.example.no.</p>" in public
    assert "Datatilsynet" not in public  # the municipality's text replaces Dugnad's
    public = visitor.get(f"/tilgjengelighet?kommune={town.kommunenummer}").get_data(as_text=True)
    assert "<p>Vi har ingen kjente avvik.</p><p>Meld fra om feil til kommunen.</p>" in public

    # Blank turns the rule off, and the built-in texts come back.
    response = town.admin.post("/privacy/settings", data={"contact_retention_months": "", "privacy_notice": "", "accessibility_statement": ""})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Municipality, town.municipality_id).contact_retention_months is None
    assert "Datatilsynet" in visitor.get(f"/personvern?kommune={town.kommunenummer}").get_data(as_text=True)


def test_public_pages_need_no_login_and_find_the_municipality(app, factory):
    visitor = app.test_client()
    surnadal = factory.municipality("Surnadal kommune")
    number = _kommunenummer(app, surnadal)

    # One municipality: its page at once, with Dugnad's texts.
    notice = visitor.get("/personvern")
    assert notice.status_code == 200
    text = notice.get_data(as_text=True)
    for expected in ("Surnadal kommune", "artikkel 6 nr. 1 bokstav e", "navn og rolle i organisasjonen",
                     "e-postadresse og telefonnummer", "innsyn", 'href="https://www.datatilsynet.no"',
                     "sletter eller anonymiserer opplysninger om kontaktpersoner når de ikke lenger trengs"):
        assert expected in text, expected
    statement = visitor.get("/tilgjengelighet")
    assert statement.status_code == 200
    text = statement.get_data(as_text=True)
    for expected in ("WCAG 2.1", "nivå A og AA", "Kommunen har ikke fylt inn kjente avvik ennå",
                     'href="https://www.uutilsynet.no"', "Surnadal kommune"):
        assert expected in text, expected

    # Several: the visitor chooses, or the link says which.
    bjorkvik = factory.municipality("Bjørkvik kommune")
    with app.app_context():
        db.session.get(Municipality, bjorkvik).contact_retention_months = 18
        db.session.commit()
    choose = visitor.get("/personvern").get_data(as_text=True)
    assert f'href="/personvern?kommune={number}"' in choose
    assert f'href="/personvern?kommune={_kommunenummer(app, bjorkvik)}"' in choose
    text = visitor.get(f"/personvern?kommune={_kommunenummer(app, bjorkvik)}").get_data(as_text=True)
    assert "Bjørkvik kommune" in text and "anonymiseres 18 måneder etter" in text
    assert "Surnadal kommune" not in text
    unknown = visitor.get("/tilgjengelighet?kommune=0000")
    assert unknown.status_code == 404
    assert "Vi fant ingen kommune med det nummeret" in unknown.get_data(as_text=True)
    assert visitor.get("/personvern?kommune=x' OR 1=1").status_code == 404

    # A logged-in user's own municipality, without asking.
    staff = app.test_client()
    login(staff, factory.user(bjorkvik, "staff"))
    text = staff.get("/personvern").get_data(as_text=True)
    assert "Bjørkvik kommune" in text and "Surnadal kommune" not in text

    # Every page links to both in its footer.
    login_page = visitor.get("/login").get_data(as_text=True)
    assert 'href="/personvern"' in login_page and 'href="/tilgjengelighet"' in login_page


def test_a_visitor_behind_an_emailed_link_reaches_the_right_municipality(app, factory):
    factory.municipality("Bjørkvik kommune")  # so the municipality is not the only one
    town = _town(app, factory, "Surnadal kommune", "Surnadal Røde Kors")
    meeting = factory.meeting(town.municipality_id)
    assert town.staff.post(f"/meetings/{meeting}/invite", data={"organizations": [str(town.organization_id)]}).status_code == 302
    page = app.test_client().get(link_in(outbox(app, to=EMAIL)[-1])).get_data(as_text=True)
    assert f'href="/personvern?kommune={town.kommunenummer}"' in page
    assert f'href="/tilgjengelighet?kommune={town.kommunenummer}"' in page


def test_export_finds_the_name_with_norwegian_letters_in_another_organisations_draft(app, factory):
    """JSON is stored with ø and å escaped; the search finds the name all the same."""
    town = _town(app, factory, "Surnadal kommune", "Surnadal Røde Kors")
    person = "Bjørn Ødegård"
    with app.app_context():
        db.session.get(Contact, town.contact_id).name = person
        db.session.commit()
    # He is also the contact of a draft with another organisation of the municipality.
    other = factory.organization(town.municipality_id, name="Surnadal Sjakklubb", email="post@sjakk.example.no")
    response = town.staff.post("/agreements/new", data={"organization_id": str(other)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(town.staff, agreement_id, "Sjakk for alle", contacts={"organization_name": person.upper()})

    data = json.loads(town.staff.get(f"/privacy/contacts/{town.contact_id}/export.json").data)
    [draft] = data["agreement_drafts"]
    assert draft["agreement_title"] == "Sjakk for alle"
    assert draft["fields"] == {"contacts.organization_name": person.upper()}
