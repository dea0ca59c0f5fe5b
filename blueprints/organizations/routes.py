import math

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import selectinload

from dugnad.access import get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.models import ActivityArea, Agreement, Invitation, Organization
from dugnad.paging import requested_page
from dugnad.registry import (
    DeleteRefused,
    RegistryFilter,
    delete_blocker,
    delete_organization,
    registry_query,
    restore_organization,
    save_organization,
    stage_of,
    stages_of,
)
from dugnad.ui import is_htmx

from ..actor import current_actor
from . import bp
from .forms import NOTES_MAX, OrganizationForm

PAGE_SIZE = 25

#: The sort orders offered in the list, default first.
SORT_CHOICES = ("name", "-name", "-created")


def _canonical_args(f: RegistryFilter, page: int = 1) -> dict:
    """The query string for a filter, default values left out (short, bookmarkable URLs)."""
    args = {
        "q": f.q,
        "type": f.org_type,
        "area": f.activity_area_id or "",
        "stage": f.stage,
        "sort": "" if f.sort == "name" else f.sort,
        "page": page if page > 1 else "",
    }
    return {key: value for key, value in args.items() if value}


def _count(statement):
    return statement.with_only_columns(func.count(Organization.id)).order_by(None)


def _page(statement, page: int) -> tuple[list[Organization], int]:
    """One page of organisations and how many match in all, in one query (a window count);
    contacts and activity areas follow in one query each, not one per row."""
    result = db.session.execute(
        statement.add_columns(func.count().over().label("total"))
        .options(selectinload(Organization.contacts), selectinload(Organization.activity_areas))
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return [row[0] for row in result], (result[0].total if result else 0)


@bp.route("/")
@staff_required
def index():
    """The registry: search, filters, sorting and pages; htmx gets just the rows."""
    areas = db.session.scalars(
        scoped(ActivityArea).where(ActivityArea.hidden.is_(False)).order_by(ActivityArea.position, ActivityArea.id)
    ).all()
    registry_filter = RegistryFilter.from_query(request.args, areas)
    statement = registry_query(current_user.municipality_id, registry_filter)
    page = requested_page(request.args.get("page"))
    organizations, total = _page(statement, page)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if not organizations and page > 1:
        # Past the end (an old bookmark): show the last page.
        page = pages = max(1, math.ceil(db.session.scalar(_count(statement)) / PAGE_SIZE))
        organizations, total = _page(statement, page)
    rows = list(zip(organizations, stages_of(organizations), strict=True))
    context = {
        "rows": rows,
        "filter": registry_filter,
        "areas": areas,
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1 if rows else 0,
        "last": (page - 1) * PAGE_SIZE + len(rows),
        "page_url": lambda n: url_for("organizations.index", **_canonical_args(registry_filter, n)),
        "sort_choices": SORT_CHOICES,
    }
    if is_htmx():
        response = make_response(render_template("organizations/_rows.html", **context))
        # The browser's address bar gets the short form of what was asked.
        response.headers["HX-Push-Url"] = context["page_url"](page)
        return response
    return render_template("organizations/index.html", **context)


def _contact_rows_changed(form: OrganizationForm) -> int | None | bool:
    """Handle the 'add contact' and 'remove contact' buttons; False when neither was pressed.

    Returns the index of the row to focus (the new one), or None.
    """
    if "add_contact" in request.form:
        return form.add_contact_row()
    remove = request.form.get("remove_contact", "")
    if remove:
        if remove.isdigit() and len(remove) < 4:
            form.remove_contact_row(int(remove))
        return None
    return False


def _render_form(form: OrganizationForm, organization: Organization | None, focus_row=False, status: int = 200):
    """The form page; after adding or removing a contact row (focus_row not False) with
    JavaScript on, only the contacts fieldset, which htmx swaps in place."""
    if is_htmx() and focus_row is not False:
        return render_template("organizations/_contacts.html", form=form, focus_row=focus_row)
    page = render_template(
        "organizations/form.html", form=form, organization=organization, focus_row=focus_row, NOTES_MAX=NOTES_MAX
    )
    return page, status


def _save(form: OrganizationForm, organization: Organization) -> None:
    save_organization(
        organization,
        form.organization_fields(),
        form.contact_list(),
        current_actor(),
        activity_area_ids=form.activity_areas.data or [],
    )
    db.session.commit()


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new():
    """Register an organisation."""
    form = OrganizationForm()
    if form.is_submitted():
        changed = _contact_rows_changed(form)
        if changed is not False:
            return _render_form(form, None, focus_row=changed)
    if form.validate_on_submit():
        organization = Organization(municipality_id=current_user.municipality_id)
        _save(form, organization)
        flash(_("%(name)s er registrert.", name=organization.name), "success")
        return redirect(url_for("organizations.show", organization_id=organization.id))
    return _render_form(form, None, status=400 if form.errors else 200)


def _organization(organization_id: int) -> Organization:
    return get_scoped_or_404(
        Organization,
        organization_id,
        selectinload(Organization.contacts),
        selectinload(Organization.activity_areas),
    )


@bp.route("/<int:organization_id>")
@staff_required
def show(organization_id: int):
    """One organisation: its details, stage, invitations and agreements."""
    organization = _organization(organization_id)
    invitations = db.session.scalars(
        scoped(Invitation)
        .where(Invitation.organization_id == organization.id)
        .options(selectinload(Invitation.meeting))
        .order_by(Invitation.id.desc())
    ).all()
    agreements = db.session.scalars(
        scoped(Agreement).where(Agreement.organization_id == organization.id).order_by(Agreement.id.desc())
    ).all()
    return render_template(
        "organizations/show.html",
        organization=organization,
        stage=stage_of(organization),
        invitations=invitations,
        agreements=agreements,
    )


@bp.route("/<int:organization_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(organization_id: int):
    """Change an organisation's details, contacts and activity areas."""
    organization = _organization(organization_id)
    if organization.deleted_at is not None:
        abort(404)
    form = OrganizationForm(obj=organization, editing_id=organization.id, linked_areas=organization.activity_areas)
    if not form.is_submitted():
        form.activity_areas.data = [area.id for area in organization.activity_areas]
    else:
        changed = _contact_rows_changed(form)
        if changed is not False:
            return _render_form(form, organization, focus_row=changed)
    if form.validate_on_submit():
        _save(form, organization)
        flash(_("Endringene er lagret."), "success")
        return redirect(url_for("organizations.show", organization_id=organization.id))
    return _render_form(form, organization, status=400 if form.errors else 200)


@bp.route("/<int:organization_id>/delete", methods=["GET", "POST"])
@staff_required
def delete(organization_id: int):
    """Ask first (GET), then delete (POST): the organisation leaves the registry, its history stays."""
    organization = _organization(organization_id)
    if organization.deleted_at is not None:
        return redirect(url_for("organizations.show", organization_id=organization.id))
    if request.method == "POST":
        try:
            delete_organization(organization, current_actor())
        except DeleteRefused:
            db.session.rollback()
        else:
            db.session.commit()
            flash(
                {
                    "text": _("%(name)s er slettet.", name=organization.name),
                    "action": url_for("organizations.restore", organization_id=organization.id),
                    "label": _("Angre"),
                },
                "undo",
            )
            return redirect(url_for("organizations.index"))
    blocker = delete_blocker(organization)
    status = 409 if blocker is not None and request.method == "POST" else 200
    return render_template("organizations/delete.html", organization=organization, blocker=blocker), status


@bp.route("/<int:organization_id>/restore", methods=["POST"])
@staff_required
def restore(organization_id: int):
    """Undo a deletion."""
    organization = _organization(organization_id)
    restore_organization(organization, current_actor())
    db.session.commit()
    flash(_("%(name)s er tilbake i registeret.", name=organization.name), "success")
    return redirect(url_for("organizations.show", organization_id=organization.id))
