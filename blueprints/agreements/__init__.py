from flask import Blueprint

bp = Blueprint("agreements", __name__, url_prefix="/agreements")

from . import after, archive, builder, routes, versions  # noqa: E402,F401
