"""The agreement builder (GOV.UK patterns): a task list, one section per page with
"Save and continue", a check-your-answers page, then sending.

With JavaScript every section page also autosaves as the user types (the task
list and a "saved at" line update in place) and shows a live preview of the
document from the same template as the PDF. Without it every step is a plain page.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dugnad import agreements as ops
from dugnad.access import get_scoped_or_404, scoped, staff_required
from dugnad.documents import render_document_html
from dugnad.extensions import db
from dugnad.lifecycle import IllegalTransition
from dugnad.models import ActivityArea, Agreement, Organization
from dugnad.registry import visible_areas
from dugnad.sections import REQUIRED_SECTIONS, SECTIONS_BY_KEY, Status, next_section
from dugnad.ui import is_htmx

from ..actor import current_actor
from . import bp
from .forms import DetailsForm, NewAgreementForm, RecipientsForm, SectionForm, form_class


def _draft_or_redirect(agreement_id: int):
    """The draft, or (None, a redirect to the agreement page) once it is sent."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    if agreement.state != "draft":
        flash(_("Bare utkast kan endres. Avtalen er sendt; se versjonene på avtalesiden."), "error")
        return None, redirect(url_for("agreements.show", agreement_id=agreement.id))
    return agreement, None


def _section_or_404(key: str):
    if key not in SECTIONS_BY_KEY:
        abort(404)
    return SECTIONS_BY_KEY[key]


def _areas_for(agreement: Agreement) -> list[ActivityArea]:
    """The catalogue's visible areas, and any hidden one a row of this draft already uses."""
    areas = list(visible_areas(agreement.municipality_id))
    offered = {area.id for area in areas}
    used = {
        int(row["area_id"])
        for row in agreement.section("activities").data.get("rows", [])
        if str(row.get("area_id", "")).isdigit()
    } - offered
    if used:
        areas += db.session.scalars(
            scoped(ActivityArea).where(ActivityArea.id.in_(used)).order_by(ActivityArea.position)
        ).all()
    return areas


def _task_context(agreement: Agreement) -> dict:
    statuses = {section.key: section.status for section in agreement.sections}
    return {
        "agreement": agreement,
        "statuses": statuses,
        "completed_count": sum(1 for status in statuses.values() if status == Status.COMPLETED),
        "REQUIRED_SECTIONS": REQUIRED_SECTIONS,
    }


# --- Starting an agreement -----------------------------------------------------------------
def _copy_choices() -> list[tuple[str, str]]:
    earlier = db.session.execute(
        scoped(Agreement).with_only_columns(Agreement.id, Agreement.number, Agreement.title)
        .order_by(Agreement.number.desc())
    ).all()
    return [("", _("Velg avtale"))] + [(str(a.id), f"{a.number} {a.title}") for a in earlier]


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def create():
    """Start a draft for an organisation: from the clause library or as a copy."""
    organization_id = request.values.get("organization_id", type=int)
    if organization_id is None:
        if request.method == "POST":
            abort(400)
        return _choose_organization()
    organization = get_scoped_or_404(Organization, organization_id)
    if organization.deleted_at is not None:  # restore it first; no new work on a deleted one
        abort(404)
    if request.method == "GET":
        form = NewAgreementForm(formdata=None, data={"language": "nb", "start_from": "clauses"})
        form.copy_of.choices = _copy_choices()
        return render_template("agreements/new.html", form=form, organization=organization)
    # A post with only the organisation (e.g. from a meeting) starts from the clause library in bokmål.
    formdata = request.form.copy()
    for name, default in (("language", "nb"), ("start_from", "clauses")):
        if not formdata.get(name):
            formdata[name] = default
    form = NewAgreementForm(formdata=formdata)
    form.copy_of.choices = _copy_choices()
    if not form.validate_on_submit():
        return render_template("agreements/new.html", form=form, organization=organization), 400
    copy_of = get_scoped_or_404(Agreement, int(form.copy_of.data)) if form.start_from.data == "copy" else None
    agreement = ops.create_draft(
        organization, current_user, current_actor(),
        title=form.title.data or None, language=form.language.data, copy_of=copy_of,
    )
    db.session.commit()
    flash(_("Avtale %(number)s er opprettet. Gå gjennom avsnittene ett for ett.", number=agreement.number), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement.id))


def _choose_organization():
    """Started from the agreement list: first say which organisation it is with."""
    organizations = db.session.scalars(
        scoped(Organization).where(Organization.deleted_at.is_(None)).order_by(Organization.name)
    ).all()
    return render_template("agreements/choose_organization.html", organizations=organizations)


# --- The task list -------------------------------------------------------------------------
@bp.route("/<int:agreement_id>/edit")
@staff_required
def edit(agreement_id: int):
    """The task list: every section with its status."""
    agreement, refused = _draft_or_redirect(agreement_id)
    if refused:
        return refused
    return render_template("agreements/tasks.html", **_task_context(agreement))


@bp.route("/<int:agreement_id>/details", methods=["GET", "POST"])
@staff_required
def details(agreement_id: int):
    """Title and the document's language."""
    agreement, refused = _draft_or_redirect(agreement_id)
    if refused:
        return refused
    form = DetailsForm(data={"title": agreement.title, "language": agreement.language}) if request.method == "GET" else DetailsForm()
    if form.validate_on_submit():
        ops.save_details(agreement, form.title.data, form.language.data, current_actor())
        db.session.commit()
        flash(_("Tittel og språk er lagret."), "success")
        return redirect(_after_save_url(agreement, None))
    return render_template("agreements/details.html", agreement=agreement, form=form), 400 if form.errors else 200


# --- One section per page ------------------------------------------------------------------
def _section_form(agreement: Agreement, key: str, stored: bool = False) -> SectionForm:
    """The section's form: from the posted data, or (`stored`) from what is saved."""
    cls = form_class(key)
    areas = _areas_for(agreement) if key == "activities" else ()
    if stored:
        saved = agreement.section(key)
        form = cls(formdata=None, data=cls.initial(saved.data, saved.status), areas=areas)
        form.revision.data = str(saved.revision)
        return form
    return cls(areas=areas)


def _render_section(agreement, key, form, status=200, conflict=None, focus_row=False):
    section = SECTIONS_BY_KEY[key]
    if is_htmx() and focus_row is not False:
        return render_template("agreements/_activity_rows.html", form=form, agreement=agreement, focus_row=focus_row)
    content = ops.document_content(agreement)
    return render_template(
        "agreements/section.html",
        section=section,
        form=form,
        preview=render_document_html(content),
        parties=content["parties"],
        conflict=conflict,
        focus_row=focus_row,
        return_to=request.values.get("return_to", ""),
        saved_at=agreement.section(key).updated_at,
        **_task_context(agreement),
    ), status


def _after_save_url(agreement: Agreement, key: str | None) -> str:
    """GOV.UK: a Change link from the check page returns there; otherwise on to the next section."""
    if request.values.get("return_to") == "check":
        return url_for("agreements.check", agreement_id=agreement.id)
    if key is None or request.form.get("then") == "tasks":
        return url_for("agreements.edit", agreement_id=agreement.id)
    following = next_section(key)
    if following is None:
        return url_for("agreements.check", agreement_id=agreement.id)
    return url_for("agreements.section", agreement_id=agreement.id, key=following.key)


def _row_buttons(form: SectionForm):
    """'Add activity' / 'Remove activity N' buttons: the row to focus, None, or False if neither."""
    if not hasattr(form, "add_row"):
        return False
    if "add_row" in request.form:
        return form.add_row()
    remove = request.form.get("remove_row", "")
    if remove:
        if remove.isascii() and remove.isdigit() and len(remove) < 4:  # not "²": int() refuses it
            form.remove_row(int(remove))
        return None
    return False


def _revision(form: SectionForm) -> int | None:
    value = (form.revision.data or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@bp.route("/<int:agreement_id>/sections/<key>", methods=["GET", "POST"])
@staff_required
def section(agreement_id: int, key: str):
    """One section: GET shows it; POST saves it ("Save and continue", or an autosave
    from htmx), or adds/removes an activity row without saving."""
    _section_or_404(key)
    agreement, refused = _draft_or_redirect(agreement_id)
    if refused:
        return refused
    if request.method == "GET":
        return _render_section(agreement, key, _section_form(agreement, key, stored=True))

    form = _section_form(agreement, key)
    focus_row = _row_buttons(form)
    if focus_row is not False:
        return _render_section(agreement, key, form, focus_row=focus_row)

    # Autosaves come from htmx as the user types, or as a beacon when the page is left.
    autosave = request.form.get("autosave") == "1"
    # "Save and go to the overview" may leave the completion question for later.
    if not form.validate_for_save(require_choice=not autosave and request.form.get("then") != "tasks",
                                  check_complete=not autosave):
        if autosave:
            return render_template("agreements/_save_status.html", form=form, agreement=agreement, key=key, failed=True), 422
        return _render_section(agreement, key, form, status=400)
    try:
        saved = ops.save_section(
            agreement, key, form.to_data(),
            revision=_revision(form),
            complete=form.wants_complete() if not autosave else form.is_complete(),
            explicit=not autosave,
            user=current_user, actor=current_actor(),
        )
    except ops.SectionConflict as conflict:
        db.session.rollback()
        return _conflict(agreement, key, form, conflict.section, autosave)
    except IllegalTransition:
        db.session.rollback()
        return _draft_or_redirect(agreement_id)[1]
    db.session.commit()
    if autosave:
        return render_template(
            "agreements/_save_status.html", form=form, key=key, failed=False,
            saved=saved, **_task_context(agreement),
        )
    flash(_("«%(title)s» er lagret.", title=SECTIONS_BY_KEY[key].title), "success")
    return redirect(_after_save_url(agreement, key))


def _conflict(agreement: Agreement, key: str, form: SectionForm, theirs, autosave: bool):
    """Someone else saved this section meanwhile: keep both. The form keeps what this
    user typed, with the other save's revision, so saving again deliberately replaces it."""
    form.revision.data = str(theirs.revision)
    if autosave:
        return render_template(
            "agreements/_save_status.html", form=form, agreement=agreement, key=key, failed=True, conflict=theirs
        ), 409
    return _render_section(agreement, key, form, status=409, conflict=theirs)


@bp.route("/<int:agreement_id>/sections/<key>/preview", methods=["POST"])
@staff_required
def preview_section(agreement_id: int, key: str):
    """The whole document with this section as typed (not saved): the live preview.
    A field that does not pass its format rule shows its last saved value."""
    _section_or_404(key)
    agreement = get_scoped_or_404(Agreement, agreement_id)
    if agreement.state != "draft":
        abort(409)
    form = _section_form(agreement, key)
    overrides = {}
    if form.validate():
        overrides[key] = form.to_data()
    return render_template(
        "agreements/_preview.html",
        preview=render_document_html(ops.document_content(agreement, overrides)),
        stale=not overrides,
    )


@bp.route("/<int:agreement_id>/preview")
@staff_required
def preview(agreement_id: int):
    """The whole draft as it will be printed (also the preview without JavaScript)."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    return render_template(
        "agreements/preview.html",
        agreement=agreement,
        preview=render_document_html(ops.document_content(agreement)),
    )


# --- Check your answers, then send ---------------------------------------------------------
def _check_page(agreement: Agreement, form: RecipientsForm | None = None, missing=(), status=200, no_address=False):
    return render_template(
        "agreements/check.html",
        form=form or RecipientsForm.on_page(agreement.organization),
        missing=missing,
        no_address=no_address,
        content=ops.document_content(agreement),
        **_task_context(agreement),
    ), status


@bp.route("/<int:agreement_id>/check")
@staff_required
def check(agreement_id: int):
    """Every section with a Change link, then who gets it and "Send to the organisation"."""
    agreement, refused = _draft_or_redirect(agreement_id)
    if refused:
        return refused
    return _check_page(agreement)


@bp.route("/<int:agreement_id>/send", methods=["POST"])
@staff_required
def send(agreement_id: int):
    """Freeze the draft as a version and email each chosen recipient a link of their own."""
    agreement, refused = _draft_or_redirect(agreement_id)
    if refused:
        return refused
    form = RecipientsForm(agreement.organization)
    recipients = None
    if form.was_asked:
        if not form.offered:
            return _check_page(agreement, form, status=400, no_address=True)
        if not form.validate():
            return _check_page(agreement, form, missing=ops.missing_sections(agreement), status=400)
        recipients = form.addresses()
    shown = form if form.was_asked else None  # a post without the question gets the page's own
    try:
        ops.send(agreement, current_actor(), recipients)
    except ops.Incomplete as incomplete:
        db.session.rollback()
        return _check_page(agreement, shown, missing=incomplete.missing, status=400)
    except ops.CannotSend:
        db.session.rollback()
        return _check_page(agreement, shown, status=400, no_address=True)
    db.session.commit()
    flash(_("Avtalen er sendt til %(org)s.", org=agreement.organization.name), "success")
    return redirect(url_for("agreements.show", agreement_id=agreement.id))
