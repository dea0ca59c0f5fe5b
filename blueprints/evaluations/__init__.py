"""The evaluation of active agreements: the organisation's form behind an emailed link
(under /r/, like the other pages for people without an account) and the staff pages."""

from flask import Blueprint

bp = Blueprint("evaluations", __name__)

from . import routes  # noqa: E402,F401
