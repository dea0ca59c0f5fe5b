"""Who is acting in this request, for the audit trail."""

from flask import request
from flask_login import current_user

from dugnad.lifecycle import Actor


def _client() -> tuple[str, str]:
    return request.remote_addr or "", request.headers.get("User-Agent", "")[:400]


def current_actor() -> Actor:
    ip, user_agent = _client()
    return Actor(label=current_user.name, user_id=current_user.id, ip=ip, user_agent=user_agent)


def link_actor(label: str) -> Actor:
    """Someone following an emailed link, named by what they typed or the organisation."""
    ip, user_agent = _client()
    return Actor(label=label, ip=ip, user_agent=user_agent)
