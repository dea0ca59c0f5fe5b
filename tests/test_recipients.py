"""Choosing who gets an agreement among the organisation's contacts: one link each,
and resending, reminders and the signed PDF follow the same recipients."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy
from backdate import backdate_audit_events
from helpers import link_in, login, outbox
from pypdf import PdfReader
from sqlalchemy import func, select
from test_mail import smtp_server  # noqa: F401  (a fixture: a real SMTP server on loopback)
from world import ACCEPT, countersign_form, write_agreement

from dugnad import agreements as ops
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import Agreement, AuditEvent, Contact, LinkToken, Organization, OutboxMessage
from dugnad.timeutil import now_utc

KARI = "kari@rodekors.example.no"  # the chair, primary contact
PER = "per@rodekors.example.no"  # the treasurer
REVOKED = "Lenken er ikke lenger gyldig"


class Desk:
    """A municipality's admin, logged in, with an organisation of three contacts (two with
    an address) and a draft agreement with it, written and ready to send."""

    def __init__(self, app, client, factory):
        self.app, self.client = app, client
        self.municipality = factory.municipality()
        login(client, factory.user(self.municipality, "admin"))
        self.organization = factory.organization(self.municipality, name="Surnadal Røde Kors", email=KARI)
        with app.app_context():
            organization = db.session.get(Organization, self.organization)
            self.kari = organization.primary_contact.id
            self.per = self.contact(organization, "Per Kasserer", "kasserer", PER)
            self.ola = self.contact(organization, "Ola Uten Adresse", "styremedlem", "")
        self.agreement = self.draft()

    def contact(self, organization: Organization, name: str, role: str, email: str) -> int:
        with self.app.app_context():
            contact = Contact(
                municipality_id=organization.municipality_id, organization_id=organization.id,
                name=name, role=role, email=email,
            )
            db.session.add(contact)
            db.session.commit()
            return contact.id

    def draft(self, organization: int | None = None) -> int:
        response = self.client.post("/agreements/new", data={"organization_id": str(organization or self.organization)})
        agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
        write_agreement(self.client, agreement_id, "Leksehjelp")
        return agreement_id

    def send(self, *contacts, agreement: int | None = None):
        """Post the check page's form with these choices ticked."""
        data = {"asked": "1", "recipients": [str(contact) for contact in contacts]}
        return self.client.post(f"/agreements/{agreement or self.agreement}/send", data=data)

    def state(self) -> str:
        with self.app.app_context():
            return db.session.get(Agreement, self.agreement).state

    def links(self) -> list[LinkToken]:
        with self.app.app_context():
            links = db.session.scalars(
                select(LinkToken).where(LinkToken.object_id == self.agreement).order_by(LinkToken.id)
            ).all()
            db.session.expunge_all()
            return links

    def events(self, action: str) -> list[AuditEvent]:
        with self.app.app_context():
            events = db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == self.agreement, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            ).all()
            db.session.expunge_all()
            return events

    def page(self) -> str:
        return self.client.get(f"/agreements/{self.agreement}").get_data(as_text=True)

    def age(self, days: float) -> None:
        """Pretend the sending (and everything since) happened `days` earlier."""
        backdate_audit_events(self.app, timedelta(days=days), AuditEvent.object_id == self.agreement)
        with self.app.app_context():
            for link in db.session.scalars(select(LinkToken).where(LinkToken.object_id == self.agreement)):
                link.created_at -= timedelta(days=days)
            db.session.commit()


@pytest.fixture
def desk(app, client, factory) -> Desk:
    return Desk(app, client, factory)


def _mail_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def _checkbox(page: str, value: int | str) -> str:
    """The checkbox of one choice on the check page ('' when it is not offered)."""
    match = re.search(rf'<input[^>]*name="recipients"[^>]*value="{value}"[^>]*>', page)
    return match.group(0) if match else ""


# --- The check page ---------------------------------------------------------------------------


def test_the_check_page_offers_contacts_with_an_address_the_primary_ticked(desk):
    page = desk.client.get(f"/agreements/{desk.agreement}/check").get_data(as_text=True)
    assert "Hvem skal få avtalen?" in page
    kari, per = _checkbox(page, desk.kari), _checkbox(page, desk.per)
    assert kari and "checked" in kari
    assert per and "checked" not in per
    assert not _checkbox(page, desk.ola)  # no address: nothing to send to
    assert KARI in page and PER in page and "kasserer" in page and "styreleder" in page
    # The choice lives inside the send form, above its button.
    form = page[page.index(f'action="/agreements/{desk.agreement}/send"'):]
    assert form.index(f'value="{desk.kari}"') < form.index("Send til Surnadal Røde Kors")


def test_two_recipients_get_two_emails_with_two_different_working_links(app, desk):
    assert desk.send(desk.kari, desk.per).status_code == 302
    assert desk.state() == "sent"
    [to_kari], [to_per] = outbox(app, to=KARI), outbox(app, to=PER)
    assert len(outbox(app)) == 2
    kari_link, per_link = link_in(to_kari), link_in(to_per)
    assert kari_link != per_link
    visitor = app.test_client()
    assert visitor.get(kari_link).status_code == 200
    assert visitor.get(per_link).status_code == 200
    assert sorted(link.recipient for link in desk.links()) == sorted([KARI, PER])
    [sent] = desk.events("send")
    assert sent.details["to"] == [KARI, PER]
    page = desk.page()
    # The timeline names every message, each with its own status, and who holds a link.
    assert f"E-post til {KARI} i kø siden" in page
    assert f"E-post til {PER} i kø siden" in page
    assert f"Sendt til: {KARI}, {PER}" in page
    # Either recipient can answer; the answer is the organisation's.
    assert visitor.post(per_link, data=ACCEPT).status_code == 302
    assert desk.state() == "accepted"


def test_the_timeline_shows_each_delivery_and_whose_link_was_opened(app, desk, smtp_server):  # noqa: F811
    server = smtp_server()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False, MAIL_USERNAME="")
    assert desk.send(desk.kari, desk.per).status_code == 302
    assert sorted(rcpt for message in server.messages for rcpt in message.rcpt_tos) == sorted([KARI, PER])
    page = desk.page()
    assert f"E-post til {KARI} levert" in page and f"E-post til {PER} levert" in page
    assert app.test_client().get(link_in(outbox(app, to=PER)[-1])).status_code == 200
    assert f"Lenken åpnet første gang ({PER})" in desk.page()


def test_none_ticked_is_refused_with_the_message_and_nothing_sent(app, desk):
    response = desk.send()
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count("Velg minst én som skal få avtalen.") == 2  # in the summary, and next to the choice
    summary = page[page.index('id="error-summary"'):]
    assert '<a class="ds-link" href="#recipients">Velg minst én som skal få avtalen.</a>' in summary
    assert 'id="recipients"' in page and 'aria-describedby="recipients-hint recipients-error"' in page
    assert "<title>Feil:" in page
    # Nothing is ticked again behind the user's back, and nothing happened.
    assert "checked" not in _checkbox(page, desk.kari)
    assert desk.state() == "draft"
    assert outbox(app) == [] and desk.links() == []


@pytest.mark.parametrize("whose", ["another organisation's", "another municipality's", "without an address"])
def test_a_tampered_recipient_is_refused_and_nothing_sent(app, factory, desk, whose):
    if whose == "another organisation's":
        other = factory.organization(desk.municipality, name="Surnadal IL", email="leder@il.example.no")
    elif whose == "another municipality's":
        other = factory.organization(factory.municipality(), name="Naboby IL", email="leder@naboby.example.no")
    if whose == "without an address":
        contact = desk.ola
    else:
        with app.app_context():
            contact = db.session.get(Organization, other).primary_contact.id
    before = _mail_count(app)
    response = desk.send(desk.kari, contact)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "er ikke blant kontaktpersonene med e-postadresse hos Surnadal Røde Kors" in page
    assert "leder@" not in page  # another organisation's address is never shown
    assert "checked" in _checkbox(page, desk.kari)  # the rest of the choice is kept
    assert desk.state() == "draft"
    assert _mail_count(app) == before and desk.links() == []


def test_the_organisations_own_address_is_offered_when_no_contact_has_one(app, desk):
    with app.app_context():
        organization = Organization(
            municipality_id=desk.municipality, name="Bygda Sjakklubb", email="post@sjakk.example.no"
        )
        organization.contacts.append(
            Contact(municipality_id=desk.municipality, name="Siv", role="styreleder", email="", is_primary=True)
        )
        db.session.add(organization)
        db.session.commit()
        organization_id = organization.id
    agreement = desk.draft(organization_id)
    page = desk.client.get(f"/agreements/{agreement}/check").get_data(as_text=True)
    assert "checked" in _checkbox(page, "organization") and "post@sjakk.example.no" in page
    assert desk.send("organization", agreement=agreement).status_code == 302
    assert len(outbox(app, to="post@sjakk.example.no")) == 1


def test_no_address_at_all_shows_the_no_address_error(app, desk):
    with app.app_context():
        organization = Organization(municipality_id=desk.municipality, name="Stille lag")
        db.session.add(organization)
        db.session.commit()
        organization_id = organization.id
    agreement = desk.draft(organization_id)
    page = desk.client.get(f"/agreements/{agreement}/check").get_data(as_text=True)
    assert "Organisasjonen har ingen e-postadresse." in page and 'name="recipients"' not in page
    response = desk.send(agreement=agreement)
    assert response.status_code == 400
    assert 'id="error-summary"' in response.get_data(as_text=True)
    assert "Organisasjonen har ingen e-postadresse." in response.get_data(as_text=True)
    assert outbox(app) == []


def test_a_post_without_the_question_goes_to_the_usual_address(app, desk):
    """E.g. a check page loaded before the choice existed: it said "Send to the organisation"."""
    assert desk.client.post(f"/agreements/{desk.agreement}/send", data={}).status_code == 302
    assert [message.to_addr for message in outbox(app)] == [KARI]


# --- After sending ----------------------------------------------------------------------------


def test_resend_gives_each_recipient_a_new_link_and_the_old_ones_stop(app, desk):
    assert desk.send(desk.kari, desk.per).status_code == 302
    old = [link_in(outbox(app, to=KARI)[-1]), link_in(outbox(app, to=PER)[-1])]
    response = desk.client.post(f"/agreements/{desk.agreement}/resend", data={})
    assert response.status_code == 302
    assert "en ny lenke til hver mottaker" in desk.page()
    new = [link_in(outbox(app, to=KARI)[-1]), link_in(outbox(app, to=PER)[-1])]
    assert len(outbox(app)) == 4 and set(new).isdisjoint(old) and new[0] != new[1]
    visitor = app.test_client()
    for link in old:
        response = visitor.get(link)
        assert response.status_code == 410 and REVOKED in response.get_data(as_text=True)
    for link in new:
        assert visitor.get(link).status_code == 200
    [resent] = desk.events("resend")
    assert resent.details["to"] == [KARI, PER]
    assert sorted(link.recipient for link in desk.links() if link.revoked_at is None) == sorted([KARI, PER])


def test_resend_of_a_link_from_before_recipients_were_recorded_goes_to_the_usual_address(app, desk):
    assert desk.send(desk.per).status_code == 302
    with app.app_context():
        db.session.execute(db.update(LinkToken).values(recipient=None))
        db.session.commit()
    assert desk.client.post(f"/agreements/{desk.agreement}/resend", data={}).status_code == 302
    assert [message.to_addr for message in outbox(app)] == [PER, KARI]


def test_reminders_go_to_each_recipient_whose_link_still_works(app, runner, desk):
    assert desk.send(desk.kari, desk.per).status_code == 302
    desk.age(7.1)
    result = runner.invoke(args=["reminders"])
    assert result.exit_code == 0 and "reminders queued: 1" in result.output  # one per agreement and step
    for address in (KARI, PER):
        reminder = outbox(app, to=address)[-1]
        assert reminder.subject.startswith("Påminnelse: samarbeidsavtale til gjennomsyn")
        assert app.test_client().get(link_in(reminder)).status_code == 200
    [remind] = desk.events("remind")
    assert remind.details["to"] == [KARI, PER] and remind.details["days"] == 7
    page = desk.page()
    assert "Påminnelse sendt" in page and page.count(f"E-post til {PER} i kø siden") == 2

    # Per's links run out; the second reminder goes to Kari alone, once.
    with app.app_context():
        db.session.execute(
            db.update(LinkToken).where(LinkToken.recipient == PER).values(expires_at=now_utc() - timedelta(minutes=1))
        )
        db.session.commit()
    desk.age(7)
    assert "reminders queued: 1" in runner.invoke(args=["reminders"]).output
    assert len(outbox(app, to=KARI)) == 3 and len(outbox(app, to=PER)) == 2
    assert desk.events("remind")[-1].details["to"] == [KARI]


def test_the_signed_pdf_goes_to_the_recipients_and_its_audit_page_names_them(app, desk):
    assert desk.send(desk.kari, desk.per).status_code == 302
    assert app.test_client().post(link_in(outbox(app, to=PER)[-1]), data=ACCEPT).status_code == 302
    response = desk.client.post(f"/agreements/{desk.agreement}/countersign", data=countersign_form(app, desk.agreement))
    assert response.status_code == 302
    with app.app_context():
        agreement = db.session.get(Agreement, desk.agreement)
        pdf, owner = agreement.signed_document.pdf, agreement.owner.email
    for address in (KARI, PER, owner):
        [signed] = [message for message in outbox(app, to=address) if message.subject.startswith("Avtalen er signert")]
        assert signed.attachments[0].data == pdf
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Sendt til\n{KARI}, {PER}\n" in text  # the audit page's facts, above the log



def test_the_reminder_job_does_not_query_per_waiting_agreement(app, desk):
    """A cron job over every municipality: its queries do not grow with the agreements waiting."""

    def queries() -> int:
        statements = []

        def count(*args):
            statements.append(args[2])

        with app.test_request_context():
            sqlalchemy.event.listen(db.engine, "before_cursor_execute", count)
            try:
                assert ops.send_due_reminders(Actor(label="cron")) == 0  # none due yet
            finally:
                sqlalchemy.event.remove(db.engine, "before_cursor_execute", count)
            db.session.rollback()
        return len(statements)

    assert desk.send(desk.kari, desk.per).status_code == 302
    with_one = queries()
    for _n in range(3):
        desk.agreement = desk.draft()
        assert desk.send(desk.kari, desk.per).status_code == 302
    assert queries() == with_one
