"""A meeting in Chromium with JavaScript on: create it, choose invitees with the filter and the
live count, look over the email, send, answer from the Mailbox link in another browser, and see
the staff page's tally change without reloading. axe-core checks each new page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import PASSWORD
from playwright.sync_api import expect

from dugnad.extensions import db
from dugnad.models import Organization
from dugnad.timeutil import OSLO, now_utc

ORG = "Surnadal Røde Kors"
MEETING = "Dialogmøte om frivillighet"


@pytest.mark.browser
def test_meeting_invite_answer_and_live_tally(app, factory, live_server, new_context, assert_accessible):
    app.config["MEETING_TALLY_POLL_SECONDS"] = 1  # the page polls every 10 s; a second here
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    factory.organization(municipality, name=ORG, email="kari@rodekors.example.no")
    sports = factory.organization(municipality, name="Bygda Idrettslag", email="post@idrett.example.no")
    factory.organization(municipality, name="Surnadal Sjakklubb", email="")
    with app.app_context():
        db.session.get(Organization, sports).org_type = "sports"
        db.session.commit()

    staff = new_context()
    page = staff.new_page()
    page.goto("/login")
    page.get_by_label("E-postadresse").fill(admin)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()

    # Create the meeting.
    page.goto("/meetings/new")
    start = (now_utc() + timedelta(days=10)).astimezone(OSLO).replace(hour=18, minute=0, second=0, microsecond=0)
    page.get_by_label("Tittel").fill(MEETING)
    page.get_by_label("Starter").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Slutter").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Adresse").fill("Rådhuset, Storgata 2")
    page.get_by_label("Rom (valgfritt)").fill("Møterom 2")
    page.get_by_label("Personlig hilsen (valgfritt)").fill("Vi håper dere vil være med!")
    page.get_by_role("button", name="Opprett møtet").click()
    expect(page.get_by_role("heading", level=1, name=MEETING)).to_be_visible()
    meeting_url = page.url

    # Choose with the filter; the count follows each tick without a reload.
    page.get_by_role("link", name="Inviter organisasjoner").click()
    expect(page.get_by_role("heading", level=1, name="Inviter organisasjoner")).to_be_visible()
    assert_accessible(page, "choose invitees")
    page.get_by_label("Søk på navn, organisasjonsnummer eller kontaktperson").fill("surnadal")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_label("Bygda Idrettslag")).to_have_count(0)
    page.evaluate("() => { window.__noReload = 'same page' }")
    page.get_by_label(ORG, exact=True).check()
    expect(page.locator("#choice-count")).to_contain_text("1 valgt")
    page.get_by_label("Surnadal Sjakklubb").check()
    expect(page.locator("#choice-count")).to_contain_text("2 valgt, 1 mangler e-postadresse")
    assert page.evaluate("() => window.__noReload") == "same page"

    # The preview: the email as sent, and the one without an address named.
    page.get_by_role("button", name="Forhåndsvis invitasjonen").click()
    expect(page.get_by_role("heading", level=1, name="Se over invitasjonen")).to_be_visible()
    expect(page.locator("#preview-subject")).to_have_text(f"Invitasjon: {MEETING}")
    expect(page.locator("#preview-text")).to_contain_text("Vi håper dere vil være med!")
    expect(page.get_by_role("link", name="Surnadal Sjakklubb")).to_be_visible()
    assert_accessible(page, "invitation preview")
    page.get_by_role("button", name="Send 1 invitasjon").click()
    expect(page.get_by_role("heading", level=1, name=MEETING)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("1 organisasjon er invitert.")
    expect(page.locator('#tally [data-tally="pending"]')).to_have_text("1")
    assert_accessible(page, "meeting page")

    # The Mailbox (in a second tab): the message, its calendar file, and the link.
    mailbox = staff.new_page()
    mailbox.goto("/mailbox/")
    mailbox.get_by_role("link", name=f"Invitasjon: {MEETING}", exact=True).click()
    expect(mailbox.get_by_role("link", name="invitasjon.ics")).to_be_visible()
    assert_accessible(mailbox, "mailbox message with attachment")
    link = mailbox.locator(".mail-body").locator('a[href*="/r/"]').get_attribute("href")
    assert link.startswith(f"{live_server.url}/r/invitation/")

    # The staff page stays open; the organisation answers in its own browser.
    page.evaluate("() => { window.__noReload = 'same page' }")
    organisation = new_context().new_page()
    organisation.goto(link)
    expect(organisation.get_by_role("heading", level=1, name=MEETING)).to_be_visible()
    assert_accessible(organisation, "answer page")
    organisation.get_by_label("Ja, vi kommer").check()
    organisation.get_by_label("Hvor mange kommer? (valgfritt)").fill("3")
    organisation.get_by_label("Leksehjelp").check()
    organisation.get_by_role("button", name="Send svar").click()
    expect(organisation.get_by_role("status")).to_contain_text("Svaret er registrert: Kommer.")

    expect(page.locator('#tally [data-tally="attending"]')).to_have_text("1")
    expect(page.locator('#tally [data-tally="people"]')).to_have_text("3")
    expect(page.locator('#tally [data-tally="pending"]')).to_have_text("0")
    assert page.evaluate("() => window.__noReload") == "same page", "the page was reloaded"

    # The edit form and the cancel confirmation are accessible too.
    page.goto(f"{meeting_url}/edit")
    expect(page.get_by_role("heading", level=1, name="Endre møtet")).to_be_visible()
    assert_accessible(page, "edit meeting")
    page.goto(f"{meeting_url}/cancel")
    expect(page.get_by_role("heading", level=1, name="Avlyse møtet?")).to_be_visible()
    assert_accessible(page, "cancel meeting")
