from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from blueprints.actor import current_actor
from dugnad import mail
from dugnad.access import admin_required, get_scoped_or_404, scoped
from dugnad.extensions import db
from dugnad.models import OutboxMessage

from . import bp


@bp.route("/")
@admin_required
def index():
    """The outbox: every message Dugnad has written, newest first; those it gave up on first
    of all, however old, since they need someone."""
    messages = db.session.scalars(scoped(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    given_up = db.session.scalars(
        scoped(OutboxMessage).where(OutboxMessage.status == "failed").order_by(OutboxMessage.id.desc()).limit(200)
    ).all()
    return render_template(
        "mailbox/index.html",
        messages=messages,
        given_up=given_up,
        delivering=bool(current_app.config["MAIL_SERVER"]),
        can_retry=mail.can_retry,
    )


@bp.route("/<int:message_id>")
@admin_required
def show(message_id: int):
    """One message, readable, with its links clickable, and its failed tries."""
    message = get_scoped_or_404(OutboxMessage, message_id, selectinload(OutboxMessage.failures))
    return render_template(
        "mailbox/show.html",
        message=message,
        can_retry=mail.can_retry(message),
        delivering=bool(current_app.config["MAIL_SERVER"]),
    )


@bp.route("/<int:message_id>/retry", methods=["POST"])
@admin_required
def retry(message_id: int):
    """Try again a message Dugnad gave up on (sent right after this request when it can be)."""
    message = get_scoped_or_404(OutboxMessage, message_id)
    try:
        mail.retry(message, current_actor())
    except mail.NotRetryable:
        db.session.rollback()
        flash(_("Denne meldingen kan ikke prøves på nytt."), "warning")
        return redirect(url_for("mailbox.show", message_id=message_id))
    db.session.commit()
    flash(_("Meldingen sendes på nytt."), "success")
    return redirect(url_for("mailbox.show", message_id=message_id))


@bp.route("/<int:message_id>/attachment")
@admin_required
def attachment(message_id: int):
    """One attachment of a message (e.g. the calendar invitation), as it is sent: `?n=` is its position."""
    message = get_scoped_or_404(OutboxMessage, message_id)
    position = request.args.get("n", 0, type=int)
    if not 0 <= position < len(message.attachments):
        abort(404)
    attachment = message.attachments[position]
    return Response(
        attachment.data,
        mimetype=attachment.content_type.split(";", 1)[0],
        headers={
            "Content-Disposition": f'attachment; filename="{attachment.filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
