"""The outbox worker against a real SMTP server (aiosmtpd on 127.0.0.1): backoff after
failures, giving up, an administrator's retry, and several workers never sending a
message twice (PostgreSQL). Time is passed in (`now=`), never waited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from helpers import login
from sqlalchemy import create_engine, func, select, text
from test_mail import Collector, SMTPServer, free_port

from dugnad import mail
from dugnad.extensions import db
from dugnad.models import AuditEvent, OutboxFailure, OutboxMessage
from dugnad.timeutil import now_utc

ROOT = Path(__file__).resolve().parent.parent


class SMTPServerAt(SMTPServer):
    """A real SMTP server on a port chosen before (to bring a server back where it was)."""

    def __init__(self, port: int):
        self.handler = Collector()
        self.port = port
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)


@pytest.fixture
def smtp():
    """Start a real SMTP server with `smtp()` (on a given port, to bring one back); all
    are stopped afterwards."""
    started: list[SMTPServer] = []

    def start(port: int | None = None) -> SMTPServer:
        server = SMTPServerAt(port or free_port())
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def _use_mail_server(app, port: int, **config) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME="", **config)


def _queue(app, municipality_id: int, count: int, to: str = "leder@lag.example.no") -> list[int]:
    """`count` pending messages, numbered in their subjects."""
    with app.app_context():
        messages = [
            OutboxMessage(
                municipality_id=municipality_id, to_addr=to, subject=f"Melding {n}",
                body_text=f"Tekst {n}", body_html=f"<p>Tekst {n}</p>",
            )
            for n in range(count)
        ]
        db.session.add_all(messages)
        db.session.commit()
        return [message.id for message in messages]


def _message(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def _failures(app, message_id: int) -> list[OutboxFailure]:
    with app.app_context():
        failures = db.session.scalars(
            select(OutboxFailure).where(OutboxFailure.message_id == message_id).order_by(OutboxFailure.id)
        ).all()
        db.session.expunge_all()
        return failures


def _deliver(app, **kwargs) -> tuple[int, int]:
    with app.app_context():
        return mail.deliver_due(**kwargs)


def _received_subjects(server: SMTPServer) -> Counter:
    return Counter(received.message["Subject"] for received in server.messages)


def test_backoff_doubles_up_to_its_cap(app):
    app.config.update(MAIL_RETRY_BASE_SECONDS=60, MAIL_RETRY_MAX_SECONDS=300)
    with app.app_context():
        assert [mail.retry_delay(tries).total_seconds() for tries in (1, 2, 3, 4, 5, 50)] == [60, 120, 240, 300, 300, 300]


def test_server_down_then_back_each_message_delivered_once(app, factory, smtp):
    municipality = factory.municipality()
    ids = _queue(app, municipality, 3)
    port = free_port()  # nothing listens there yet
    _use_mail_server(app, port, MAIL_RETRY_BASE_SECONDS=60)
    start = now_utc()

    assert _deliver(app, now=start) == (0, 3)
    for message_id in ids:
        message = _message(app, message_id)
        assert message.status == "pending"
        assert message.attempts == 1
        assert message.sent_at is None
        assert "ConnectionRefusedError" in message.last_error
        assert message.next_attempt_at == start + timedelta(seconds=60)
        [failure] = _failures(app, message_id)
        assert failure.attempted_at == start
        assert "ConnectionRefusedError" in failure.error

    server = smtp(port)  # the server is back, at the same address
    # Before the backoff has passed, nothing is tried.
    assert _deliver(app, now=start + timedelta(seconds=59)) == (0, 0)
    assert server.messages == []

    later = start + timedelta(seconds=60)
    assert _deliver(app, now=later) == (3, 0)
    assert _received_subjects(server) == {f"Melding {n}": 1 for n in range(3)}
    for message_id in ids:
        message = _message(app, message_id)
        assert (message.status, message.attempts, message.sent_at, message.next_attempt_at) == ("sent", 2, later, None)
        assert message.last_error == ""
        assert len(_failures(app, message_id)) == 1  # the failure stays on record

    # Sent is sent: later passes send nothing again.
    assert _deliver(app, now=later + timedelta(days=1)) == (0, 0)
    assert len(server.messages) == 3


def test_a_claimed_message_is_left_alone_until_its_claim_runs_out(app, factory, smtp):
    """A worker that dies after claiming a message (before or after sending it) holds it
    for CLAIM_SECONDS; then another worker sends it."""
    [message_id] = _queue(app, factory.municipality(), 1)
    server = smtp()
    _use_mail_server(app, server.port)
    start = now_utc()
    with app.app_context():
        assert mail._claim(start, None) == (message_id, 0)  # ... and the worker dies
    assert _deliver(app, now=start + timedelta(seconds=mail.CLAIM_SECONDS - 1)) == (0, 0)
    assert server.messages == []
    assert _deliver(app, now=start + timedelta(seconds=mail.CLAIM_SECONDS)) == (1, 0)
    assert _received_subjects(server) == {"Melding 0": 1}


def test_the_request_hook_sends_only_its_own_messages(app, client, factory, smtp):
    """Right after a request, its own mail goes out; what waited from before is left to the
    worker (the user's request does not pay for a backlog)."""
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    [old] = _queue(app, municipality, 1)
    server = smtp()
    _use_mail_server(app, server.port)
    login(client, admin)
    factory.organization(municipality, name="Bygda Røde Kors", email="kari@rodekors.example.no")
    meeting = factory.meeting(municipality)
    with app.app_context():
        from dugnad.models import Organization

        organization = db.session.scalar(select(Organization.id).where(Organization.municipality_id == municipality))
    assert client.post(f"/meetings/{meeting}/invite", data={"organizations": [str(organization)]}).status_code == 302
    assert [received.rcpt_tos for received in server.messages] == [["kari@rodekors.example.no"]]
    assert _message(app, old).status == "pending"
    assert _deliver(app) == (1, 0)
    assert _received_subjects(server)["Melding 0"] == 1


def _fail_until_given_up(app, message_id: int, tries: int):
    """Passes with the server down, each when the message is due again."""
    moment = now_utc()
    for n in range(1, tries + 1):
        assert _deliver(app, now=moment) == (0, 1), n
        message = _message(app, message_id)
        assert message.attempts == n
        moment = message.next_attempt_at
    return message


def test_gives_up_after_max_attempts_and_an_admin_retries(app, client, factory, smtp):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    [message_id] = _queue(app, municipality, 1)
    port = free_port()
    _use_mail_server(app, port, MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_BASE_SECONDS=60)

    message = _fail_until_given_up(app, message_id, 3)
    assert message.status == "failed"
    assert message.next_attempt_at is None
    failures = _failures(app, message_id)
    assert len(failures) == 3
    assert all("ConnectionRefusedError" in failure.error for failure in failures)
    # Backoff between the tries: 60 s, then 120 s.
    assert [b.attempted_at - a.attempted_at for a, b in zip(failures, failures[1:], strict=False)] == [
        timedelta(seconds=60), timedelta(seconds=120)
    ]
    # Given up is given up: no more tries, however long one waits.
    assert _deliver(app, now=now_utc() + timedelta(days=30)) == (0, 0)

    # The Mailbox shows it, with its failures and the button.
    login(client, admin)
    page = client.get("/mailbox/").get_data(as_text=True)
    assert 'id="given-up"' in page
    assert "Ga opp" in page
    assert f'href="/mailbox/{message_id}"' in page
    page = client.get(f"/mailbox/{message_id}").get_data(as_text=True)
    assert "Dugnad ga opp å sende denne meldingen etter 3 forsøk." in page
    assert page.count("ConnectionRefusedError") >= 3  # each failure listed, and the last error
    assert 'id="failures"' in page
    assert f'action="/mailbox/{message_id}/retry"' in page
    assert "Prøv igjen" in page

    # Retry, with the server still down: pending again, tried at once (a fresh count of tries).
    response = client.post(f"/mailbox/{message_id}/retry", data={})
    assert response.status_code == 302
    message = _message(app, message_id)
    assert message.status == "pending"
    assert message.attempts == 1
    assert len(_failures(app, message_id)) == 4  # the earlier failures stay
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "mail_retry")).all()
        assert (event.object_type, event.object_id, event.details) == ("outbox_message", message_id, {"attempts": 3})
    page = client.get(f"/mailbox/{message_id}").get_data(as_text=True)
    assert "Neste forsøk" in page
    assert "Europe/Oslo" in page
    assert "Prøv igjen" not in page  # only for messages given up on

    # The server is back: the worker delivers it once when it is due.
    server = smtp(port)
    assert _deliver(app, now=message.next_attempt_at) == (1, 0)
    assert _received_subjects(server) == {"Melding 0": 1}
    assert _message(app, message_id).status == "sent"
    assert "Sendt" in client.get("/mailbox/").get_data(as_text=True)

    # A sent message cannot be "retried" into a second copy.
    response = client.post(f"/mailbox/{message_id}/retry", data={}, follow_redirects=True)
    assert response.status_code == 200
    assert "Denne meldingen kan ikke prøves på nytt." in response.get_data(as_text=True)
    assert _message(app, message_id).status == "sent"
    assert _deliver(app, now=now_utc() + timedelta(days=1)) == (0, 0)
    assert len(server.messages) == 1


def test_retry_with_the_server_up_sends_right_away(app, client, factory, smtp):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    [message_id] = _queue(app, municipality, 1)
    port = free_port()
    _use_mail_server(app, port, MAIL_MAX_ATTEMPTS=1)
    assert _fail_until_given_up(app, message_id, 1).status == "failed"

    server = smtp(port)
    login(client, admin)
    response = client.post(f"/mailbox/{message_id}/retry", data={}, follow_redirects=True)
    assert "Meldingen sendes på nytt." in response.get_data(as_text=True)
    assert _received_subjects(server) == {"Melding 0": 1}
    message = _message(app, message_id)
    assert (message.status, message.attempts) == ("sent", 1)


def test_only_own_municipalitys_admin_may_retry(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    other_admin = factory.user(factory.municipality(), "admin")
    [message_id] = _queue(app, municipality, 1)
    _use_mail_server(app, free_port(), MAIL_MAX_ATTEMPTS=1)
    assert _fail_until_given_up(app, message_id, 1).status == "failed"

    login(client, staff)
    assert client.post(f"/mailbox/{message_id}/retry", data={}).status_code == 403
    other = app.test_client()
    login(other, other_admin)
    assert other.post(f"/mailbox/{message_id}/retry", data={}).status_code == 404
    message = _message(app, message_id)
    assert (message.status, message.attempts) == ("failed", 1)
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "mail_retry")) == 0


def test_an_anonymised_recipient_is_not_retried(app, client, factory):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    [message_id] = _queue(app, municipality, 1, to="kontakt-7@anonymisert.invalid")
    with app.app_context():
        db.session.get(OutboxMessage, message_id).status = "failed"
        db.session.commit()
    login(client, admin)
    assert "Prøv igjen" not in client.get(f"/mailbox/{message_id}").get_data(as_text=True)
    response = client.post(f"/mailbox/{message_id}/retry", data={}, follow_redirects=True)
    assert "Denne meldingen kan ikke prøves på nytt." in response.get_data(as_text=True)
    assert _message(app, message_id).status == "failed"


# --- The command ----------------------------------------------------------------------------


def test_outbox_run_once(app, runner, factory, smtp):
    _queue(app, factory.municipality(), 2)
    server = smtp()
    _use_mail_server(app, server.port)
    result = runner.invoke(args=["outbox", "run", "--once", "--max-batch", "1"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert "sent 1, failed 0" in result.output
    assert _received_subjects(server) == {"Melding 0": 1, "Melding 1": 1}


def test_outbox_run_needs_a_mail_server(app, runner):
    app.config["MAIL_SERVER"] = ""
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code != 0
    assert "MAIL_SERVER" in result.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_worker_delivers_and_stops_on_a_signal(app, database_url, factory, smtp, signum):
    _queue(app, factory.municipality(), 2)
    server = smtp()
    env = {
        **os.environ,
        "DATABASE_URL": database_url, "SECRET_KEY": "test", "FLASK_APP": "app.py",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(server.port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "outbox", "run", "--poll-seconds", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60  # a guard against hanging, not a measurement
        while len(server.messages) < 2 and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _received_subjects(server) == {"Melding 0": 1, "Melding 1": 1}
        worker.send_signal(signum)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, output
    assert "outbox worker: stopped" in output
    assert "Traceback" not in output


# --- Several workers (PostgreSQL) ----------------------------------------------------------

postgresql_only = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="several workers at once need PostgreSQL's row locks; SQLite has a single writer",
)


@postgresql_only
def test_two_workers_never_send_the_same_message(app, database_url, factory, smtp):
    ids = _queue(app, factory.municipality(), 50)
    server = smtp()
    _use_mail_server(app, server.port)

    # While one transaction holds a message's row lock, a worker takes the next one rather
    # than waiting (SKIP LOCKED); its claim keeps the message from other workers.
    engine = create_engine(database_url)
    try:
        with engine.connect() as holder, holder.begin():
            holder.execute(text("SELECT id FROM outbox_message WHERE id = :id FOR UPDATE"), {"id": ids[0]})
            with app.app_context():
                # Without SKIP LOCKED this would wait for the lock: give up rather than hang.
                db.session.execute(text("SET lock_timeout = '20s'"))
                assert mail._claim(now_utc(), None) == (ids[1], 0)
                db.session.execute(text("RESET lock_timeout"))
                db.session.commit()
    finally:
        engine.dispose()
    with app.app_context():  # as if that claim had run out
        db.session.get(OutboxMessage, ids[1]).next_attempt_at = None
        db.session.commit()

    # Two workers at once, each with its own session and connection, over 50 messages.
    start = threading.Barrier(2)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():  # a session and connection of its own
                start.wait()
                results.append(mail.deliver_due(limit=1000))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(sent for sent, _ in results) == 50
    assert sum(failed for _, failed in results) == 0
    assert _received_subjects(server) == {f"Melding {n}": 1 for n in range(50)}
    assert len({received.message["Message-ID"] for received in server.messages}) == 50
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status, OutboxMessage.attempts).where(OutboxMessage.id.in_(ids))).all()
    assert Counter(rows) == {("sent", 1): 50}
