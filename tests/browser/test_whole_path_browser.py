"""The whole path in Chromium with JavaScript on, as the demo administrator does it.

Log in, register an organisation, find it with the live search, plan a meeting,
invite, answer through the emailed link (read in the Mailbox), write an agreement
section by section and send it, accept it as the organisation, countersign, download the PDF.
axe-core checks every main page on the way.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from builder_pages import CHECK_HEADING, fill_section, open_section, save_and_continue
from helpers import PASSWORD
from playwright.sync_api import expect
from pypdf import PdfReader

from dugnad.sections import REQUIRED_SECTIONS, SECTIONS_BY_KEY
from dugnad.timeutil import OSLO, now_utc

ORG = "Surnadal Røde Kors"
CONTACT_EMAIL = "kari@rodekors.example.no"
MEETING = "Dialogmøte om bosetting"
AGREEMENT = "Samarbeid om flyktningguide"


def _no_reload_marker(page) -> None:
    """Set a value on window that only survives if the page is not reloaded."""
    page.evaluate("() => { window.__noReload = 'same page' }")


def _assert_not_reloaded(page) -> None:
    assert page.evaluate("() => window.__noReload") == "same page", "the page was reloaded"


def _open_mail(page, subject: str, live_url: str) -> str:
    """Open a message in the Mailbox (nav link "E-postkø"); returns the token link in it."""
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="E-postkø").click()
    expect(page.get_by_role("heading", level=1, name="E-postkø")).to_be_visible()
    page.get_by_role("link", name=subject, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=subject)).to_be_visible()
    link = page.locator(".mail-body").locator('a[href*="/r/"]')
    href = link.get_attribute("href")
    # SERVER_NAME is the live server's, so the absolute link in the email points here.
    assert href.startswith(f"{live_url}/r/"), href
    return href


@pytest.mark.browser
def test_whole_path_with_javascript(app, factory, live_server, new_context, assert_accessible):
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    factory.organization(municipality, name="Bygda Idrettslag", email="post@idrett.example.no")

    staff = new_context()
    page = staff.new_page()

    # Log in through the form.
    page.goto("/login")
    expect(page.get_by_role("heading", level=1, name="Logg inn")).to_be_visible()
    assert_accessible(page, "login")
    page.get_by_label("E-postadresse").fill(admin)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("heading", level=1, name="Oversikt")).to_be_visible()
    assert_accessible(page, "start page")

    # Register an organisation with its chair as contact.
    page.get_by_role("link", name="Registrer organisasjon").click()
    expect(page.get_by_role("heading", level=1, name="Registrer organisasjon")).to_be_visible()
    assert_accessible(page, "organisation form")
    page.get_by_label("Navn", exact=True).fill(ORG)
    page.get_by_label("Organisasjonsnummer").fill("991 000 003")
    page.get_by_label("Adresse (valgfritt)", exact=True).fill("Storgata 1")
    page.get_by_label("Postnummer").fill("6650")
    page.get_by_label("Poststed").fill("Surnadal")
    page.get_by_label("Navn på kontaktperson").fill("Kari Nordmann")
    page.get_by_label("Rolle i organisasjonen").fill("styreleder")
    page.get_by_label("Kontaktpersonens e-postadresse").fill(CONTACT_EMAIL)
    page.get_by_role("button", name="Lagre").click()
    expect(page.get_by_role("heading", level=1, name=ORG)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"{ORG} er registrert.")

    # The live search: rows change as you type, without a page reload.
    page.get_by_role("link", name="Alle organisasjoner").click()
    rows = page.locator("#organization-rows tbody tr")
    expect(rows).to_have_count(2)
    assert_accessible(page, "organisations list")
    _no_reload_marker(page)
    page.get_by_label("Søk på navn, organisasjonsnummer eller kontaktperson").fill("røde")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(ORG)
    expect(page.locator("#organization-rows")).to_contain_text("1 treff på «røde»")
    expect(page).to_have_url(re.compile(r"/organizations/\?q=r%C3%B8de$"))  # hx-push-url
    page.get_by_label("Søk på navn, organisasjonsnummer eller kontaktperson").fill("Nordmann")  # the contact
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(ORG)
    page.get_by_label("Søk på navn, organisasjonsnummer eller kontaktperson").fill("")
    expect(rows).to_have_count(2)
    _assert_not_reloaded(page)
    assert_accessible(page, "organisations list after a search")

    # Plan a meeting, in Norwegian time, in the future.
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Møter").click()
    page.get_by_role("link", name="Nytt møte").click()
    expect(page.get_by_role("heading", level=1, name="Nytt møte")).to_be_visible()
    assert_accessible(page, "meeting form")
    start = (now_utc() + timedelta(days=10)).astimezone(OSLO).replace(hour=18, minute=0, second=0, microsecond=0)
    page.get_by_label("Tittel").fill(MEETING)
    page.get_by_label("Starter").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Slutter").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Adresse").fill("Rådhuset")
    page.get_by_label("Dagsorden").fill("Velkommen\nHvordan kan vi samarbeide?")
    page.get_by_role("button", name="Opprett møtet").click()
    expect(page.get_by_role("heading", level=1, name=MEETING)).to_be_visible()
    # Typed in Norwegian time, shown in Norwegian time.
    expect(page.get_by_role("definition").first).to_contain_text(start.strftime("%d.%m.%Y 18:00"))

    # Invite the new organisation: tick it, look over the email, send.
    assert_accessible(page, "meeting page")
    page.get_by_role("link", name="Inviter organisasjoner").click()
    page.get_by_label(ORG, exact=True).check()
    page.get_by_role("button", name="Forhåndsvis invitasjonen").click()
    page.get_by_role("button", name="Send 1 invitasjon").click()
    expect(page.get_by_role("status")).to_contain_text("1 organisasjon er invitert.")
    expect(page.locator('#tally [data-tally="pending"]')).to_have_text("1")

    # The invitation is in the Mailbox; the organisation follows its link (no login).
    invitation_link = _open_mail(page, f"Invitasjon: {MEETING}", live_server.url)
    assert_accessible(page, "mailbox message")
    page.get_by_role("link", name="Tilbake til e-postkøen").click()
    assert_accessible(page, "mailbox")

    organisation = new_context().new_page()
    organisation.goto(invitation_link)
    expect(organisation.get_by_role("heading", level=1, name=MEETING)).to_be_visible()
    assert_accessible(organisation, "invitation page")
    organisation.get_by_label("Ja, vi kommer").check()
    organisation.get_by_label("Kommentar").fill("Vi kommer to")
    organisation.get_by_role("button", name="Send svar").click()
    expect(organisation.get_by_role("status")).to_contain_text("Svaret er registrert: Kommer.")
    expect(organisation.get_by_label("Ja, vi kommer")).to_be_checked()

    # Staff sees the answer on the meeting page.
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Møter").click()
    page.get_by_role("link", name=MEETING).click()
    expect(page.locator('#tally [data-tally="attending"]')).to_have_text("1")

    # Start an agreement from the organisation's page, write the required sections one page
    # each (tests/browser/test_builder_browser.py goes through all of them), check, send.
    page.get_by_role("row", name=ORG).get_by_role("link", name=ORG).click()
    expect(page.get_by_role("heading", level=1, name=ORG)).to_be_visible()
    page.get_by_role("link", name="Start en avtale").click()
    expect(page.get_by_role("heading", level=1, name=f"Ny avtale med {ORG}")).to_be_visible()
    assert_accessible(page, "new agreement")
    page.get_by_label("Tittel").fill(AGREEMENT)
    page.get_by_role("button", name="Opprett utkast").click()
    expect(page.get_by_role("heading", level=1, name="Skriv avtalen")).to_be_visible()
    for key in REQUIRED_SECTIONS:
        if not page.get_by_role("heading", level=1, name=str(SECTIONS_BY_KEY[key].title), exact=True).is_visible():
            open_section(page, key)
        fill_section(page, key)
        save_and_continue(page, key)
    page.get_by_role("link", name="Tilbake", exact=True).click()
    expect(page.locator("#task-progress")).to_have_text(f"{len(REQUIRED_SECTIONS)} av 15 avsnitt er ferdige.")
    page.get_by_role("link", name="Se over og send").click()
    expect(page.get_by_role("heading", level=1, name=CHECK_HEADING)).to_be_visible()
    page.get_by_role("button", name=f"Send til {ORG}").click()
    expect(page.get_by_role("heading", level=1, name=AGREEMENT)).to_be_visible()
    status = page.locator("#agreement-status")
    expect(page.get_by_role("status").first).to_contain_text(f"Avtalen er sendt til {ORG}.")
    expect(status).to_contain_text("Sendt til organisasjonen. Venter på svar.")
    expect(page.get_by_role("link", name="Se over og send")).to_have_count(0)
    assert_accessible(page, "agreement page (sent)")

    # The organisation opens the agreement from the email, in a browser without a login.
    review_link = _open_mail(page, f"Samarbeidsavtale til gjennomsyn: {AGREEMENT}", live_server.url)
    reviewer = new_context().new_page()
    reviewer.goto(review_link)
    expect(reviewer.get_by_role("heading", level=1, name="Samarbeidsavtale til gjennomsyn")).to_be_visible()
    expect(reviewer.locator(".agreement-document")).to_contain_text("Flyktningguide")
    assert_accessible(reviewer, "the organisation's review page")
    reviewer.get_by_label("Fullt navn").fill("Kari Nordmann")
    reviewer.get_by_label("Rolle i organisasjonen").fill("styreleder")
    reviewer.get_by_label("Jeg bekrefter at jeg har fullmakt").check()
    reviewer.get_by_label("Signatur", exact=True).fill("Kari Nordmann")
    reviewer.get_by_role("button", name="Godta avtalen").click()
    expect(reviewer.get_by_role("heading", level=1, name="Takk for svaret.")).to_be_visible()
    expect(reviewer.get_by_text("Godtatt, venter på kommunens signatur")).to_be_visible()
    assert_accessible(reviewer, "receipt")

    # Back as the administrator: countersign (htmx again).
    page.get_by_role("link", name="Dugnad").click()
    expect(page.get_by_role("heading", name="Klar for kommunens signatur")).to_be_visible()
    page.get_by_role("link", name=re.compile(AGREEMENT)).click()
    expect(page.get_by_role("heading", level=1, name=AGREEMENT)).to_be_visible()
    assert_accessible(page, "agreement page (accepted)")
    _no_reload_marker(page)
    page.get_by_label("Din rolle i kommunen").fill("Kommunedirektør")
    # A wrong password: the message in place, beside the field, and nothing signed.
    page.get_by_label("Ditt passord").fill("ikke passordet")
    page.get_by_role("button", name="Signer avtalen").click()
    password = page.get_by_label("Ditt passord")
    expect(password).to_have_accessible_description(re.compile("Passordet stemmer ikke."))
    expect(password).to_have_value("")  # never sent back to the browser
    expect(page.get_by_label("Din rolle i kommunen")).to_have_value("Kommunedirektør")
    assert_accessible(page, "agreement page (wrong password)")
    password.fill(PASSWORD)
    page.get_by_role("button", name="Signer avtalen").click()
    expect(status).to_contain_text("Avtalen er signert av begge parter.")
    _assert_not_reloaded(page)
    assert_accessible(page, "agreement page (signed)")

    # The signed PDF: a real download, holding both parties.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Last ned signert PDF").click()
    download = download_info.value
    assert re.fullmatch(r"samarbeidsavtale-\d{4}-001\.pdf", download.suggested_filename)
    pdf = download.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Surnadal kommune" in text
    assert ORG in text
    assert "Kari Nordmann" in text and "Anne Admin" in text

    # The print view.
    page.get_by_role("link", name="Utskriftsvisning").click()
    expect(page.get_by_role("heading", level=1, name=AGREEMENT)).to_be_visible()
    expect(page.get_by_role("heading", name="Signaturer")).to_be_visible()
    expect(page.locator(".signature-page")).to_contain_text("Kommunedirektør")
    expect(page.get_by_role("button", name="Skriv ut")).to_be_visible()
    assert_accessible(page, "print view")
