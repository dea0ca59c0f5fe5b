"""Who may see what: roles on every route, the tenant on every query."""

from __future__ import annotations

from functools import wraps
from typing import TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from .extensions import db

M = TypeVar("M")

STAFF_ROLES = ("staff", "admin")

#: The largest value an id column holds (PostgreSQL's INTEGER); a larger id in a
#: URL cannot name a row, and SQLite would fail on it rather than find nothing.
MAX_ID = 2**31 - 1


def roles_required(*roles: str):
    """Log in first; then 403 unless the user has one of `roles`."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = roles_required(*STAFF_ROLES)
admin_required = roles_required("admin")
operator_required = roles_required("operator")


def scoped(model: type[M]) -> Select:
    """`select(model)` limited to the logged-in user's municipality."""
    return select(model).where(model.municipality_id == current_user.municipality_id)


def get_scoped_or_404(model: type[M], object_id: int, *options) -> M:
    """The object if it belongs to the user's municipality; 404 otherwise.

    Another municipality's object is indistinguishable from a missing one.
    `options` are loader options, e.g. selectinload(...) for what the page shows.
    """
    if not 0 < object_id <= MAX_ID:
        abort(404)
    obj = db.session.scalar(scoped(model).where(model.id == object_id).options(*options))
    if obj is None:
        abort(404)
    return obj
