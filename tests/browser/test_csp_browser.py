"""The strict Content-Security-Policy in Chromium: public pages, the logged-in pages with
htmx at work (live search, the start page's chart, autosave with the live preview), SVG
charts, the email preview in its frame, an error page and an emailed link's page; none
triggers a policy violation. A control proves a violation would be seen."""

from __future__ import annotations

import pytest
from helpers import PASSWORD
from playwright.sync_api import expect
from world import build_world

#: Reports every violation, in every frame, to Python (a binding outlives navigations).
#: Init scripts and bindings come through the DevTools protocol, which the policy does not govern.
LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation([location.pathname, event.violatedDirective, event.blockedURI, event.sample].join(" | "));
  window.violationsSeen = (window.violationsSeen || 0) + 1;
});
"""


def _watched_context(new_context, violations: list[str], console: list[str]):
    context = new_context()
    context.expose_binding("reportViolation", lambda source, text: violations.append(text))
    context.add_init_script(LISTEN)

    def on_page(page):
        # Chromium also logs each violation to the console (from any frame of the page).
        page.on("console", lambda message: console.append(message.text) if "Content Security Policy" in message.text else None)

    context.on("page", on_page)
    return context


@pytest.mark.browser
def test_no_policy_violation_on_pages_and_htmx_interactions(app, factory, live_server, new_context):
    world = build_world(app, factory, "Granvik")
    violations: list[str] = []
    console: list[str] = []
    page = _watched_context(new_context, violations, console).new_page()

    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto("/verify")
    page.goto("/personvern")
    page.goto("/login")
    page.get_by_label("E-postadresse").fill(world.admin)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()

    # The start page: the pipeline chart (SVG), refreshed by htmx when the tab gets focus.
    expect(page.get_by_role("heading", level=1, name="Oversikt")).to_be_visible()
    expect(page.locator("svg.pipeline-chart")).to_be_visible()
    with page.expect_response(lambda response: "/overview/pipeline" in response.url):
        page.evaluate("() => window.dispatchEvent(new Event('focus'))")

    # The registry's live search: htmx swaps the rows as one types, without a reload.
    page.goto("/organizations/")
    page.evaluate("() => { window.notReloaded = true; }")
    rows = page.locator("#organization-rows tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Søk på navn, organisasjonsnummer eller kontaktperson").fill("Idrettslag")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(world.other_organization_name)
    assert page.evaluate("() => window.notReloaded") is True

    # The builder: typing autosaves (htmx) and refreshes the live preview.
    page.goto(f"/agreements/{world.agreements['draft']}/sections/purpose")
    page.wait_for_load_state("load")
    page.locator("#text").fill("Gode lokalsamfunn for alle nye innbyggere.")
    expect(page.locator("#save-status")).to_contain_text("Lagret kl.")

    # The email preview: the frame inherits the page's policy, which allows the email's own styles.
    page.goto(f"/meetings/{world.meeting_id}/invite/preview?organizations={world.other_organization_id}")
    body = page.frame_locator("iframe.mail-preview").locator("body")
    expect(body).to_contain_text("Sendt fra Dugnad")
    assert body.evaluate("element => getComputedStyle(element).maxWidth") == "640px"  # style="max-width: 40rem"

    # SVG charts of the council report, an agreement's page, a page that is not there.
    page.goto("/reports/council")
    expect(page.locator("svg").first).to_be_visible()
    page.goto(f"/agreements/{world.agreements['signed']}")
    page.goto("/finnes-ikke")
    expect(page.get_by_role("heading", level=1, name="Fant ikke siden")).to_be_visible()

    # An emailed link's page, in a browser of its own.
    visitor = _watched_context(new_context, violations, console).new_page()
    visitor.goto(world.review_link)
    expect(visitor.get_by_role("heading", level=1, name="Samarbeidsavtale til gjennomsyn")).to_be_visible()

    assert violations == []
    assert console == []

    # The control: an inline style is refused, and both ways of noticing see it.
    page.goto("/login")
    page.evaluate("() => document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.wait_for_function("() => window.violationsSeen > 0")  # the event is dispatched as a task
    assert any("style-src-attr" in violation for violation in violations), violations
    assert console
