from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dugnad import accounts
from dugnad.access import admin_required, operator_required, scoped
from dugnad.extensions import db
from dugnad.models import Municipality, User

from ..actor import current_actor
from . import bp
from .forms import MunicipalityForm, UserForm


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
