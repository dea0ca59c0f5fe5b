"""Security headers on every kind of response (public, logged in, htmx fragment, PDF, error
page, static file), HSTS only over HTTPS (also behind a trusted proxy), and pages a strict
Content-Security-Policy can run: no inline script, style, event handler or javascript: URL,
in any template a browser gets as a page, nor in any page rendered."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.routing import IntegerConverter
from world import URL_WORDS, SharedWorlds

from app import create_app

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
#: Not pages: rendered by WeasyPrint into PDFs (pdf/), or sent as email (mail/).
NOT_SERVED = ("pdf", "mail")
POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(directive.strip().split(" ", 1) for directive in header.split(";"))


def assert_secure_headers(response, pdf: bool = False) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # plain HTTP here
    if pdf:
        # Chrome's PDF viewer would be blocked by the page policy; a PDF runs no script.
        assert "Content-Security-Policy" not in headers
        return
    policy = _policy(response)
    assert policy == POLICY, policy
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "unsafe-eval" not in headers["Content-Security-Policy"]


@pytest.fixture(scope="module")
def shared(database_url):
    worlds = SharedWorlds(database_url, ("Eikvik",))
    yield worlds
    worlds.close()


# --- Headers on a sample of each kind of response -------------------------------------------


def test_public_pages(shared):
    world = shared.get()["Eikvik"]
    anonymous = shared.client(None)
    for url in ("/login", "/verify", "/personvern", "/tilgjengelighet", world.review_link, world.invitation_link):
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response)


def test_logged_in_pages(shared):
    world = shared.get()["Eikvik"]
    admin = shared.client(world.admin)
    for url in ("/", "/organizations/", f"/agreements/{world.agreements['signed']}", f"/meetings/{world.meeting_id}", "/reports/council"):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response)
    operator = shared.client(world.operator)
    response = operator.get("/admin/municipalities")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_htmx_fragments(shared):
    world = shared.get()["Eikvik"]
    admin = shared.client(world.admin)
    for url in ("/organizations/?q=Frivillig", "/overview/pipeline", f"/meetings/{world.meeting_id}/tally"):
        response = admin.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200, url
        assert "<html" not in response.get_data(as_text=True)  # a fragment, not a page
        assert_secure_headers(response)


def test_pdfs_and_downloads(shared):
    world = shared.get()["Eikvik"]
    admin = shared.client(world.admin)
    for url in (f"/agreements/{world.agreements['signed']}/signed.pdf", "/reports/council.pdf"):
        response = admin.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf", url
        assert_secure_headers(response, pdf=True)
    response = admin.get("/reports/council.csv")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_error_pages(shared):
    world = shared.get()["Eikvik"]
    staff = shared.client(world.staff)
    for url, status in (("/finnes-ikke", 404), ("/admin/users", 403), ("/agreements/999999", 404)):
        response = staff.get(url)
        assert response.status_code == status, url
        assert_secure_headers(response)
    response = staff.post("/organizations/new", data={"name": "Uten token"}, csrf=False)
    assert response.status_code == 400
    assert_secure_headers(response)
    # An error answered to htmx (swapped in place of <main>) carries them too.
    response = staff.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert_secure_headers(response)


def test_static_files(client):
    for url in ("/static/css/app.css", "/static/js/app.js", "/static/vendor/htmx.min.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response)
        response.close()


def test_session_cookie_is_http_only_and_same_site(client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- HTTPS and the reverse proxy --------------------------------------------------------------


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_forwarded_headers_are_ignored_unless_a_proxy_is_trusted(client):
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_behind_a_trusted_proxy_https_and_the_client_address_come_from_it(database_url):
    app = create_app({"SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": database_url, "TRUSTED_PROXIES": 1})
    seen = {}

    @app.get("/_probe")
    def probe():
        from flask import request

        seen.update(secure=request.is_secure, remote=request.remote_addr, host=request.host)
        return ""

    response = app.test_client().get(
        "/_probe",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "dugnad.kommune.no"},
    )
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert seen == {"secure": True, "remote": "203.0.113.7", "host": "dugnad.kommune.no"}


# --- Nothing inline ---------------------------------------------------------------------------


class InlineCode(HTMLParser):
    """Collects what a strict CSP blocks: inline <script>/<style>, style="" and on*=""
    attributes, hx-on (htmx would eval it), and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.found.append(f'<{tag} style="{value}">')
            elif name.startswith("on") or name.startswith(("hx-on", "data-hx-on")):
                self.found.append(f"<{tag} {name}>")
            elif name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")


def inline_code(page: str) -> list[str]:
    parser = InlineCode()
    parser.feed(page)
    return parser.found


def test_the_finder_finds_what_it_should():
    page = '<p style="color:red" onclick="x()"><script>1</script><style>p{}</style><a href="javascript:x()" hx-on:click="y">'
    assert len(inline_code(page)) == 6
    assert inline_code('<script src="/static/js/app.js" defer></script><p class="x" data-on="1">') == []


SERVED_TEMPLATES = sorted(
    path for path in TEMPLATES.rglob("*.html") if path.relative_to(TEMPLATES).parts[0] not in NOT_SERVED
)
# Jinja tags in attribute values would confuse the HTML parser; they are blanked first.
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)


@pytest.mark.parametrize("path", SERVED_TEMPLATES, ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_no_inline_code_in_templates_served_as_pages(path):
    source = JINJA.sub("x", path.read_text(encoding="utf-8"))
    assert inline_code(source) == []


def _pages(world) -> list[tuple[str, str]]:
    """(who, url) for every GET route of the app, with real objects of the world."""
    app = create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    links = {
        "evaluations.respond": world.evaluation_link,
        "respond.invitation": world.invitation_link,
        "respond.agreement": world.review_link,
        "respond.agreement_done": world.review_link + "/done",
    }
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint.endswith("_pdf"):
            continue
        if rule.endpoint in links:
            pages.append(("anonymous", links[rule.endpoint]))
            continue
        values = dict(URL_WORDS)
        for arg, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                values[arg] = 1 if arg == "number" else world.id_for(arg, rule.endpoint)
            elif arg not in values:
                values[arg] = "ukjent"  # e.g. another emailed link's token: its error page
        url = rule.build(values, append_unknown=False)[1]
        who = "operator" if rule.endpoint == "admin.municipalities" else "admin"
        pages.append((who, url))
    return pages


def test_no_page_has_inline_code(shared):
    """Every page and fragment as rendered (templates, macros and Python together)."""
    world = shared.get()["Eikvik"]
    checked = 0
    for who, url in _pages(world):
        client = shared.client(None if who == "anonymous" else getattr(world, who))
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        assert_secure_headers(response)
        assert inline_code(response.get_data(as_text=True)) == [], f"{who} GET {url}"
        checked += 1
    assert checked > 50


def test_meeting_preview_allows_exactly_the_emails_own_styles(shared):
    """The email preview (<iframe srcdoc>, which inherits the page's policy) may use the
    inline styles of the email it shows, and only those; other pages allow no style="" at all."""
    world = shared.get()["Eikvik"]
    admin = shared.client(world.admin)
    response = admin.get(f"/meetings/{world.meeting_id}/invite/preview?organizations={world.other_organization_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    email = html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    styles = set(re.findall(r'style="([^"]*)"', email))
    assert styles  # the email does carry inline styles
    expected = {
        "'sha256-" + base64.b64encode(hashlib.sha256(html.unescape(style).encode()).digest()).decode() + "'" for style in styles
    }
    policy = _policy(response)
    assert set(policy.pop("style-src").split()) == {"'self'", "'unsafe-hashes'", *expected}
    assert policy == POLICY
    assert "style-src" not in _policy(admin.get(f"/meetings/{world.meeting_id}"))


def test_htmx_is_configured_for_the_policy(client):
    page = client.get("/login").get_data(as_text=True)
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page).group(1)
    for setting in ('"includeIndicatorStyles": false', '"allowEval": false', '"selfRequestsOnly": true', '"allowScriptTags": false'):
        assert setting in config

