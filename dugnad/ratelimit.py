"""Rate limits per client address on the routes anyone can reach without an account.

Flask-Limiter counts requests per IP address in RATELIMIT_STORAGE_URI (memory by default;
a shared store such as Redis makes every app server count together). The limits:

- logging in, asking for a password reset and changing one's password (POST): RATELIMIT_LOGIN;
- every emailed link (`/r/...`, invitations and reset links): RATELIMIT_LINKS, together;
- the one-time codes on review links (asking for one, typing one): RATELIMIT_CODES, together;
- checking a PDF on the verify page (POST; each check validates a signature): RATELIMIT_VERIFY.

One Limiter per app, made here, not one module-level object: Flask-Limiter keeps whether it
is enabled and its storage on the Limiter itself, so one object shared by several apps in a
process (the tests make many, some with limits off) would let the last app decide for all.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

#: Endpoints by limit (config key), each group counted together per address.
LOGIN_ENDPOINTS = ("auth.login", "auth.forgot_password", "auth.change_password")
CODE_ENDPOINTS = ("respond.agreement_code_send", "respond.agreement_code")
VERIFY_ENDPOINTS = ("verify.index",)
ACCOUNT_LINK_ENDPOINTS = ("auth.accept_invite", "auth.reset_password")
LINK_PREFIX = "/r/"

#: Only posts count where a page is read first and the form is what costs (or guesses).
POST_ONLY = {"RATELIMIT_LOGIN", "RATELIMIT_VERIFY"}


def limit_for(endpoint: str, rule: str) -> str | None:
    """The config key of the limit on a route, or None when it has none."""
    if endpoint in LOGIN_ENDPOINTS:
        return "RATELIMIT_LOGIN"
    if endpoint in CODE_ENDPOINTS:
        return "RATELIMIT_CODES"
    if endpoint in VERIFY_ENDPOINTS:
        return "RATELIMIT_VERIFY"
    if endpoint in ACCOUNT_LINK_ENDPOINTS or rule.startswith(LINK_PREFIX):
        return "RATELIMIT_LINKS"
    return None


def init_app(app: Flask) -> Limiter | None:
    """Limit the app's routes (after its blueprints are registered); nothing when
    RATELIMIT_ENABLED is off."""
    if not app.config.get("RATELIMIT_ENABLED", True):
        return None
    limiter = Limiter(get_remote_address)
    limiter.init_app(app)  # reads RATELIMIT_STORAGE_URI and the other RATELIMIT_* settings
    decorators = {}
    for key in ("RATELIMIT_LOGIN", "RATELIMIT_LINKS", "RATELIMIT_CODES", "RATELIMIT_VERIFY"):
        decorators[key] = limiter.shared_limit(
            app.config[key], scope=key.removeprefix("RATELIMIT_").lower(),
            methods=["POST"] if key in POST_ONLY else None,
        )
    limited = {}
    for rule in app.url_map.iter_rules():
        key = limit_for(rule.endpoint, rule.rule)
        if key and rule.endpoint not in limited:
            limited[rule.endpoint] = key
            app.view_functions[rule.endpoint] = decorators[key](app.view_functions[rule.endpoint])
    app.extensions["dugnad_rate_limits"] = limited
    return limiter
