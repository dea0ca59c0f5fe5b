from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/organizations/import")

from . import routes  # noqa: E402,F401
