"""The public check of a signed agreement: is this PDF one Dugnad issued, unchanged?"""

from flask import Blueprint

bp = Blueprint("verify", __name__, url_prefix="/verify")

from . import routes  # noqa: E402,F401
