"""Email: messages go to the outbox with the change that causes them; a worker sends them.

`queue()` renders a plain-text and an HTML body from `templates/mail/<name>.txt`
and `.html` and adds an OutboxMessage to the current transaction, so a message
exists exactly when its cause was committed. Without MAIL_SERVER, administrators
read the outbox on the Mailbox page.

With MAIL_SERVER, `deliver_due()` sends the messages whose time has come, one at a
time: it claims a message in a short transaction of its own, sends it, and commits
the result right after. Three callers share it: the request hook (right after a
request that queued mail), `flask outbox run` (the worker, polling) and `flask outbox
deliver` (one pass, for cron). A failed try is recorded (OutboxFailure) and the message
waits, twice as long after each failure, until MAIL_MAX_ATTEMPTS tries have failed: then
it is `failed` (Dugnad gave up) until an administrator asks for another try (`retry()`).
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, g, render_template
from flask_babel import force_locale
from sqlalchemy import inspect, or_, select, update
from sqlalchemy.orm import aliased, selectinload

from . import audit
from .extensions import db
from .models import OutboxAttachment, OutboxFailure, OutboxMessage
from .timeutil import now_utc

#: Seconds a claimed message is kept from other workers while one sends it. It must be far
#: longer than a send can take (SMTP_TIMEOUT per network step): if it ran out mid-send,
#: another worker could send the message too. A worker that dies while holding a claim
#: leaves the message waiting this long before another one tries it.
CLAIM_SECONDS = 600

#: Seconds to wait for the SMTP server at each step (connect, each command).
SMTP_TIMEOUT = 10

#: Errors that mean "this try failed", as opposed to bugs.
SEND_ERRORS = (OSError, smtplib.SMTPException)


def queue(
    municipality_id: int,
    to_addr: str,
    subject,
    template: str,
    locale: str = "nb",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    deliver_now: bool = True,
    **context,
) -> OutboxMessage:
    """Add a message to the outbox; `subject` may be a lazy string.

    `attachments` are (filename, content type, bytes), e.g. a calendar invitation.
    `deliver_now=False` leaves it to the outbox worker instead of sending it right after
    the request (when how long the answer takes must not tell anything).

    Mail is written in the recipient's language (bokmål for organisations), not
    in the language of whoever caused it.
    """
    with force_locale(locale):
        message = OutboxMessage(
            municipality_id=municipality_id,
            to_addr=to_addr,
            subject=str(subject),
            body_text=render_template(f"mail/{template}.txt", **context),
            body_html=render_template(f"mail/{template}.html", **context),
            attachments=[
                OutboxAttachment(filename=filename, content_type=content_type, data=data)
                for filename, content_type, data in attachments
            ],
        )
    db.session.add(message)
    if deliver_now:
        deliver_after_request(message)
    return message


def deliver_after_request(message: OutboxMessage) -> None:
    """Have the request hook below send `message` right after this request's commit."""
    g.setdefault("mail_queued", []).append(message)


# --- Building and sending one message --------------------------------------------------


def _to_email(message: OutboxMessage) -> EmailMessage:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    # The same Message-ID on every try: should a message ever go out twice (see
    # _deliver_claimed), mail programs can tell it is one message.
    email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="dugnad.local")
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, _, params = rest.partition(";")
        part_params = dict(
            (key.strip(), value.strip()) for key, _, value in (p.partition("=") for p in params.split(";") if p.strip())
        )
        email.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype.strip(), filename=attachment.filename, params=part_params
        )
    return email


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


class _Connection:
    """The SMTP connection of one pass, opened when the first message needs it.

    When connecting fails, the pass does not knock again for each message (a server
    that does not answer would cost SMTP_TIMEOUT per message): the pass's other messages
    get the same failure, and the next pass tries again.
    """

    def __init__(self):
        self.smtp: smtplib.SMTP | None = None
        self.connect_error: Exception | None = None

    def send(self, email: EmailMessage) -> None:
        if self.connect_error:
            raise self.connect_error
        if self.smtp is None:
            try:
                self.smtp = _connect()
            except SEND_ERRORS as exc:
                self.connect_error = exc
                raise
        try:
            self.smtp.send_message(email)
        except SEND_ERRORS:
            # The session may be half-way through a command or gone: start afresh.
            self.close()
            raise

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except SEND_ERRORS:
                self.smtp.close()
            self.smtp = None


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT)
    try:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


def retry_delay(tries: int) -> timedelta:
    """How long a message waits after its `tries`-th failed try: MAIL_RETRY_BASE_SECONDS,
    doubled after each further failure, at most MAIL_RETRY_MAX_SECONDS."""
    config = current_app.config
    seconds = config["MAIL_RETRY_BASE_SECONDS"] * 2 ** max(tries - 1, 0)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))


def _claim(now: datetime, ids: Iterable[int] | None) -> tuple[int, int] | None:
    """Take the next due message for this worker; (id, attempts so far) or None.

    One UPDATE in a transaction of its own: it moves the message's next attempt
    CLAIM_SECONDS ahead, so no other worker finds it due while this one sends, and
    commits at once, so no lock is held while talking to the SMTP server. On
    PostgreSQL the inner SELECT ... FOR UPDATE SKIP LOCKED lets workers that look at
    the same moment each take a different message instead of queueing on one row
    (and re-checks the row once its lock is free, so a message another worker has
    just claimed is not due any more). SQLite has one writer at a time and renders no
    FOR UPDATE: the single UPDATE statement is atomic by itself.
    """
    candidate = aliased(OutboxMessage)
    due = (
        select(candidate.id)
        .where(
            candidate.status == "pending",
            or_(candidate.next_attempt_at.is_(None), candidate.next_attempt_at <= now),
        )
        .order_by(candidate.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if ids is not None:
        due = due.where(candidate.id.in_(list(ids)))
    row = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == due.scalar_subquery())
        .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        .returning(OutboxMessage.id, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    return (row[0], row[1]) if row else None


def _deliver_claimed(message_id: int, attempts: int, connection: _Connection, now: datetime) -> bool:
    """Send one claimed message and record the outcome; True when the server took it.

    The outcome is committed right after the server's answer. At least once, not exactly
    once: if the process dies (or the database fails) after the server accepted the
    message but before "sent" is committed, the message is still pending under its claim,
    and is sent again once the claim runs out (CLAIM_SECONDS). The window is the time one
    UPDATE and COMMIT take; SMTP offers no way to close it (the recipient gets the same
    Message-ID twice). Never twice because two workers raced: see _claim.
    """
    message = db.session.get(
        OutboxMessage, message_id, options=[selectinload(OutboxMessage.attachments)], populate_existing=True
    )
    try:
        email = _to_email(message)
    except Exception as exc:  # a message that cannot be built fails like one the server refuses
        current_app.logger.exception("outbox message %s cannot be built", message_id)
        db.session.rollback()
        _record_failure(message_id, attempts + 1, _error_text(exc), now)
        return False
    db.session.rollback()  # only read: no transaction stays open while the server talks
    try:
        connection.send(email)
    except SEND_ERRORS as exc:
        _record_failure(message_id, attempts + 1, _error_text(exc), now)
        return False
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status="sent", sent_at=now, attempts=attempts + 1, last_error="", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return True


def _record_failure(message_id: int, tries: int, error: str, now: datetime) -> None:
    """One failed try: kept as an OutboxFailure; the message waits for its next try, or,
    after MAIL_MAX_ATTEMPTS tries, is given up (`failed`)."""
    gave_up = tries >= current_app.config["MAIL_MAX_ATTEMPTS"]
    db.session.add(OutboxFailure(message_id=message_id, attempted_at=now, error=error))
    db.session.execute(
        update(OutboxMessage)
        # Still pending: anonymising the recipient meanwhile marks it failed, and that stays.
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
        .values(
            attempts=tries,
            last_error=error,
            status="failed" if gave_up else "pending",
            next_attempt_at=None if gave_up else now + retry_delay(tries),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_due(
    now: datetime | None = None,
    limit: int = 100,
    ids: Iterable[int] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[int, int]:
    """One pass: send up to `limit` messages that are due; returns (sent, failed).

    Without MAIL_SERVER nothing is sent. `ids` limits the pass to those messages (the
    request hook sends only what its request queued). `now` fixes the clock (tests:
    "an hour later" without waiting). `should_stop` is asked before each message, so a
    worker told to stop finishes the message in hand and no more.
    """
    if not current_app.config.get("MAIL_SERVER"):
        return 0, 0
    ids = None if ids is None else list(ids)
    if ids == []:
        return 0, 0
    sent = failed = 0
    connection = _Connection()
    try:
        while sent + failed < limit and not (should_stop and should_stop()):
            moment = now or now_utc()
            claimed = _claim(moment, ids)
            if claimed is None:
                break
            if _deliver_claimed(*claimed, connection, moment):
                sent += 1
            else:
                failed += 1
    finally:
        connection.close()
    return sent, failed


def work(
    poll_seconds: float,
    max_batch: int,
    should_stop: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
    echo: Callable[[str], None] = print,
) -> None:
    """The worker loop of `flask outbox run`: a pass, then a pause of `poll_seconds`
    (none while a pass fills its batch: more is waiting), until `should_stop()`.

    A pass that fails (e.g. the database is away for a moment) is logged, and the
    worker tries again after the pause rather than dying.
    """
    while not should_stop():
        try:
            sent, failed = deliver_due(limit=max_batch, should_stop=should_stop)
        except Exception:
            current_app.logger.exception("outbox worker: pass failed; trying again in %s s", poll_seconds)
            db.session.rollback()
            sent = failed = 0
        else:
            if sent or failed:
                echo(f"sent {sent}, failed {failed}")
            if sent + failed >= max_batch:
                continue
        if not should_stop():
            sleep(poll_seconds)


# --- Giving up, and trying again -----------------------------------------------------------


class NotRetryable(Exception):
    """The message is not one Dugnad gave up on, or its address can never work."""


def can_retry(message: OutboxMessage) -> bool:
    # `.invalid` never delivers (RFC 2606): it is what anonymising puts in place of an address.
    return message.status == "failed" and not message.to_addr.lower().endswith(".invalid")


def retry(message: OutboxMessage, actor) -> None:
    """An administrator asks for another round of tries of a message Dugnad gave up on.

    The count of tries starts again from 0, so the message gets the full MAIL_MAX_ATTEMPTS
    tries and backoff again (whoever retries has usually fixed something); the earlier
    failures stay listed with the message. In the caller's transaction, audited; the
    update is conditional, so two administrators pressing at once make one retry.
    """
    if not can_retry(message):
        raise NotRetryable
    changed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=None, last_error="")
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise NotRetryable
    # Not the address: the audit trail cannot be anonymised later, the message can.
    audit.record(
        message.municipality_id, actor, "mail_retry", "outbox_message", message.id, details={"attempts": message.attempts}
    )
    db.session.expire(message)
    deliver_after_request(message)


def init_app(app) -> None:
    @app.after_request
    def deliver_after_commit(response):
        # Only after a request that queued mail and succeeded (its data committed), and only
        # its own messages: what waits from before is the worker's, not this user's, to wait for.
        queued = g.pop("mail_queued", None)
        if queued and response.status_code < 400:
            # Messages rolled back with their request have no identity: they do not exist.
            ids = [state.identity[0] for state in map(inspect, queued) if state.has_identity]
            try:
                deliver_due(ids=ids)
            except Exception:  # never let mail delivery break the user's request
                app.logger.exception("mail delivery failed; messages stay pending")
                db.session.rollback()
        return response
