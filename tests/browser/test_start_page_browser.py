"""The staff start page in Chromium: what needs the administrator, the pipeline chart and its
table, the chart refreshed by htmx when the user comes back to the tab (without a reload),
a bar leading to the registry filtered on its step; axe on the page with data in it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from helpers import PASSWORD, link_in, login, outbox
from playwright.sync_api import expect
from world import ACCEPT, write_agreement

ORG_EMAIL = "leder@sanitet.example.no"


def _accepted_agreement(app, staff_client, organization: int, title: str) -> None:
    """An agreement written and sent through the app's pages, and accepted by the organisation."""
    response = staff_client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(staff_client, agreement_id, title)
    assert staff_client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    assert app.test_client().post(link_in(outbox(app, to=ORG_EMAIL)[-1]), data=ACCEPT).status_code == 302


def _table_count(page, label: str):
    """The pipeline table's number for a step."""
    return page.locator("#pipeline table tr", has=page.get_by_role("link", name=label, exact=True)).locator("td")


@pytest.mark.browser
def test_start_page_with_javascript(app, factory, live_server, new_context, assert_accessible):
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=ORG_EMAIL)
    factory.organization(municipality, name="Bygda Idrettslag")
    staff_client = app.test_client()
    login(staff_client, factory.user(municipality, "staff", name="Sara Saksbehandler"))
    _accepted_agreement(app, staff_client, organization, "Leksehjelp på biblioteket")

    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("E-postadresse").fill(admin)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("heading", level=1, name="Oversikt")).to_be_visible()

    # What needs the administrator: the accepted agreement, one click from countersigning.
    expect(page.get_by_role("heading", level=2, name="Venter på deg")).to_be_visible()
    expect(page.get_by_role("heading", level=3, name="Klar for kommunens signatur")).to_be_visible()
    # The chart's bars are links named with their numbers; the table behind "show as table" agrees.
    chart = page.locator("svg.pipeline-chart")
    expect(chart.get_by_role("link", name="Ikke invitert: 1 organisasjon")).to_have_count(1)
    page.get_by_text("Vis tallene som tabell").click()
    expect(_table_count(page, "Ikke invitert")).to_have_text("1")
    assert_accessible(page, "start page with data")

    # Someone registers two organisations elsewhere; coming back to the tab refreshes the
    # chart in place (htmx, "focus from:window"), without reloading the page.
    page.evaluate("() => { window.notReloaded = true; }")
    factory.organization(municipality, name="Bygda Mannskor")
    factory.organization(municipality, name="Bygda Husflidslag")
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")
    expect(chart.get_by_role("link", name="Ikke invitert: 3 organisasjoner")).to_have_count(1)
    assert page.evaluate("() => window.notReloaded") is True

    # A bar leads to the registry filtered on its step, with as many rows as the bar says.
    chart.get_by_role("link", name="Ikke invitert: 3 organisasjoner").click()
    expect(page).to_have_url(re.compile(r"/organizations/\?stage=not_invited$"))
    expect(page.locator("#organization-rows tbody tr")).to_have_count(3)
    expect(page.locator("#organization-rows")).not_to_contain_text("Bygda Sanitetslag")
