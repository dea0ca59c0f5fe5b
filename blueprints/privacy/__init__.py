"""Personal data of contact persons (access, erasure, retention) and the public privacy
notice and accessibility statement."""

from flask import Blueprint

bp = Blueprint("privacy", __name__)

from . import routes  # noqa: E402,F401
