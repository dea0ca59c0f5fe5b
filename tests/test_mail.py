"""Mail through a real SMTP server (aiosmtpd on 127.0.0.1), and the outbox without one."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from helpers import LINK, link_in, login, outbox
from sqlalchemy import func, select

from dugnad import meetings
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import AuditEvent, Invitation, LinkToken, Meeting, Organization, OutboxMessage
from dugnad.timeutil import now_utc

ORG_EMAIL = "kari@rodekors.example.no"
MEETING_TITLE = "Dialogmøte om frivillighet"  # as in helpers.Factory.meeting


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.original_content, policy=email.policy.default),
            )
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on (until someone binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    def __init__(self):
        self.handler = Collector()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server():
    """Start a real SMTP server with `smtp_server()`; all are stopped afterwards."""
    started: list[SMTPServer] = []

    def start() -> SMTPServer:
        server = SMTPServer().start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _use_mail_server(app, port: int) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME="")


def _setup_meeting(factory):
    """A municipality with an admin, an organisation with an address, and a meeting."""
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    organization = factory.organization(municipality, name="Bygda Røde Kors", email=ORG_EMAIL)
    meeting = factory.meeting(municipality)
    return admin, organization, meeting


def _invite(client, meeting: int, organization: int):
    return client.post(f"/meetings/{meeting}/invite", data={"organizations": [str(organization)]})


def test_mail_is_delivered_right_after_the_request(app, client, factory, smtp_server):
    server = smtp_server()
    _use_mail_server(app, server.port)
    admin, organization, meeting = _setup_meeting(factory)
    login(client, admin)

    response = _invite(client, meeting, organization)
    assert response.status_code == 302

    # The SMTP server has it by the time the response is back.
    [received] = server.messages
    assert received.rcpt_tos == [ORG_EMAIL]
    message = received.message
    assert message["To"] == ORG_EMAIL
    assert message["Subject"] == f"Invitasjon: {MEETING_TITLE}"  # ø survives the header encoding
    assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert message["Message-ID"]
    # The text and HTML bodies, and the calendar invitation as an attachment.
    assert message.get_content_type() == "multipart/mixed"
    [ics] = list(message.iter_attachments())
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "REQUEST"
    assert ics.get_filename() == "invitasjon.ics"
    assert "BEGIN:VCALENDAR" in ics.get_content()  # text/calendar: decoded as text
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    text_body, html_body = text.get_content(), html.get_content()
    assert MEETING_TITLE in text_body
    assert MEETING_TITLE in html_body
    assert "Bygda Røde Kors" in text_body

    [stored] = outbox(app)
    assert stored.status == "sent"
    assert stored.sent_at is not None
    assert stored.attempts == 1
    assert stored.last_error == ""
    # The one link, in both parts, and clickable in the HTML.
    link = link_in(stored)
    assert LINK.search(text_body).group(1) == link
    assert re.search(rf'<a href="https?://[^/"]+{re.escape(link)}"', html_body)

    # The link works for the organisation.
    page = app.test_client().get(link)
    assert page.status_code == 200
    assert MEETING_TITLE in page.get_data(as_text=True)


def test_mail_server_down_then_delivered_once_by_the_command(app, client, factory, runner, smtp_server):
    _use_mail_server(app, free_port())  # nothing listens there
    admin, organization, meeting = _setup_meeting(factory)
    login(client, admin)

    response = _invite(client, meeting, organization)
    assert response.status_code == 302  # the invitation stands; mail waits
    with app.app_context():
        assert db.session.scalar(select(func.count(Invitation.id))) == 1
    [waiting] = outbox(app)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.sent_at is None
    assert "ConnectionRefusedError" in waiting.last_error
    assert waiting.next_attempt_at > waiting.created_at  # it waits a while before the next try

    server = smtp_server()
    app.config["MAIL_PORT"] = server.port
    # Not yet: the message waits its time (tests/test_outbox_worker.py has the backoff).
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 0, failed 0" in result.output
    assert server.messages == []
    with app.app_context():  # the minute has passed
        db.session.get(OutboxMessage, waiting.id).next_attempt_at = now_utc() - timedelta(seconds=1)
        db.session.commit()
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output
    assert [r.rcpt_tos for r in server.messages] == [[ORG_EMAIL]]
    [sent] = outbox(app)
    assert sent.status == "sent"
    assert sent.attempts == 2
    assert sent.sent_at is not None
    assert sent.last_error == ""

    # Nothing is sent twice.
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 0, failed 0" in result.output
    assert len(server.messages) == 1


def test_without_mail_server_messages_wait_in_the_mailbox(app, client, factory, runner):
    app.config["MAIL_SERVER"] = ""
    admin, organization, meeting = _setup_meeting(factory)
    login(client, admin)

    assert _invite(client, meeting, organization).status_code == 302
    [message] = outbox(app)
    assert message.status == "pending"
    assert message.attempts == 0
    link = link_in(message)

    page = client.get("/mailbox/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f"Invitasjon: {MEETING_TITLE}" in body
    assert ORG_EMAIL in body
    assert "Venter" in body
    assert f'href="/mailbox/{message.id}"' in body

    page = client.get(f"/mailbox/{message.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert re.search(rf'<a href="(https?://[^/"]+{re.escape(link)})">\1</a>', body), body

    # The command says why it cannot deliver, and delivers nothing.
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code != 0
    assert "MAIL_SERVER" in result.output
    assert outbox(app)[0].status == "pending"


def test_the_mailbox_is_for_admins_only(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    login(client, staff)
    assert client.get("/mailbox/").status_code == 403


def test_mailbox_shows_only_own_municipality(app, client, factory):
    admin, organization, meeting = _setup_meeting(factory)
    other_admin, other_organization, other_meeting = _setup_meeting(factory)
    app.config["MAIL_SERVER"] = ""
    login(client, other_admin)
    assert _invite(client, other_meeting, other_organization).status_code == 302
    [other_message] = outbox(app)

    visitor = app.test_client()
    login(visitor, admin)
    assert ORG_EMAIL not in visitor.get("/mailbox/").get_data(as_text=True)
    assert visitor.get(f"/mailbox/{other_message.id}").status_code == 404


def _invite_in_code(app, meeting_id: int, organization_id: int):
    with app.test_request_context():
        meeting = db.session.get(Meeting, meeting_id)
        organization = db.session.get(Organization, organization_id)
        created, without_email = meetings.invite(meeting, [organization], Actor(label="Tester"))
        db.session.flush()
        return created, without_email


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (OutboxMessage, Invitation, LinkToken, AuditEvent)
        }


def test_a_message_exists_exactly_when_its_cause_is_committed(app, factory):
    _admin, organization, meeting = _setup_meeting(factory)
    before = _counts(app)  # the setup's own audit events, for one

    # The operation queues its message, then fails: nothing of it remains.
    with app.app_context():
        created, _ = _invite_in_code(app, meeting, organization)
        assert len(created) == 1
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # queued, in the transaction
        db.session.rollback()
    assert _counts(app) == before

    # Committed, the message is there with its cause.
    with app.app_context():
        _invite_in_code(app, meeting, organization)
        db.session.commit()
    assert _counts(app) == {name: count + 1 for name, count in before.items()}


def test_a_request_that_fails_after_queueing_sends_nothing(app, client, factory, smtp_server, monkeypatch):
    server = smtp_server()
    _use_mail_server(app, server.port)
    admin, organization, meeting = _setup_meeting(factory)
    login(client, admin)

    def fail(*args, **kwargs):
        raise RuntimeError("the audit trail is down")

    # invite() queues the mail, then audits: make the audit fail.
    monkeypatch.setattr(meetings.audit, "record", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 like production does
    response = _invite(client, meeting, organization)
    assert response.status_code == 500
    assert server.messages == []
    assert outbox(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count(Invitation.id))) == 0
