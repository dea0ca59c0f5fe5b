from flask import Blueprint

bp = Blueprint("mailbox", __name__, url_prefix="/mailbox")

from . import routes  # noqa: E402,F401
