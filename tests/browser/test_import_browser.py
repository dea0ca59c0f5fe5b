"""Importing from a register file in Chromium, with JavaScript (htmx upload) and without:
the upload page, an unreadable file's message next to the field, the preview, the import.
axe-core checks each page."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import PASSWORD
from playwright.sync_api import expect

from dugnad import accounts
from dugnad.extensions import db

DATA = Path(__file__).resolve().parent.parent / "data"


def _surnadal_admin(app, factory) -> str:
    with app.app_context():
        municipality = accounts.create_municipality("Surnadal kommune", "1566", "939901965")
        db.session.commit()
        municipality_id = municipality.id
    return factory.user(municipality_id, "admin", name="Anne Admin")


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_import_a_register_file(app, factory, live_server, new_context, assert_accessible, javascript):
    admin = _surnadal_admin(app, factory)
    page = new_context(java_script_enabled=javascript).new_page()

    def check(name: str) -> None:
        if javascript:  # axe needs JavaScript; the pages are the same HTML either way
            assert_accessible(page, name)

    page.goto("/login")
    page.get_by_label("E-postadresse").fill(admin)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()

    page.goto("/organizations/")
    page.get_by_role("link", name="Importer fra fil").click()
    expect(page.get_by_role("heading", level=1, name="Importer organisasjoner")).to_be_visible()
    check("upload page")

    # A PDF: the message is next to the field and in the summary; nothing else happens.
    page.get_by_label("Fil fra Enhetsregisteret eller regneark").set_input_files(str(DATA / "not_a_csv.pdf"))
    page.get_by_role("button", name="Last opp og se forhåndsvisning").click()
    expect(page.locator("#file-error")).to_have_text("Filen er en PDF. Last opp en CSV- eller JSON-fil.")
    expect(page.get_by_role("link", name="Fil fra Enhetsregisteret eller regneark: Filen er en PDF.")).to_be_visible()
    check("upload page with an error")

    page.get_by_label("Fil fra Enhetsregisteret eller regneark").set_input_files(str(DATA / "enhetsregisteret.json"))
    page.get_by_role("button", name="Last opp og se forhåndsvisning").click()
    expect(page.get_by_role("heading", level=1, name="Import fra enhetsregisteret.json")).to_be_visible()
    expect(page.get_by_text("4 organisasjoner legges til")).to_be_visible()
    expect(page.get_by_role("cell", name="Slettet i Enhetsregisteret")).to_be_visible()
    check("preview")

    page.get_by_role("button", name="Importer 4 organisasjoner").click()
    expect(page.get_by_text("Importert fra enhetsregisteret.json: 4 lagt til")).to_be_visible()
    expect(page.get_by_role("link", name="SURNADAL IDRETTSLAG")).to_be_visible()
