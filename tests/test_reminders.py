"""After sending: resending with a new link, the timeline (queued, delivered, first
opened) and automatic reminders through `flask reminders` (cron)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from backdate import backdate_audit_events
from helpers import link_in, login, outbox
from sqlalchemy import select
from test_mail import smtp_server  # noqa: F401  (a fixture: a real SMTP server on loopback)
from world import ACCEPT, write_agreement

from dugnad.extensions import db
from dugnad.models import AuditEvent, LinkToken

ORG_EMAIL = "kari@rodekors.example.no"
REVOKED = "Lenken er ikke lenger gyldig"


@pytest.fixture
def sent(app, client, factory):
    """(staff client, agreement id, review link) of an agreement just sent."""
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    organization = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(client, agreement_id, "Leksehjelp")
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return client, agreement_id, link_in(outbox(app, to=ORG_EMAIL)[-1])


def _actions(app, agreement_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        ))


def _age(app, agreement_id: int, days: float) -> None:
    """Pretend the send (and everything since) happened `days` earlier."""
    backdate_audit_events(
        app, timedelta(days=days), AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id
    )
    with app.app_context():
        for link in db.session.scalars(select(LinkToken)):
            link.created_at -= timedelta(days=days)
        db.session.commit()


def test_resend_gives_a_new_link_and_the_old_one_stops_working(app, sent):
    client, agreement_id, old_link = sent
    response = client.post(f"/agreements/{agreement_id}/resend", data={})
    assert response.status_code == 302
    page = client.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "Avtalen er sendt på nytt med en ny lenke." in page
    assert "Sendt på nytt med ny lenke" in page  # in the timeline
    new_link = link_in(outbox(app, to=ORG_EMAIL)[-1])
    assert new_link != old_link
    visitor = app.test_client()
    response = visitor.get(old_link)
    assert response.status_code == 410 and REVOKED in response.get_data(as_text=True)
    assert visitor.get(new_link).status_code == 200
    assert visitor.post(new_link, data=ACCEPT).status_code == 302
    # Once answered there is nothing to resend.
    assert client.post(f"/agreements/{agreement_id}/resend", data={}).status_code == 409
    assert len(outbox(app, to=ORG_EMAIL)) == 2


def test_the_timeline_shows_queued_delivered_and_first_opened(app, client, factory, smtp_server):  # noqa: F811
    server = smtp_server()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False, MAIL_USERNAME="")
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    organization = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(client, agreement_id, "Leksehjelp")
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302

    [received] = server.messages  # delivered right after the request
    assert received.rcpt_tos == [ORG_EMAIL]
    page = client.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert f"E-post til {ORG_EMAIL} levert" in page
    assert "Lenken åpnet første gang" not in page

    link = link_in(outbox(app, to=ORG_EMAIL)[-1])
    visitor = app.test_client()
    assert visitor.get(link).status_code == 200
    assert visitor.get(link).status_code == 200  # a second visit is not a new event
    assert _actions(app, agreement_id).count("opened") == 1
    page = client.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "Lenken åpnet første gang" in page


def test_a_queued_email_shows_as_queued(app, sent):
    client, agreement_id, _link = sent
    page = client.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert f"E-post til {ORG_EMAIL} i kø siden" in page  # no MAIL_SERVER: it waits in the Mailbox


def test_reminders_go_out_after_7_and_14_days_once_each(app, runner, sent):
    client, agreement_id, first_link = sent
    # As in production: no fixed server name, so a cron command takes the address from PUBLIC_URL.
    app.config.update(SERVER_NAME=None, PUBLIC_URL="https://dugnad.fjordvik.eksempel.no")

    def remind() -> str:
        result = runner.invoke(args=["reminders"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "reminders queued: 0" in remind()  # just sent
    _age(app, agreement_id, 7.1)
    assert "reminders queued: 1" in remind()
    assert "reminders queued: 0" in remind()  # not twice
    reminder = outbox(app, to=ORG_EMAIL)[-1]
    assert reminder.subject.startswith("Påminnelse: samarbeidsavtale til gjennomsyn")
    assert "kommunen venter på svar fra Surnadal Røde Kors" in reminder.body_text
    reminder_link = link_in(reminder)
    # No request gives the address to a cron command: PUBLIC_URL does.
    assert "https://dugnad.fjordvik.eksempel.no" + reminder_link in reminder.body_text
    visitor = app.test_client()
    # The reminder's link works, and the first one too (a tab left open still answers).
    assert visitor.get(reminder_link).status_code == 200
    assert visitor.get(first_link).status_code == 200

    _age(app, agreement_id, 7)
    assert "reminders queued: 1" in remind()
    assert "reminders queued: 0" in remind()
    _age(app, agreement_id, 30)
    assert "reminders queued: 0" in remind()  # the schedule is 7 and 14 days: no third
    assert _actions(app, agreement_id).count("remind") == 2
    assert "Påminnelse sendt" in client.get(f"/agreements/{agreement_id}").get_data(as_text=True)


def test_no_reminder_once_answered_or_after_a_resend_too_soon(app, runner, sent):
    client, agreement_id, link = sent
    _age(app, agreement_id, 8)
    # A resend restarts the clock.
    assert client.post(f"/agreements/{agreement_id}/resend", data={}).status_code == 302
    assert "reminders queued: 0" in runner.invoke(args=["reminders"]).output
    new_link = link_in(outbox(app, to=ORG_EMAIL)[-1])
    assert app.test_client().post(new_link, data=ACCEPT).status_code == 302
    _age(app, agreement_id, 20)
    assert "reminders queued: 0" in runner.invoke(args=["reminders"]).output
    assert "remind" not in _actions(app, agreement_id)
