"""The registry and the activity catalogue in Chromium with JavaScript: contact rows added
and removed in place, filters that update the rows and the URL, delete with undo; axe on
every new page."""

from __future__ import annotations

import re

import pytest
from helpers import PASSWORD
from playwright.sync_api import expect


@pytest.mark.browser
def test_registry_and_catalogue_with_javascript(app, factory, live_server, new_context, assert_accessible):
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    factory.organization(municipality, name="Bygda Idrettslag", email="post@idrett.example.no")
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("E-postadresse").fill(admin)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()

    # A second contact row appears in place (no reload), focused; a row can be removed again.
    page.goto("/organizations/new")
    page.evaluate("() => { window.notReloaded = true; }")
    page.get_by_label("Navn", exact=True).fill("Surnadal Røde Kors")
    page.get_by_label("Navn på kontaktperson").fill("Kari Nordmann")
    page.get_by_role("button", name="Legg til kontaktperson").click()
    expect(page.locator("#contacts-1-name")).to_be_focused()
    page.locator("#contacts-1-name").fill("Per Hansen")
    page.locator("#contacts-1-email").fill("per@rk.example.no")
    page.get_by_role("button", name="Legg til kontaktperson").click()
    expect(page.locator("#contacts-2-name")).to_be_visible()
    page.get_by_role("button", name="Fjern kontaktperson 3").click()
    expect(page.locator("#contacts-2-name")).to_have_count(0)
    assert page.evaluate("() => window.notReloaded") is True
    page.get_by_label("Leksehjelp", exact=True).check()
    assert_accessible(page, "organisation form with two contacts")
    # Two contacts, no primary chosen: the summary links to the exact row's field.
    page.get_by_role("button", name="Lagre", exact=True).click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link").click()
    expect(page.locator("#contacts-0-is_primary")).to_be_focused()
    assert_accessible(page, "organisation form with errors")
    page.locator("#contacts-1-is_primary").check()
    page.get_by_role("button", name="Lagre", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Surnadal Røde Kors")).to_be_visible()
    expect(page.get_by_text("Per Hansen – per@rk.example.no (hovedkontakt)")).to_be_visible()
    assert_accessible(page, "organisation page")

    # Filters update the rows and the address bar.
    page.get_by_role("link", name="Alle organisasjoner").click()
    rows = page.locator("#organization-rows tbody tr")
    expect(rows).to_have_count(2)
    # htmx is a deferred script: a change made before it has run would go unheard (CI, busy).
    page.wait_for_load_state("load")
    page.get_by_label("Aktivitetsområde").select_option(label="Leksehjelp")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/organizations/\?area=\d+$"))
    assert_accessible(page, "registry filtered")

    # Delete, then undo from the message.
    rows.first.get_by_role("link").click()
    page.get_by_role("link", name="Slett").click()
    expect(page.get_by_role("heading", level=1, name="Slett Surnadal Røde Kors?")).to_be_visible()
    assert_accessible(page, "delete confirmation")
    page.get_by_role("button", name="Slett organisasjonen").click()
    expect(page.get_by_role("status").filter(has_text="Surnadal Røde Kors er slettet.")).to_be_visible()
    expect(page.locator("#organization-rows tbody tr")).to_have_count(1)
    assert_accessible(page, "registry after delete")
    page.get_by_role("button", name="Angre").click()
    expect(page.get_by_role("heading", level=1, name="Surnadal Røde Kors")).to_be_visible()

    # The catalogue.
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Aktiviteter").click()
    expect(page.get_by_role("heading", level=1, name="Aktivitetskatalog")).to_be_visible()
    assert_accessible(page, "activity catalogue")
    page.get_by_label("Navn på aktivitetsområdet").fill("idrett")
    page.get_by_role("button", name="Legg til", exact=True).click()
    expect(page.locator("#error-summary")).to_contain_text("allerede")
    assert_accessible(page, "activity catalogue with an error")
    page.get_by_label("Navn på aktivitetsområdet").fill("Sjakk")
    page.get_by_role("button", name="Legg til", exact=True).click()
    expect(page.get_by_label("Navn på «Sjakk»")).to_have_value("Sjakk")
    page.get_by_role("button", name="Skjul «Sjakk»").click()
    expect(page.get_by_role("button", name="Vis «Sjakk»")).to_be_visible()
