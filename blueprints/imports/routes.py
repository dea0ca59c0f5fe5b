from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dugnad import importer
from dugnad.access import STAFF_ROLES, get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.models import AuditEvent, RegistryImport
from dugnad.ui import is_htmx

from ..actor import current_actor
from ..errors import MESSAGES as ERROR_MESSAGES
from ..errors import _page as error_page
from . import bp
from .forms import UploadForm

#: Rows shown per table in the preview; the counts above them are always complete.
PREVIEW_ROWS = 200


@bp.url_value_preprocessor
def allow_large_upload(endpoint, values):
    """The upload may be a national register file, far above the app's 2 MB limit.

    Set here, not in the view: this hook runs before CSRFProtect's before_request,
    which is the first to read the form (and so to enforce the limit).
    """
    if endpoint == "imports.upload":
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]


@bp.errorhandler(413)
def too_large(error):
    """Too large a file: the upload page again, with the limit named next to the field.
    The size is refused before the view checks the role: anyone else gets the plain page."""
    if not current_user.is_authenticated or current_user.role not in STAFF_ROLES:
        return error_page(413, *ERROR_MESSAGES[413])
    form = UploadForm(formdata=None)
    form.file.errors = [
        _("Filen er for stor. Største tillatte størrelse er %(size)s MB. Pakk den med gzip (.gz) eller del den opp.",
          size=_megabytes())
    ]
    return _upload_page(form), 413


def _megabytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"] // (1024 * 1024)


def _upload_page(form):
    return render_template("imports/upload.html", form=form, max_megabytes=_megabytes())


@bp.route("/", methods=["GET", "POST"])
@staff_required
def upload():
    """Upload a register file; it is read and kept for a preview, nothing is imported yet."""
    form = UploadForm(kommunenummer=current_user.municipality.kommunenummer)
    if form.validate_on_submit():
        registry_import = importer.create_import(
            current_user.municipality_id, current_user.id, form.file.data.filename, form.result
        )
        db.session.commit()
        url = url_for("imports.preview", import_id=registry_import.id)
        if is_htmx():
            # htmx would follow a redirect inside its request; this makes the browser go there.
            return "", 204, {"HX-Redirect": url}
        return redirect(url)
    return _upload_page(form), 400 if form.errors else 200


def _preview_page(registry_import: RegistryImport, status: int = 200, problem: str = ""):
    plan = None if registry_import.applied_at else importer.plan_import(registry_import)
    summary = None
    if registry_import.applied_at:
        summary = db.session.scalar(
            scoped(AuditEvent).where(
                AuditEvent.object_type == "registry_import",
                AuditEvent.object_id == registry_import.id,
                AuditEvent.action == "import",
            )
        )
    return render_template(
        "imports/preview.html",
        registry_import=registry_import,
        plan=plan,
        summary=summary.details if summary else None,
        problem=problem,
        limit=PREVIEW_ROWS,
        REASON_LABELS=importer.REASON_LABELS,
        FIELD_LABELS=importer.FIELD_LABELS,
        FORMAT_LABELS=importer.FORMAT_LABELS,
    ), status


@bp.route("/<int:import_id>")
@staff_required
def preview(import_id: int):
    """What importing the file would do: rows to add, to update (with each change), and rejected."""
    return _preview_page(get_scoped_or_404(RegistryImport, import_id))


@bp.route("/<int:import_id>/apply", methods=["POST"])
@staff_required
def apply(import_id: int):
    """Import every accepted row of the file, in one transaction."""
    registry_import = get_scoped_or_404(RegistryImport, import_id)
    try:
        summary = importer.apply_import(registry_import, current_actor())
        db.session.commit()
    except importer.ImportAlreadyApplied:
        db.session.rollback()
        return _preview_page(
            db.session.get(RegistryImport, import_id), 409,
            _("Denne filen er allerede importert. Ingenting ble importert en gang til."),
        )
    except importer.ImportFailed:
        db.session.rollback()
        return _preview_page(
            db.session.get(RegistryImport, import_id), 409,
            _("Registeret ble endret mens importen pågikk, så ingenting ble lagret. Se over forhåndsvisningen og prøv igjen."),
        )
    flash(
        _("Importert fra %(file)s: %(added)d lagt til, %(updated)d oppdatert, %(unchanged)d uendret, %(rejected)d avvist eller hoppet over.",
          file=registry_import.filename, added=summary.added, updated=summary.updated,
          unchanged=summary.unchanged, rejected=summary.rejected),
        "success",
    )
    return redirect(url_for("organizations.index"))

