"""Faults (issue 7): the app server killed while it seals and while it sends, the mail worker
killed in the middle of a batch, the documents' disk allowance full. After each: restart,
then show that nothing was lost and nothing was done twice.

- Sealing: an administrator countersigns; gunicorn (master and workers) is killed with
  SIGKILL while the PDF is being rendered. The agreement must still be accepted, with no
  municipal signature and no stored document; after a restart the same countersigning
  works, once: one signature each, one sealed document.
- Sending: staff send an agreement; gunicorn is killed at once, at several moments. The
  agreement is either still a draft with no version and no email, or sent with exactly one
  version and one email per recipient; after a restart a draft can be sent, once.
- Mail worker: 200 messages queued, `flask outbox run` delivering them to a real SMTP
  server (aiosmtpd) that takes a while per message, killed with SIGKILL mid-batch, then
  started again: every message must arrive; the one in flight at the kill may arrive twice
  (SMTP accepted it, the worker died before recording it) and is counted, by Message-ID.
- Disk allowance (SQLite, the embedded default): the app server runs with a file-size limit
  (RLIMIT_FSIZE of 64 KiB, after the write-ahead log was emptied into the database file), so
  storing the sealed PDF fails as on a full disk. The administrator gets an error page, the agreement stays accepted; after the
  limit is lifted, countersigning works, once.

Run with `make bench` (or alone). SQLite first, then PostgreSQL when BENCH_POSTGRES_URL
answers (the disk-allowance fault is SQLite's: PostgreSQL's disk is the database server's).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from aiosmtpd.controller import Controller  # noqa: E402
from bench_load import PASSWORD, Client, countersign_form, whole_path  # noqa: E402
from bench_national import SERVER_LOG, _free_port, serve  # noqa: E402
from databases import on_both_databases  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from dugnad import accounts  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.models import Agreement, AgreementVersion, AuditEvent, OutboxMessage, Signature, SignedDocument  # noqa: E402

MESSAGES = 200


def kill(server: subprocess.Popen) -> None:
    """SIGKILL to gunicorn's whole process group: no cleanup, as a power cut."""
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(timeout=30)
    # The workers die a moment after their master; until then they still hold the port.
    for _ in range(300):
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def facts(app, agreement_id: int) -> dict:
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        result = {
            "state": agreement.state,
            "versions": db.session.scalar(select(func.count()).where(AgreementVersion.agreement_id == agreement_id)),
            "signatures": db.session.scalar(select(func.count()).where(Signature.agreement_id == agreement_id)),
            "documents": db.session.scalar(select(func.count()).where(SignedDocument.agreement_id == agreement_id)),
            "review emails": db.session.scalar(select(func.count()).where(
                OutboxMessage.to_addr == agreement.organization.notify_email,
                OutboxMessage.body_text.contains("/r/agreement/"))),
            "countersign events": db.session.scalar(select(func.count()).where(
                AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id, AuditEvent.action == "countersign")),
        }
        db.session.remove()
    return result


def _post_in_background(client: Client, path: str, form: dict) -> threading.Thread:
    def post():
        try:
            client.post(path, form)
        except Exception:  # noqa: BLE001 - the server is killed under it: that is the point
            pass

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def _fresh(port: int, n: int) -> tuple[Client, Client]:
    return Client(port, f"staff{n}@feil.example.no"), Client(port, f"admin{n}@feil.example.no")


def kill_while_sealing(app, url: str, label: str) -> None:
    port = _free_port()
    server = serve(url, port)
    staff, admin = _fresh(port, 0)
    errors: list[str] = []
    agreement_id = whole_path(app, port, staff, admin, "segl", {}, errors, until="accepted")
    assert agreement_id, errors
    thread = _post_in_background(admin, f"/agreements/{agreement_id}/countersign", countersign_form(app, agreement_id))
    time.sleep(0.15)  # rendering and sealing take about half a second: kill in the middle
    kill(server)
    thread.join()
    after_kill = facts(app, agreement_id)
    server = serve(url, port)
    try:
        _staff, admin = _fresh(port, 0)
        status = admin.post(f"/agreements/{agreement_id}/countersign", countersign_form(app, agreement_id))[0]
        again = admin.post(f"/agreements/{agreement_id}/countersign", countersign_form(app, agreement_id))[0]
    finally:
        kill(server)
    final = facts(app, agreement_id)
    ok = (after_kill["state"] == "accepted" and after_kill["signatures"] == 1 and after_kill["documents"] == 0
          and status == 302 and final["state"] == "signed" and final["signatures"] == 2 and final["documents"] == 1
          and final["countersign events"] == 1)
    print(f"{label}: killed while sealing: after the kill {after_kill['state']}, {after_kill['signatures']} signature(s), "
          f"{after_kill['documents']} document(s); after a restart countersigning gave HTTP {status} (a second try {again}): "
          f"{final['state']}, {final['signatures']} signatures, {final['documents']} sealed document, "
          f"{final['countersign events']} countersign event – {'nothing lost, nothing twice' if ok else 'WRONG'}")


def kill_while_sending(app, url: str, label: str) -> None:
    outcomes = []
    all_ok = True
    for delay in (0.0, 0.02, 0.05, 0.1):
        port = _free_port()
        server = serve(url, port)
        staff, admin = _fresh(port, 1)
        errors: list[str] = []
        agreement_id = whole_path(app, port, staff, admin, f"send{int(delay * 1000)}", {}, errors, until="written")
        assert agreement_id, errors
        thread = _post_in_background(staff, f"/agreements/{agreement_id}/send", {})
        time.sleep(delay)
        kill(server)
        thread.join()
        after_kill = facts(app, agreement_id)
        server = serve(url, port)
        try:
            staff, _admin = _fresh(port, 1)
            if after_kill["state"] == "draft":
                staff.post(f"/agreements/{agreement_id}/send", {})
        finally:
            kill(server)
        final = facts(app, agreement_id)
        whole = (after_kill["state"] == "draft" and after_kill["versions"] == 0) or (
            after_kill["state"] == "sent" and after_kill["versions"] == 1)
        ok = whole and final["state"] == "sent" and final["versions"] == 1 and final["review emails"] == 1
        all_ok &= ok
        outcomes.append(f"{int(delay * 1000)} ms: {after_kill['state']} ({after_kill['versions']} version)")
    print(f"{label}: killed while sending, at " + "; ".join(outcomes)
          + f" – after a restart each sent once, one version, one email: {'yes' if all_ok else 'NO'}")


class _SlowSink:
    """An SMTP server's handler that takes a while per message and remembers each Message-ID."""

    def __init__(self):
        self.received: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.01)
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.received.append(line.split(":", 1)[1].strip())
                break
        return "250 OK"


def kill_the_mail_worker(app, url: str, label: str) -> None:
    sink = _SlowSink()
    smtp_port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with app.app_context(), app.test_request_context():
            municipality_id = db.session.scalar(select(func.min(Agreement.municipality_id)))
            for n in range(MESSAGES):
                _plain(municipality_id, n)
            db.session.commit()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-national", "MAIL_SERVER": "127.0.0.1",
               "MAIL_PORT": str(smtp_port), "FLASK_APP": "app.py", "OUTBOX_POLL_SECONDS": "1"}
        flask = str(Path(sys.executable).parent / "flask")
        worker = subprocess.Popen([flask, "outbox", "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=SERVER_LOG.open("a"), start_new_session=True)
        while len(sink.received) < MESSAGES // 3:
            time.sleep(0.01)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        at_kill = len(sink.received)
        # The message in flight keeps its claim until it runs out: let the restarted worker
        # see it as due (what ten minutes would do) by making every claim end now.
        with app.app_context():
            db.session.execute(OutboxMessage.__table__.update().where(OutboxMessage.status == "pending")
                               .values(next_attempt_at=None))
            db.session.commit()
        for _ in range(MESSAGES):  # one pass delivers a batch; as many passes as it takes
            subprocess.run([flask, "outbox", "run", "--once"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=SERVER_LOG.open("a"))
            with app.app_context():
                left = db.session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
                db.session.remove()
            if not left:
                break
    finally:
        controller.stop()
    with app.app_context():
        ids = {f"outbox-{message_id}" for message_id in db.session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.subject.like("Feilprøve %")))}
        pending = db.session.scalar(select(func.count()).where(OutboxMessage.status != "sent",
                                                               OutboxMessage.subject.like("Feilprøve %")))
        db.session.remove()
    # Message-IDs are <time.pid.random.outbox-<id>@dugnad.local> (dugnad.mail).
    received = [f"outbox-{found.group(1)}" for found in map(re.compile(r"outbox-(\d+)@").search, sink.received) if found]
    received = [found for found in received if found in ids]
    lost = len(ids - set(received))
    twice = len(received) - len(set(received))
    print(f"{label}: mail worker killed after {at_kill} of {MESSAGES} messages, then started again: "
          f"{len(set(received))} delivered, {lost} lost, {twice} delivered twice (in flight at the kill), "
          f"{pending} not marked sent")


def _plain(municipality_id: int, n: int) -> None:
    """A plain message in the outbox, as any cause would write it."""
    db.session.add(OutboxMessage(municipality_id=municipality_id, to_addr=f"mottaker{n}@example.no",
                                 subject=f"Feilprøve {n}", body_text="Hei.", body_html="<p>Hei.</p>"))


def disk_allowance_full(app, url: str, label: str) -> None:
    port = _free_port()
    server = serve(url, port)
    staff, admin = _fresh(port, 2)
    errors: list[str] = []
    agreement_id = whole_path(app, port, staff, admin, "disk", {}, errors, until="accepted")
    assert agreement_id, errors
    kill(server)
    # Everything written so far moved into the database file and the write-ahead log emptied;
    # then no file may grow past 64 KiB: room for a login and small changes in the log, not
    # for a sealed PDF (about 100 KiB), whose write fails as on a full disk.
    with app.app_context():
        with db.engine.connect() as connection:  # outside a transaction, where a checkpoint can run
            connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()
    allowance = 64 * 1024

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (allowance, allowance))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing

    # Its log starts empty: any file it writes is held to the same limit.
    limited_log = SERVER_LOG.with_name("dugnad-bench-gunicorn-limited.log")
    limited_log.unlink(missing_ok=True)
    server = serve(url, port, log=limited_log, preexec_fn=limited)
    try:
        _staff, admin = _fresh(port, 2)
        full_status, full_page, _location = admin.post(f"/agreements/{agreement_id}/countersign",
                                                        countersign_form(app, agreement_id))
    finally:
        kill(server)
    when_full = facts(app, agreement_id)
    server = serve(url, port)
    try:
        _staff, admin = _fresh(port, 2)
        status = admin.post(f"/agreements/{agreement_id}/countersign", countersign_form(app, agreement_id))[0]
    finally:
        kill(server)
    final = facts(app, agreement_id)
    ok = (when_full["state"] == "accepted" and when_full["documents"] == 0 and status == 302
          and final["documents"] == 1 and final["signatures"] == 2)
    print(f"{label}: disk allowance full while sealing: HTTP {full_status} to the administrator, agreement "
          f"{when_full['state']} with {when_full['documents']} document(s); with room again HTTP {status}: "
          f"{final['state']}, {final['signatures']} signatures, {final['documents']} sealed document – "
          f"{'nothing lost, nothing twice' if ok else 'WRONG'}")


def run(url: str, label: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-national", "RATELIMIT_ENABLED": False})
    with app.app_context(), app.test_request_context():
        db.create_all()
        for n in range(3):
            municipality = accounts.create_municipality(f"Feilby {n}", f"{9800 + n}", "991000054")
            for role in ("staff", "admin"):
                accounts.create_user(municipality.id, f"{role}{n}@feil.example.no", f"{role} {n}", role, PASSWORD)
        db.session.commit()
        db.session.remove()
    kill_while_sealing(app, url, label)
    kill_while_sending(app, url, label)
    kill_the_mail_worker(app, url, label)
    if url.startswith("sqlite"):
        disk_allowance_full(app, url, label)


if __name__ == "__main__":
    on_both_databases(run, "bench_faults")
