from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from dugnad.access import get_scoped_or_404, scoped, staff_required
from dugnad.extensions import db
from dugnad.models import Agreement, Invitation, Organization
from dugnad.registry import RegistryFilter, registry_query, save_organization
from dugnad.ui import is_htmx

from ..actor import current_actor
from . import bp
from .forms import OrganizationForm

PAGE_SIZE = 50


def search_organizations(query: str):
    statement = registry_query(current_user.municipality_id, RegistryFilter(q=query))
    # Contacts are loaded with the page (one query), not once per row.
    statement = statement.options(selectinload(Organization.contacts))
    return db.session.scalars(statement.limit(PAGE_SIZE)).all()


@bp.route("/")
@staff_required
def index():
    """The registry, with a live search (htmx gets just the rows)."""
    query = request.args.get("q", "").strip()[:100]
    organizations = search_organizations(query)
    if is_htmx():
        return render_template("organizations/_rows.html", organizations=organizations, query=query)
    return render_template("organizations/index.html", organizations=organizations, query=query)


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new():
    """Register an organisation."""
    form = OrganizationForm()
    if form.validate_on_submit():
        organization = Organization(municipality_id=current_user.municipality_id)
        save_organization(organization, form.organization_fields(), form.contact_fields(), current_actor())
        db.session.commit()
        flash(_("%(name)s er registrert.", name=organization.name), "success")
        return redirect(url_for("organizations.show", organization_id=organization.id))
    return render_template("organizations/form.html", form=form, organization=None), 400 if form.errors else 200


@bp.route("/<int:organization_id>")
@staff_required
def show(organization_id: int):
    """One organisation: its details, invitations and agreements."""
    organization = get_scoped_or_404(Organization, organization_id)
    invitations = db.session.scalars(
        scoped(Invitation).where(Invitation.organization_id == organization.id).order_by(Invitation.id.desc())
    ).all()
    agreements = db.session.scalars(
        scoped(Agreement).where(Agreement.organization_id == organization.id).order_by(Agreement.id.desc())
    ).all()
    return render_template(
        "organizations/show.html", organization=organization, invitations=invitations, agreements=agreements
    )


@bp.route("/<int:organization_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(organization_id: int):
    """Change an organisation's details and its primary contact."""
    organization = get_scoped_or_404(Organization, organization_id)
    form = OrganizationForm(obj=organization, editing_id=organization.id)
    if request.method == "GET" and organization.primary_contact:
        contact = organization.primary_contact
        form.contact_name.data = contact.name
        form.contact_role.data = contact.role
        form.contact_email.data = contact.email
        form.contact_phone.data = contact.phone
    if form.validate_on_submit():
        save_organization(organization, form.organization_fields(), form.contact_fields(), current_actor())
        db.session.commit()
        flash(_("Endringene er lagret."), "success")
        return redirect(url_for("organizations.show", organization_id=organization.id))
    return render_template("organizations/form.html", form=form, organization=organization), 400 if form.errors else 200
