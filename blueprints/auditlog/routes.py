"""The audit log page and its CSV export. Administrators, of their own municipality only."""

from __future__ import annotations

import json

from flask import Response, make_response, render_template, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from dugnad import audit
from dugnad.access import admin_required, scoped
from dugnad.extensions import db
from dugnad.models import User
from dugnad.ui import ACTION_LABELS, STATE_LABELS, is_htmx

from . import bp
from .forms import OBJECT_LABELS, AuditFilterForm

PAGE_SIZE = 50

#: Where an event's object has a page of its own: endpoint and its argument.
OBJECT_PAGES = {
    "agreement": ("agreements.show", "agreement_id"),
    "organization": ("organizations.show", "organization_id"),
    "meeting": ("meetings.show", "meeting_id"),
    "evaluation": ("evaluations.show", "evaluation_id"),
    "contact": ("privacy.contact", "contact_id"),
    "registry_import": ("imports.preview", "import_id"),
}


def _form() -> AuditFilterForm:
    users = db.session.scalars(scoped(User).order_by(User.name, User.id)).all()
    form = AuditFilterForm(request.args, users)
    form.validate()
    return form


def _details_json(event) -> str:
    return json.dumps(event.details or {}, ensure_ascii=False, indent=2, sort_keys=True)


def _context(form: AuditFilterForm) -> dict:
    return {
        "form": form, "page": None, "OBJECT_LABELS": OBJECT_LABELS, "object_url": _object_url,
        "details_json": _details_json,
    }


def _object_url(event) -> str | None:
    page = OBJECT_PAGES.get(event.object_type)
    if page is None or event.object_id <= 0:
        return None
    endpoint, argument = page
    return url_for(endpoint, **{argument: event.object_id})


@bp.route("/")
@admin_required
def index():
    """The municipality's events, newest first, filtered by object, user and dates;
    htmx gets the filters and the table, not the whole page."""
    form = _form()
    context = _context(form)
    status = 200
    # What the address bar shows after an htmx request: the short form of what was asked.
    pushed = request.full_path.rstrip("?")
    if form.errors:
        status = 400
    else:
        municipality_id = current_user.municipality_id
        before = audit.cursor_event(municipality_id, request.args.get("before", ""))
        after = None if before else audit.cursor_event(municipality_id, request.args.get("after", ""))
        page = audit.page(municipality_id, form.audit_filter(), PAGE_SIZE, before=before, after=after)
        args = form.query_args()
        context.update(
            page=page,
            newest_url=url_for("auditlog.index", **args),
            newer_url=url_for("auditlog.index", **args, after=page.events[0].id) if page.has_newer else None,
            older_url=url_for("auditlog.index", **args, before=page.events[-1].id) if page.has_older else None,
            export_url=url_for("auditlog.export_csv", **args),
            paged=before is not None or after is not None,
        )
        cursor = {"before": before.id} if before else {"after": after.id} if after else {}
        pushed = url_for("auditlog.index", **args, **cursor)
    if is_htmx():
        response = make_response(render_template("auditlog/_log.html", **context), status)
        # The address bar gets what was asked for, so the view can be bookmarked or shared.
        response.headers["HX-Push-Url"] = pushed
        return response
    return render_template("auditlog/index.html", **context), status


CSV_COLUMNS = (
    _l("Tidspunkt (Europe/Oslo)"), _l("Bruker eller aktør"), _l("Handling"), _l("Objekt"), _l("Status før"),
    _l("Status etter"), _l("IP-adresse"), _l("Nettleser (user agent)"), _l("Detaljer (JSON)"),
)


@bp.route("/export.csv")
@admin_required
def export_csv():
    """The filtered events as a CSV file, streamed as they are read."""
    form = _form()
    if form.errors:
        return render_template("auditlog/index.html", **_context(form)), 400
    rows = audit.export_csv(
        current_user.municipality_id,
        form.audit_filter(),
        columns=[str(column) for column in CSV_COLUMNS],
        action_labels={key: str(label) for key, label in ACTION_LABELS.items()},
        object_labels={key: str(label) for key, label in OBJECT_LABELS.items()},
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
    )
    return Response(
        stream_with_context(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="hendelseslogg.csv"'},
    )
