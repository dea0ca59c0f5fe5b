"""Email: messages go to the outbox with the change that causes them.

`queue()` renders a plain-text and an HTML body from `templates/mail/<name>.txt`
and `.html` and adds an OutboxMessage to the current transaction, so a message
exists exactly when its cause was committed. `deliver_pending()` sends what is
pending over SMTP when MAIL_SERVER is configured; without it, administrators read
the outbox on the Mailbox page.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, g, render_template
from flask_babel import force_locale
from sqlalchemy import select

from .extensions import db
from .models import OutboxAttachment, OutboxMessage
from .timeutil import now_utc


def queue(
    municipality_id: int,
    to_addr: str,
    subject,
    template: str,
    locale: str = "nb",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    **context,
) -> OutboxMessage:
    """Add a message to the outbox; `subject` may be a lazy string.

    `attachments` are (filename, content type, bytes), e.g. a calendar invitation.

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
    # Lets the request hook below deliver right after the commit.
    g.mail_queued = True
    return message


def _to_email(message: OutboxMessage) -> EmailMessage:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.to_addr
    email["Subject"] = message.subject
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


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def deliver_pending(limit: int = 100) -> tuple[int, int]:
    """Send pending messages; returns (sent, failed). A failure stays pending."""
    if not current_app.config.get("MAIL_SERVER"):
        return 0, 0
    pending = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    if not pending:
        return 0, 0
    sent = failed = 0
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        for message in pending:
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        return 0, len(pending)
    with smtp:
        for message in pending:
            message.attempts += 1
            try:
                smtp.send_message(_to_email(message))
            except (OSError, smtplib.SMTPException) as exc:
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                failed += 1
            else:
                message.status = "sent"
                message.sent_at = now_utc()
                message.last_error = ""
                sent += 1
            # Commit per message, so a crash never sends one twice on the next run.
            db.session.commit()
    return sent, failed


def init_app(app) -> None:
    @app.after_request
    def deliver_after_commit(response):
        # Only after a request that queued mail and succeeded (its data committed).
        if g.get("mail_queued") and response.status_code < 400:
            try:
                deliver_pending()
            except Exception:  # never let mail delivery break the user's request
                app.logger.exception("mail delivery failed; messages stay pending")
                db.session.rollback()
        return response
