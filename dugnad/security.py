"""HTTP security headers on every response, and what production mode demands at start-up.

The Content-Security-Policy allows only Dugnad's own files: no inline scripts, styles,
event handlers or eval anywhere (htmx is configured for that in base.html). An XSS that
slips into a page therefore cannot run, and a page cannot be framed (clickjacking).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re

from flask import Flask, Response, g, request
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix

#: The policy of every page. data: images are for Designsystemet's icons, which its CSS
#: embeds as data: SVGs (chevrons, checkmarks, alert icons).
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
#: A year; sent only over HTTPS (browsers ignore it over plain HTTP, and a development
#: server on http://127.0.0.1 must not be pinned to HTTPS).
HSTS = "max-age=31536000"

#: Values of SECRET_KEY and SEAL_KEY that production mode refuses: the ones tutorials,
#: examples and this project's tests use.
KNOWN_DEFAULTS = {
    "", "changeme", "change-me", "change_me", "secret", "secret-key", "secret_key", "dev", "development",
    "test", "test-secret", "testing", "default", "dugnad", "password", "passord", "please-change-me",
}
#: The shortest secret production mode accepts (`secrets.token_hex(32)` gives 64).
MIN_SECRET_LENGTH = 32


class ProductionConfigError(SystemExit):
    """Production mode refuses to start; the message says what to set."""


def init_app(app: Flask) -> None:
    trusted = int(app.config.get("TRUSTED_PROXIES") or 0)
    if trusted > 0:
        # Behind a TLS reverse proxy the app sees plain HTTP from the proxy; trust its
        # X-Forwarded-* headers (only from that many hops) so request.is_secure, url_for
        # (_external) and request.remote_addr are the client's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_port=trusted)
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_allow_style_attributes"] = allow_style_attributes


def _policy(style_hashes: set[str]) -> str:
    directives = dict(CSP_DIRECTIVES)
    if style_hashes:
        # Only style="" attributes with exactly these contents (see allow_style_attributes).
        directives["style-src"] = "'self' 'unsafe-hashes' " + " ".join(sorted(style_hashes))
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _security_headers(response: Response) -> Response:
    headers = response.headers
    if response.mimetype != "application/pdf":
        # Chrome's PDF viewer draws an inline PDF in a page of its own that the PDF's CSP
        # would govern (an <embed>, inline styles), so a PDF gets none; it runs no script.
        headers.setdefault("Content-Security-Policy", _policy(g.get("csp_style_hashes", set())))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # Not no-referrer: over HTTPS Flask-WTF's CSRF check wants the same-origin Referer.
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


_STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def allow_style_attributes(document: str) -> Markup:
    """Lets this page's CSP accept the style="" attributes found in `document`, and no others.

    For an email shown as it will be sent (an <iframe srcdoc> inherits the page's policy,
    and email must carry its styles inline). Called from a template; renders nothing."""
    hashes = g.setdefault("csp_style_hashes", set())
    for match in _STYLE_ATTRIBUTE.finditer(document):
        value = match.group(1) if match.group(1) is not None else match.group(2)
        # The browser hashes the value after decoding its character references.
        digest = hashlib.sha256(html.unescape(value).encode("utf-8")).digest()
        hashes.add(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return Markup("")


# --- Production mode ----------------------------------------------------------------------


ENVIRONMENTS = ("development", "production")


def is_production(app: Flask) -> bool:
    """DUGNAD_ENV is "production"; a value that is neither mode is refused rather than taken
    for development (DUGNAD_ENV=prod must not quietly start without production's checks)."""
    value = str(app.config.get("DUGNAD_ENV") or "development").strip().lower()
    if value not in ENVIRONMENTS:
        raise ProductionConfigError(f"DUGNAD_ENV is {value!r}; it must be 'development' or 'production'.")
    return value == "production"


def _weak(secret) -> bool:
    if isinstance(secret, bytes):
        secret = secret.decode("utf-8", "replace")
    secret = (secret or "").strip()
    return secret.lower() in KNOWN_DEFAULTS or len(secret) < MIN_SECRET_LENGTH


def check_production(app: Flask) -> None:
    """Raises ProductionConfigError naming every setting production mode is missing.

    SECRET_KEY signs sessions and CSRF tokens; SEAL_KEY protects the password of each
    municipality's seal certificate (see dugnad.seal). Neither may be a made-up one:
    in development Dugnad makes SECRET_KEY itself, under instance/, and SEAL_KEY
    defaults to it; in production both must come from the environment, differ, and be
    long random strings, the same on every app server."""
    problems = []
    secret_key = app.config.get("SECRET_KEY")
    if not secret_key:
        problems.append("SECRET_KEY is not set.")
    elif _weak(secret_key):
        problems.append(f"SECRET_KEY is a default or shorter than {MIN_SECRET_LENGTH} characters.")
    seal_key = app.config.get("SEAL_KEY")
    if not seal_key:
        problems.append("SEAL_KEY (the key that protects the seal certificate's password) is not set.")
    elif _weak(seal_key):
        problems.append(f"SEAL_KEY is a default or shorter than {MIN_SECRET_LENGTH} characters.")
    elif seal_key == secret_key:
        problems.append("SEAL_KEY must differ from SECRET_KEY.")
    if problems:
        raise ProductionConfigError(
            "Dugnad will not start in production mode (DUGNAD_ENV=production):\n  "
            + "\n  ".join(problems)
            + '\nMake each with: python3 -c "import secrets; print(secrets.token_hex(32))"'
            + "\nSee README, Production."
        )
