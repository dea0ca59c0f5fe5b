"""Pages reached through emailed links, for people without an account."""

from flask import Blueprint

bp = Blueprint("respond", __name__, url_prefix="/r")

from . import routes  # noqa: E402,F401
