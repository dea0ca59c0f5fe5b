from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from dugnad.access import scoped
from dugnad.extensions import db
from dugnad.models import Agreement, Invitation, Meeting, Organization

from . import bp

#: States in which the organisation's answer waits for the municipality.
ANSWERED_STATES = ("accepted", "declined", "changes_requested")


@bp.route("/")
def index():
    """The start page: what needs the user, by role."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == "operator":
        return redirect(url_for("admin.municipalities"))
    counts = {
        "organizations": db.session.scalar(
            scoped(Organization)
            .where(Organization.deleted_at.is_(None))  # deleted ones have left the registry
            .with_only_columns(func.count(Organization.id))
        ),
        "meetings": db.session.scalar(scoped(Meeting).with_only_columns(func.count(Meeting.id))),
    }
    by_state = dict(
        db.session.execute(
            scoped(Agreement)
            .with_only_columns(Agreement.state, func.count(Agreement.id))
            .group_by(Agreement.state)
        ).all()
    )
    to_countersign = db.session.scalars(
        scoped(Agreement).where(Agreement.state == "accepted").order_by(Agreement.updated_at)
    ).all()
    # Every answer from an organisation, until someone acts on it: the owner's own first.
    # Administrators find the accepted ones in the list above, ready to countersign.
    answer_states = ("declined", "changes_requested") if current_user.is_admin else ANSWERED_STATES
    answered = db.session.scalars(
        scoped(Agreement)
        .options(joinedload(Agreement.organization))
        .where(Agreement.state.in_(answer_states))
        .order_by((Agreement.owner_id == current_user.id).desc(), Agreement.updated_at.desc())
    ).all()
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
        by_state=by_state,
        to_countersign=to_countersign,
        answered=answered,
        recent_answers=recent_answers,
    )
