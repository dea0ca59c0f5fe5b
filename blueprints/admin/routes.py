from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dugnad import accounts, catalogue
from dugnad.access import admin_required, get_scoped_or_404, operator_required, scoped
from dugnad.extensions import db
from dugnad.models import ActivityArea, Municipality, User

from ..actor import current_actor
from . import bp
from .forms import DUPLICATE_AREA, ActivityAreaForm, MunicipalityForm, UserForm


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """The municipality's users; administrators add staff and administrators."""
    form = UserForm()
    if form.validate_on_submit():
        user = accounts.create_user(
            current_user.municipality_id,
            form.email.data,
            form.name.data,
            form.role.data,
            form.password.data,
            title=form.title.data or "",
            actor=current_actor(),
        )
        db.session.commit()
        flash(_("%(name)s er lagt til.", name=user.name), "success")
        return redirect(url_for("admin.users"))
    people = db.session.scalars(scoped(User).order_by(User.name)).all()
    return render_template("admin/users.html", users=people, form=form), 400 if form.errors else 200


@bp.route("/municipalities", methods=["GET", "POST"])
@operator_required
def municipalities():
    """The installation's municipalities; operators add new ones."""
    form = MunicipalityForm()
    if form.validate_on_submit():
        municipality = accounts.create_municipality(
            form.name.data.strip(), form.kommunenummer.data, form.org_number.data, form.address.data or ""
        )
        db.session.commit()
        flash(_("%(name)s er opprettet.", name=municipality.name), "success")
        return redirect(url_for("admin.municipalities"))
    rows = db.session.scalars(select(Municipality).order_by(Municipality.name)).all()
    return render_template("admin/municipalities.html", municipalities=rows, form=form), 400 if form.errors else 200


def _catalogue_page(add_form: ActivityAreaForm, rename_form: ActivityAreaForm | None = None, status: int = 200):
    return render_template(
        "admin/activities.html",
        areas=catalogue.areas(current_user.municipality_id),
        add_form=add_form,
        rename_form=rename_form,
        NAME_MAX=catalogue.NAME_MAX,
    ), status


@bp.route("/activities", methods=["GET", "POST"])
@admin_required
def activities():
    """The municipality's activity catalogue; administrators add entries here."""
    form = ActivityAreaForm(prefix="new", municipality_id=current_user.municipality_id)
    if form.validate_on_submit():
        try:
            area = catalogue.add_area(current_user.municipality_id, form.name.data, current_actor())
            db.session.commit()
        except IntegrityError:
            # Another administrator added the same name in the same instant.
            db.session.rollback()
            form.name.errors.append(DUPLICATE_AREA)
            return _catalogue_page(form, status=400)
        flash(_("%(name)s er lagt til.", name=area.name), "success")
        return redirect(url_for("admin.activities"))
    return _catalogue_page(form, status=400 if form.errors else 200)


@bp.route("/activities/<int:area_id>", methods=["POST"])
@admin_required
def activity(area_id: int):
    """Rename, hide, show or move one entry of the catalogue."""
    area = get_scoped_or_404(ActivityArea, area_id)
    action = request.form.get("action", "")
    actor = current_actor()
    if action == "rename":
        form = ActivityAreaForm(prefix=f"area-{area.id}", municipality_id=area.municipality_id, area_id=area.id)
        if not form.validate_on_submit():
            add_form = ActivityAreaForm(prefix="new", municipality_id=current_user.municipality_id, formdata=None)
            return _catalogue_page(add_form, rename_form=form, status=400)
        catalogue.rename_area(area, form.name.data, actor)
        message = _("Navnet er endret til %(name)s.", name=area.name)
    elif action in ("hide", "show"):
        catalogue.set_hidden(area, action == "hide", actor)
        message = (
            _("%(name)s er skjult: det tilbys ikke lenger, men blir stående der det er valgt.", name=area.name)
            if area.hidden
            else _("%(name)s vises igjen.", name=area.name)
        )
    elif action in ("up", "down"):
        catalogue.move_area(area, -1 if action == "up" else 1, actor)
        message = _("Rekkefølgen er endret.")
    else:
        abort(400)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.activities", _anchor=f"area-{area.id}"))
