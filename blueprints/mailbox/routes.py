from flask import Response, abort, current_app, render_template, request

from dugnad.access import admin_required, get_scoped_or_404, scoped
from dugnad.extensions import db
from dugnad.models import OutboxMessage

from . import bp


@bp.route("/")
@admin_required
def index():
    """The outbox: every message Dugnad has written, newest first."""
    messages = db.session.scalars(scoped(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    return render_template(
        "mailbox/index.html", messages=messages, delivering=bool(current_app.config["MAIL_SERVER"])
    )


@bp.route("/<int:message_id>")
@admin_required
def show(message_id: int):
    """One message, readable, with its links clickable."""
    message = get_scoped_or_404(OutboxMessage, message_id)
    return render_template("mailbox/show.html", message=message)


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
