"""The audit log: what happened in the municipality, by whom and when (administrators)."""

from flask import Blueprint

bp = Blueprint("auditlog", __name__, url_prefix="/audit")

from . import routes  # noqa: E402,F401
