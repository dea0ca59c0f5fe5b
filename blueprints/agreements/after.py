"""After signing: agreements about to expire, terminating a signed agreement, renewing one."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import Form, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from dugnad import agreements as ops
from dugnad.access import admin_required, get_scoped_or_404, staff_required
from dugnad.extensions import db
from dugnad.lifecycle import IllegalTransition
from dugnad.models import Agreement

from ..actor import current_actor
from ..formtools import StrippedMeta
from . import bp
from .forms import _parse_date
from .routes import _panel

DAYS_DEFAULT = 60
DAYS_MAX = 365


class ExpiringForm(Form):
    """The list's one filter, read from the query string."""

    class Meta(StrippedMeta):
        pass

    days = StringField(_l("Utløper innen antall dager"), description=_l("Et helt tall fra 1 til %(max)d.", max=DAYS_MAX))

    def validate_days(self, field):
        value = field.data or ""
        # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
        if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= DAYS_MAX:
            raise ValidationError(_l("Skriv et helt antall dager fra 1 til %(max)d.", max=DAYS_MAX))


@bp.route("/expiring")
@staff_required
def expiring():
    """Signed agreements whose last day is within the chosen number of days."""
    form = ExpiringForm(request.args if "days" in request.args else None, data={"days": str(DAYS_DEFAULT)})
    if not form.validate():
        return render_template("agreements/expiring.html", form=form, agreements=[], days=None, today=None), 400
    days = int(form.days.data)
    today = ops.today_oslo()
    agreements = ops.expiring(current_user.municipality_id, days, today)
    return render_template("agreements/expiring.html", form=form, agreements=agreements, days=days, today=today)


class TerminateForm(FlaskForm):
    class Meta(StrippedMeta):
        pass

    ends_on = StringField(
        _l("Siste dag avtalen gjelder"),
        description=_l("Dato, for eksempel 31.12.2027."),
    )
    reason = TextAreaField(
        _l("Begrunnelse for oppsigelsen"),
        description=_l("Sendes til organisasjonen og lagres i historikken. Høyst %(max)s tegn.", max="2 000"),
        validators=[
            DataRequired(_l("Skriv hvorfor avtalen sies opp.")),
            Length(max=ops.REASON_MAX, message=_l("Begrunnelsen kan ha høyst %(max)s tegn.", max="2 000")),
        ],
    )

    def __init__(self, *args, agreement: Agreement, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement

    def validate_ends_on(self, field):
        if not field.data:
            raise ValidationError(_l("Skriv datoen som er siste dag avtalen gjelder."))
        ends_on = _parse_date(field)
        if ends_on is None:
            raise ValidationError(_l("Skriv en gyldig dato, for eksempel 31.12.2027."))
        valid_from, valid_to = self.agreement.valid_from, self.agreement.valid_to
        if valid_from is not None and ends_on < valid_from:
            raise ValidationError(
                _l("Datoen kan ikke være før avtalen begynte å gjelde (%(date)s).", date=valid_from.strftime("%d.%m.%Y"))
            )
        if valid_to is not None and ends_on > valid_to:
            raise ValidationError(
                _l("Datoen kan ikke være etter avtalens siste dag (%(date)s).", date=valid_to.strftime("%d.%m.%Y"))
            )
        field.parsed = ends_on


def _suggested_end(agreement: Agreement, notice: int | None):
    """Today plus the notice period, within the agreement's period: what the form suggests."""
    if notice is None:
        return None
    end = ops.add_months(ops.today_oslo(), notice)
    if agreement.valid_to is not None and end > agreement.valid_to:
        end = agreement.valid_to
    if agreement.valid_from is not None and end < agreement.valid_from:
        end = agreement.valid_from
    return end


@bp.route("/<int:agreement_id>/terminate", methods=["GET", "POST"])
@admin_required
def terminate(agreement_id: int):
    """End a signed agreement early (after a confirmation page): binding on the
    municipality, so administrators only."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    if agreement.state != "signed":
        # Checked before the form: a second post after terminating is told so, not about its fields.
        raise IllegalTransition(agreement.state, "terminate")
    notice = ops.notice_months(agreement)
    suggested = _suggested_end(agreement, notice)
    if request.method == "GET":
        form = TerminateForm(
            formdata=None, agreement=agreement, data={"ends_on": suggested.strftime("%d.%m.%Y") if suggested else ""}
        )
        status = 200
    else:
        form = TerminateForm(agreement=agreement)
        if form.validate_on_submit():
            ops.terminate(agreement, form.ends_on.parsed, form.reason.data, current_actor())
            db.session.commit()
            flash(_("Avtalen er sagt opp. Organisasjonen og avtalens eier har fått e-post."), "success")
            return redirect(url_for("agreements.show", agreement_id=agreement.id))
        status = 400
    return render_template(
        "agreements/terminate.html", agreement=agreement, form=form, notice=notice, suggested=suggested
    ), status


@bp.route("/<int:agreement_id>/renew", methods=["POST"])
@staff_required
def renew(agreement_id: int):
    """A new draft copied from a signed or terminated agreement."""
    agreement = get_scoped_or_404(Agreement, agreement_id)
    try:
        draft = ops.renew(agreement, current_user, current_actor())
    except ops.CannotRenew:
        db.session.rollback()
        flash(_("Organisasjonen er slettet fra registeret. Gjenopprett den før du fornyer avtalen."), "error")
        return _panel(agreement, status=409)
    db.session.commit()
    flash(
        _(
            "Avtale %(number)s er laget som et nytt utkast med teksten fra avtale %(old)s. Gå gjennom avsnittene, og husk å endre perioden avtalen gjelder for.",
            number=draft.number, old=agreement.number,
        ),
        "success",
    )
    return redirect(url_for("agreements.edit", agreement_id=draft.id))
