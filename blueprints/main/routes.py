from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from dugnad import overview
from dugnad.access import scoped, staff_required
from dugnad.extensions import db
from dugnad.models import Invitation, Meeting, Organization

from . import bp


@bp.route("/")
def index():
    """The start page: what needs the user, where every organisation stands, and which
    activity areas the agreements in force cover."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == "operator":
        return redirect(url_for("admin.municipalities"))
    municipality_id = current_user.municipality_id
    counts = {
        "organizations": db.session.scalar(
            scoped(Organization)
            .where(Organization.deleted_at.is_(None))  # deleted ones have left the registry
            .with_only_columns(func.count(Organization.id))
        ),
        "meetings": db.session.scalar(scoped(Meeting).with_only_columns(func.count(Meeting.id))),
    }
    recent_answers = db.session.scalars(
        scoped(Invitation)
        .options(joinedload(Invitation.meeting), joinedload(Invitation.organization))
        .where(Invitation.answered_at.is_not(None))
        .order_by(Invitation.answered_at.desc())
        .limit(10)
    ).all()
    return render_template(
        "main/index.html",
        counts=counts,
        needs=overview.needs_me(municipality_id, current_user),
        pipeline=overview.pipeline(municipality_id),
        coverage=overview.coverage(municipality_id),
        recent_answers=recent_answers,
    )


@bp.route("/overview/pipeline")
@staff_required
def pipeline():
    """The pipeline chart alone, for htmx to refresh in place after actions and now and then."""
    return render_template("main/_pipeline.html", pipeline=overview.pipeline(current_user.municipality_id))
