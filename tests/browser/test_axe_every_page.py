"""axe-core on every HTML page of the app, in bokmål and in English: no WCAG 2.1 A/AA violation.

The pages come from the app's url_map, with real ids from a world built through the
app (tests/world.py): staff pages as the municipality's administrator (the operators'
page as an operator), the public pages as an anonymous visitor. A GET route missing
from PAGES fails the test; a route that answers with a file or a fragment is skipped
there with its reason. The language is chosen as a person does it: the language
form in the page header (kept on the user's account, or in the visitor's session).
"""

from __future__ import annotations

import re

import pytest
from builder_pages import log_in
from helpers import PASSWORD, outbox
from playwright.sync_api import expect
from werkzeug.routing import IntegerConverter
from world import URL_WORDS, build_world

from app import create_app
from dugnad.extensions import db
from dugnad.models import User

GET_RULES = [
    rule
    for rule in create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"}).url_map.iter_rules()
    if "GET" in rule.methods
]

ADMIN, OPERATOR, ANONYMOUS = "admin", "operator", None

#: Every GET route: who opens it, or why it is not an HTML page to check (a str).
PAGES: dict[str, str | None] = {
    "main.index": ADMIN,
    "main.pipeline": "htmx fragment of the start page (checked there)",
    "organizations.index": ADMIN,
    "organizations.new": ADMIN,
    "organizations.show": ADMIN,
    "organizations.edit": ADMIN,
    "organizations.delete": ADMIN,
    "imports.upload": ADMIN,
    "imports.preview": ADMIN,
    "meetings.index": ADMIN,
    "meetings.new": ADMIN,
    "meetings.show": ADMIN,
    "meetings.tally": "htmx fragment of the meeting page (checked there)",
    "meetings.edit": ADMIN,
    "meetings.cancel": ADMIN,
    "meetings.choose": ADMIN,
    "meetings.choose_count": "htmx fragment of the invite page (checked there)",
    "meetings.preview": ADMIN,
    "meetings.participants_csv": "CSV file",
    "meetings.attendance_pdf": "PDF file",
    "mailbox.index": ADMIN,
    "mailbox.show": ADMIN,
    "mailbox.attachment": "the attachment file (.ics)",
    "agreements.index": ADMIN,
    "agreements.create": ADMIN,
    "agreements.show": ADMIN,
    "agreements.edit": ADMIN,
    "agreements.details": ADMIN,
    "agreements.section": ADMIN,
    "agreements.preview": ADMIN,
    "agreements.check": ADMIN,
    "agreements.withdraw": ADMIN,
    "agreements.signed_pdf": "PDF file",
    "agreements.print_view": ADMIN,
    "agreements.case_reference": ADMIN,
    "agreements.batch": ADMIN,
    "agreements.version": ADMIN,
    "agreements.compare": ADMIN,
    "agreements.expiring": ADMIN,
    "agreements.terminate": ADMIN,
    "reports.council": ADMIN,
    "reports.council_pdf": "PDF file",
    "reports.council_csv": "CSV file",
    "reports.council_xlsx": "spreadsheet file",
    "evaluations.index": ADMIN,
    "evaluations.show": ADMIN,
    "admin.users": ADMIN,
    "admin.activities": ADMIN,
    "admin.clauses": ADMIN,
    "admin.clause": ADMIN,
    "admin.seal": ADMIN,
    "admin.review_links": ADMIN,
    "admin.municipalities": OPERATOR,
    "privacy.contact": ADMIN,
    "privacy.contact_export": "JSON file",
    "privacy.anonymise": ADMIN,
    "privacy.settings": ADMIN,
    "auth.login": ANONYMOUS,
    "auth.forgot_password": ANONYMOUS,
    "auth.accept_invite": ANONYMOUS,
    "auth.reset_password": ANONYMOUS,
    "auth.change_password": ADMIN,
    "auditlog.index": ADMIN,
    "auditlog.export_csv": "CSV file",
    "verify.index": ANONYMOUS,
    "privacy.notice": ANONYMOUS,
    "privacy.accessibility": ANONYMOUS,
    "respond.invitation": ANONYMOUS,
    "respond.agreement": ANONYMOUS,
    "respond.agreement_done": ANONYMOUS,
    "respond.agreement_version_pdf": "PDF file",
    "respond.agreement_signed_pdf": "PDF file",
    "evaluations.respond": ANONYMOUS,
    "static": "static files",
}


def test_every_get_route_is_in_pages():
    endpoints = {rule.endpoint for rule in GET_RULES}
    assert endpoints - PAGES.keys() == set(), "GET routes not in PAGES in tests/browser/test_axe_every_page.py: add them"
    assert PAGES.keys() - endpoints == set(), "PAGES names routes that no longer exist"


def _token(link: str) -> str:
    return re.search(r"/r/[a-z]+/([^/?]+)", link).group(1)


def _account_tokens(app, world) -> dict[str, str]:
    """The tokens of the account pages: the world's invited user's invitation, and a
    password reset the staff member asks for now."""
    with app.app_context():
        invited = db.session.get(User, world.invited_user_id).email
    assert app.test_client().post("/account/forgot", data={"email": world.staff}).status_code in (200, 302)
    token = re.compile(r"/account/(?:invite|reset)/([A-Za-z0-9_\-]+)")
    return {
        "auth.accept_invite": token.search(outbox(app, to=invited)[-1].body_text).group(1),
        "auth.reset_password": token.search(outbox(app, to=world.staff)[-1].body_text).group(1),
    }


def _url(rule, world, account_tokens: dict[str, str]) -> str:
    values = dict(URL_WORDS)
    for arg, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[arg] = 1 if arg == "number" else world.id_for(arg, rule.endpoint)
        elif rule.endpoint in account_tokens:
            values[arg] = account_tokens[rule.endpoint]
        elif arg == "token":
            link = {
                "respond.invitation": world.invitation_link,
                "evaluations.respond": world.evaluation_link,
                # The agreement that was accepted: its link shows the "done" page.
                "respond.agreement_done": world.review_link,
            }.get(rule.endpoint, world.review_link)
            values[arg] = _token(link)
    return rule.build(values, append_unknown=False)[1]


def _choose_language(page, lang: str) -> None:
    """The header's language form, as a person uses it (the page reloads in the language)."""
    page.locator("#lang-select").select_option(lang)
    page.locator("#lang-select").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["nb", "en"])
def test_every_page_is_accessible(app, factory, live_server, new_context, lang):
    from conftest import axe_violations

    world = build_world(app, factory, "Axevik")
    account_tokens = _account_tokens(app, world)
    # axe is injected as a script of the test's own: the app's Content-Security-Policy refuses it.
    pages = {who: new_context(bypass_csp=True).new_page() for who in (ADMIN, OPERATOR, ANONYMOUS)}
    log_in(pages[ADMIN], world.admin)
    pages[OPERATOR].goto("/login")
    pages[OPERATOR].get_by_label("E-postadresse").fill(world.operator)
    pages[OPERATOR].get_by_label("Passord").fill(PASSWORD)
    pages[OPERATOR].get_by_role("button", name="Logg inn").click()
    expect(pages[OPERATOR].get_by_role("heading", level=1)).to_be_visible()
    pages[ANONYMOUS].goto("/login")
    for page in pages.values():
        if lang != "nb":
            _choose_language(page, lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)

    found = []
    checked = 0
    for rule in sorted(GET_RULES, key=lambda rule: rule.rule):
        who = PAGES.get(rule.endpoint, "not in PAGES: test_every_get_route_is_in_pages fails")
        if who not in pages:  # a file or a fragment: its reason is in PAGES
            continue
        page = pages[who]
        url = _url(rule, world, account_tokens)
        response = page.goto(url)
        assert response.status < 400, f"{url} -> {response.status}"
        assert "text/html" in response.headers.get("content-type", ""), f"{url} is not HTML: say why in PAGES"
        assert page.locator("html").get_attribute("lang") == lang, url
        violations = axe_violations(page)
        checked += 1
        for v in violations:
            found.append(f"{url} ({rule.endpoint}): {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]))
    assert checked >= 40
    assert not found, f"axe found {len(found)} violation(s) in {lang}:\n" + "\n".join(found)
