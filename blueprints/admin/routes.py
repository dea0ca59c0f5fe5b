from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dugnad import accounts, catalogue, clauses, review_codes, seal
from dugnad.access import admin_required, get_scoped_or_404, operator_required, scoped
from dugnad.extensions import db
from dugnad.models import ActivityArea, Clause, Municipality, User
from dugnad.sections import DEFAULT_CLAUSES, SECTIONS, SECTIONS_BY_KEY

from ..actor import current_actor
from ..errors import MESSAGES as ERROR_MESSAGES
from ..errors import _page as error_page
from . import bp
from .forms import (
    DUPLICATE_AREA,
    SEAL_TOO_LARGE,
    ActivityAreaForm,
    ClauseForm,
    InviteForm,
    MunicipalityForm,
    ReviewLinksForm,
    SealForm,
)


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """The municipality's users; administrators invite staff and administrators by email."""
    form = InviteForm()
    if form.validate_on_submit():
        user = accounts.invite_user(
            current_user.municipality_id,
            form.email.data,
            form.name.data,
            form.role.data,
            current_actor(),
            title=form.title.data or "",
        )
        db.session.commit()
        flash(_("%(name)s er invitert. Invitasjonen er sendt til %(email)s.", name=user.name, email=user.email), "success")
        return redirect(url_for("admin.users"))
    people = db.session.scalars(scoped(User).order_by(User.name)).all()
    return render_template(
        "admin/users.html", users=people, form=form, has_password=accounts.has_password
    ), 400 if form.errors else 200


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@admin_required
def reinvite(user_id: int):
    """A new invitation link for someone who has not chosen a password yet."""
    user = get_scoped_or_404(User, user_id)
    if accounts.has_password(user) or not user.active:
        flash(_("%(name)s har allerede laget passord. Glemt passord kan de be om selv på innloggingssiden.", name=user.name), "info")
        return redirect(url_for("admin.users"))
    accounts.resend_invitation(user, current_actor())
    db.session.commit()
    flash(_("Ny invitasjon er sendt til %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.users"))


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


def _last_change(changed: dict[tuple[str, str], Clause], key: str) -> Clause | None:
    """The municipality's latest change to a section, in either language (None: built-in wording)."""
    rows = [changed[(key, language)] for language in ("nb", "nn") if (key, language) in changed]
    return max(rows, key=lambda clause: clause.updated_at, default=None)


@bp.route("/clauses", endpoint="clauses")
@admin_required
def clause_library():
    """The wording each section of a new agreement starts with, in this municipality."""
    municipality_id = current_user.municipality_id
    texts = clauses.library(municipality_id)
    changed = clauses.customised(municipality_id)
    entries = [
        {"section": section, "text": texts[(section.key, "nb")], "change": _last_change(changed, section.key)}
        for section in SECTIONS
    ]
    return render_template("admin/clauses.html", entries=entries)


@bp.route("/clauses/<key>", methods=["GET", "POST"], endpoint="clause")
@admin_required
def edit_clause(key: str):
    """Edit one section's wording in bokmål and nynorsk, or go back to Dugnad's own (after confirming)."""
    section = SECTIONS_BY_KEY.get(key)
    if section is None:
        abort(404)
    municipality_id = current_user.municipality_id
    back = url_for("admin.clauses", _anchor=f"clause-{key}")
    action = request.form.get("action", "save") if request.method == "POST" else None
    if action not in (None, "save", "reset"):
        abort(400)
    if action == "reset":
        if request.form.get("confirm") != "1":
            # The confirmation is a page of its own, so it works without JavaScript.
            return redirect(url_for("admin.clause", key=key, reset=1))
        clauses.reset(municipality_id, key, current_actor())
        db.session.commit()
        flash(_("«%(title)s» bruker Dugnads standardtekst igjen.", title=section.title), "success")
        return redirect(back)

    texts = clauses.library(municipality_id)
    # The current wording fills the form, and stands for a language a post leaves out.
    form = ClauseForm(nb=texts[(key, "nb")], nn=texts[(key, "nn")])
    if form.validate_on_submit():
        try:
            _save_clause(municipality_id, key, form)
        except IntegrityError:
            # Another administrator saved the same section in the same instant; their row
            # exists now, and saving again updates it (the later save wins, as it would anyway).
            db.session.rollback()
            _save_clause(municipality_id, key, form)
        flash(_("Standardtekstene for «%(title)s» er lagret.", title=section.title), "success")
        return redirect(back)
    return render_template(
        "admin/clause.html",
        section=section,
        form=form,
        change=_last_change(clauses.customised(municipality_id), key),
        confirm_reset=request.method == "GET" and request.args.get("reset") == "1",
        defaults=DEFAULT_CLAUSES[key],
    ), 400 if form.errors else 200


def _save_clause(municipality_id: int, key: str, form: ClauseForm) -> None:
    actor = current_actor()
    for language in ("nb", "nn"):
        clauses.save(municipality_id, key, language, form[language].data or "", current_user.id, actor)
    db.session.commit()


#: The seal page's request limit: the certificate's own, with room for the form around it.
SEAL_REQUEST_MAX_BYTES = seal.MAX_PKCS12_BYTES + 64 * 1024


@bp.url_value_preprocessor
def limit_seal_upload(endpoint, values):
    """A seal certificate is small: a larger post is refused before it is read (413).

    Set here, not in the view: this hook runs before CSRFProtect's before_request,
    which is the first to read the form (and so to enforce the limit)."""
    if endpoint == "admin.seal":
        request.max_content_length = SEAL_REQUEST_MAX_BYTES


@bp.errorhandler(413)
def too_large(error):
    """Too large a certificate: the seal page again, the limit named next to the field.
    The size is refused before the view checks the role: anyone else gets the plain page."""
    if request.endpoint != "admin.seal" or not current_user.is_authenticated or not current_user.is_admin:
        return error_page(413, *ERROR_MESSAGES[413])
    form = SealForm(formdata=None)
    form.file.errors = [SEAL_TOO_LARGE]
    return _seal_page(form), 413


def _seal_page(form: SealForm):
    return render_template(
        "admin/seal.html", form=form, certificate=seal.current(current_user.municipality_id),
        max_kb=seal.MAX_PKCS12_BYTES // 1024,
    )


@bp.route("/seal", methods=["GET", "POST"], endpoint="seal")
@admin_required
def seal_certificate():
    """The certificate signed agreements are sealed with; administrators upload their own."""
    municipality_id = current_user.municipality_id
    form = SealForm()
    if form.validate_on_submit():
        try:
            record = seal.upload(municipality_id, form.content, form.password.data or "", current_user.id, current_actor())
        except seal.CertificateProblem as problem:
            db.session.rollback()
            form[problem.field].errors.append(problem.message)
        else:
            db.session.commit()
            flash(_("Segl-sertifikatet er byttet. Nye signerte avtaler forsegles med %(subject)s.", subject=record.subject), "success")
            return redirect(url_for("admin.seal"))
    return _seal_page(form), 400 if form.errors else 200


@bp.route("/review-links", methods=["GET", "POST"], endpoint="review_links")
@admin_required
def review_links():
    """Whether the organisation must type a one-time code, emailed to the address the
    link went to, before a review link opens (a forwarded link alone then opens nothing)."""
    municipality = db.session.get(Municipality, current_user.municipality_id)
    form = ReviewLinksForm(review_code_required=municipality.review_code_required)
    if form.validate_on_submit():
        review_codes.set_required(municipality, form.review_code_required.data, current_actor())
        db.session.commit()
        flash(_("Lagret"), "success")
        return redirect(url_for("admin.review_links"))
    return render_template(
        "admin/review_links.html", form=form, municipality=municipality,
        minutes=review_codes.minutes(), attempts=review_codes.max_attempts(),
    ), 400 if form.errors else 200
