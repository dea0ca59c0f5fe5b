"""The agreement builder in Chromium: the task list, one section per page, check your
answers, send; with JavaScript (autosave, the task list and the live preview updated in
place, activity rows added and removed in place) and without it (every step a plain page).

(Named *_browser.py: tests/test_builder.py tests the same routes through the test client.)
"""

from __future__ import annotations

import re
import time

import pytest
from builder_pages import (
    CHECK_HEADING,
    SAVED_AT,
    fill_section,
    log_in,
    open_section,
    save_and_continue,
    start_agreement,
    task_status,
)
from playwright.sync_api import expect
from sqlalchemy import select
from world import SECTION_FORMS

from dugnad.extensions import db
from dugnad.models import Agreement
from dugnad.sections import REQUIRED_SECTIONS, SECTIONS, SECTIONS_BY_KEY

ORG = "Surnadal Røde Kors"
TITLE = "Samarbeid om flyktningguide"


def _setup(factory) -> tuple[str, int]:
    municipality = factory.municipality("Surnadal kommune")
    staff = factory.user(municipality, "staff", name="Siri Saksbehandler")
    organization = factory.organization(municipality, name=ORG, email="post@rodekors.example.no")
    return staff, organization


def _mark_page(page) -> None:
    """A value on window that only survives while the page is not reloaded."""
    page.evaluate("() => { window.__samePage = true }")


def _assert_same_page(page) -> None:
    assert page.evaluate("() => window.__samePage") is True, "the page was reloaded"


def _agreement(app) -> Agreement:
    with app.app_context():
        agreement = db.session.scalar(select(Agreement))
        return {section.key: (section.status, section.data) for section in agreement.sections}, agreement.state


def _hide(page) -> None:
    """What the browser does when the tab goes to the background (headless tabs never do)."""
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
        delete document.visibilityState;
    }""")


def _wait_for_saved(app, key: str, text: str) -> None:
    """Until the section's stored text is `text` (a beacon is answered after the page moved on)."""
    deadline = time.monotonic() + 5
    while True:
        with app.app_context():
            stored = db.session.scalar(select(Agreement)).section(key).data["text"]
            db.session.remove()
        if stored == text:
            return
        assert time.monotonic() < deadline, f"{key}: stored {stored!r}, expected {text!r}"
        time.sleep(0.05)


@pytest.mark.browser
def test_builder_with_javascript(app, factory, live_server, new_context, assert_accessible):
    staff, organization = _setup(factory)
    page = new_context(viewport={"width": 1440, "height": 900}).new_page()
    log_in(page, staff)

    start_agreement(page, organization, ORG, TITLE)
    expect(page.get_by_role("status")).to_contain_text("er opprettet")
    expect(page.locator("#task-progress")).to_have_text("0 av 15 avsnitt er ferdige.")
    assert_accessible(page, "task list")

    # Parties: straight from the task list, "Lagre og fortsett" goes on to the next section.
    open_section(page, "parties")
    expect(page.locator('#task-list [aria-current="page"]')).to_have_text("Parter og signatarer")
    fill_section(page, "parties")
    save_and_continue(page, "parties")

    # Purpose: the preview follows the typing, the autosave updates the "saved at" line and
    # the task list, all without a reload.
    _mark_page(page)
    preview = page.locator("#document-preview")
    expect(preview).to_contain_text("Partene er selvstendige.")  # the section saved before
    expect(task_status(page, "purpose")).to_have_text("Ikke startet")
    page.locator("#text").fill("Nye innbyggere skal bli en del av bygda.")
    expect(preview).to_contain_text("Nye innbyggere skal bli en del av bygda.")
    expect(page.locator("#save-status")).to_have_text(SAVED_AT)
    expect(task_status(page, "purpose")).to_have_text("Påbegynt")
    page.locator("#text").press_sequentially(" Sammen.")
    expect(preview).to_contain_text("bygda. Sammen.")
    _assert_same_page(page)
    with app.app_context():
        saved = db.session.scalar(select(Agreement)).section("purpose")
        assert saved.status == "in_progress"
        assert saved.data["text"].startswith("Nye innbyggere skal bli en del av bygda.")
    save_and_continue(page, "purpose")

    # Leaving the page before the autosave's delay has run out loses nothing (a beacon).
    page.locator("#text").fill("Bosatte flyktninger i alle aldre.")
    page.goto(page.url.split("/sections/")[0] + "/edit")
    expect(task_status(page, "target_group")).to_have_text(re.compile("Påbegynt|Ikke startet"))
    _wait_for_saved(app, "target_group", "Bosatte flyktninger i alle aldre.")
    open_section(page, "target_group")
    expect(page.locator("#text")).to_have_value("Bosatte flyktninger i alle aldre.")

    # Hidden (another tab, a locked phone): saved at once, for a page frozen or killed in the
    # background never gets to htmx's delayed autosave (here it is taken away).
    page.evaluate("() => document.getElementById('autosave').remove()")
    page.locator("#text").fill("Bosatte flyktninger og familiene deres.")
    _hide(page)
    expect(page.locator("#save-status")).to_have_text(SAVED_AT)
    _wait_for_saved(app, "target_group", "Bosatte flyktninger og familiene deres.")
    # Back again, the page has the new revision: its next autosave is no conflict with its own save.
    page.reload()
    page.locator("#text").fill("Bosatte flyktninger og barna deres.")
    _hide(page)
    _wait_for_saved(app, "target_group", "Bosatte flyktninger og barna deres.")
    page.locator("#text").press_sequentially(" Alle aldre.")
    expect(preview).to_contain_text("barna deres. Alle aldre.")
    _wait_for_saved(app, "target_group", "Bosatte flyktninger og barna deres. Alle aldre.")
    expect(page.locator("#save-status")).to_have_text(SAVED_AT)
    save_and_continue(page, "target_group")

    # Activities: a row is added and removed in place; each change is autosaved and previewed.
    fill_section(page, "activities")
    _mark_page(page)
    page.get_by_role("button", name="Legg til aktivitet").click()
    expect(page.locator("#rows-1-area_id")).to_be_focused()
    page.locator("#rows-1-what").fill("Leksehjelp")
    expect(preview).to_contain_text("Leksehjelp")
    expect(preview).to_contain_text("Flyktningguide")
    assert_accessible(page, "activities with two rows")
    page.get_by_role("button", name="Fjern aktivitet 2").click()
    expect(page.locator("#rows-1-what")).to_have_count(0)
    expect(page.get_by_role("button", name="Legg til aktivitet")).to_be_focused()
    expect(preview).not_to_contain_text("Leksehjelp")
    expect(page.locator("#save-status")).to_have_text(SAVED_AT)
    _assert_same_page(page)
    save_and_continue(page, "activities")

    for key in ("municipality_responsibilities", "organization_responsibilities", "contacts"):
        fill_section(page, key)
        save_and_continue(page, key)

    # Economy: an amount written with a thousands dot is refused: by the autosave (which
    # says so, and asks before the page is left with what it could not save), then by
    # "Lagre og fortsett", next to the field and on top.
    message = "Skriv tusener med mellomrom, ikke punktum: for eksempel 12 500."
    fill_section(page, "economy", {**SECTION_FORMS["economy"], "grant": "12.500"})
    expect(page.locator("#save-status")).to_contain_text(f"Ikke lagret: Tilskudd i kroner: {message}")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.locator("#task-list").get_by_role("link", name="Tvister").click()
    expect(page.get_by_role("heading", level=1, name="Økonomi")).to_be_visible()
    assert dialogs == ["beforeunload"]
    page.get_by_label("Ja, avsnittet er ferdig").check()
    page.get_by_role("button", name="Lagre og fortsett").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name=f"Tilskudd i kroner: {message}")).to_have_attribute("href", "#grant")
    expect(page.locator("#grant")).to_have_accessible_description(re.compile(re.escape(message)))
    expect(page.locator("#grant")).to_have_value("12.500")  # what was typed is kept
    assert_accessible(page, "section page with errors")
    page.locator("#grant").fill("12 500")
    save_and_continue(page, "economy")

    for key in ("premises", "privacy", "insurance", "meetings", "evaluation", "duration", "disputes"):
        fill_section(page, key)
        save_and_continue(page, key)

    # Check your answers: every section, each complete, with its text.
    expect(page.get_by_role("heading", level=1, name=CHECK_HEADING)).to_be_visible()
    sections = page.locator(".check-section")
    expect(sections).to_have_count(len(SECTIONS))
    for section in SECTIONS:
        block = page.locator(".check-section", has=page.locator(f"#check-{section.key}"))
        expect(block.locator(".ds-tag")).to_have_text("Ferdig")
    expect(page.locator(".check-section", has=page.locator("#check-purpose"))).to_contain_text("bygda. Sammen.")
    activities = page.locator(".check-section", has=page.locator("#check-activities"))
    expect(activities).to_contain_text("Flyktningguide")
    expect(activities).not_to_contain_text("Leksehjelp")
    expect(page.locator(".check-section", has=page.locator("#check-economy"))).to_contain_text("12 500")
    assert_accessible(page, "check page")

    page.get_by_role("button", name=f"Send til {ORG}").click()
    expect(page.get_by_role("heading", level=1, name=TITLE)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text(f"Avtalen er sendt til {ORG}.")
    expect(page.locator("#agreement-status")).to_contain_text("Sendt til organisasjonen. Venter på svar.")
    statuses, state = _agreement(app)
    assert state == "sent"
    assert {status for status, _data in statuses.values()} == {"completed"}
    assert [row["what"] for row in statuses["activities"][1]["rows"]] == ["Flyktningguide"]


@pytest.mark.browser
def test_builder_without_javascript(app, factory, live_server, new_context):
    staff, organization = _setup(factory)
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, staff)
    start_agreement(page, organization, ORG)
    assert page.evaluate("() => typeof window.htmx") == "undefined"  # no script ran

    open_section(page, "parties")
    fill_section(page, "parties")
    save_and_continue(page, "parties")
    fill_section(page, "purpose")
    save_and_continue(page, "purpose")

    # Activities: "Legg til aktivitet" posts the page back with one row more, keeping what was typed.
    open_section(page, "activities")
    fill_section(page, "activities")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Legg til aktivitet").click()
    assert posted.value.status == 200
    expect(page.locator("#rows-0-what")).to_have_value("Flyktningguide")
    page.locator("#rows-1-what").fill("Leksehjelp")
    page.locator("#rows-1-where").fill("Biblioteket")
    save_and_continue(page, "activities")

    # Economy: the amount's rule, next to the field and in the summary; then fixed.
    open_section(page, "economy")
    fill_section(page, "economy", {**SECTION_FORMS["economy"], "grant": "12.500"})
    page.get_by_label("Ja, avsnittet er ferdig").check()
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Lagre og fortsett").click()
    assert posted.value.status == 400
    message = "Skriv tusener med mellomrom, ikke punktum: for eksempel 12 500."
    summary = page.locator(".ds-error-summary")
    expect(summary.get_by_role("heading")).to_have_text("Rett opp dette før du går videre:")
    expect(summary.get_by_role("link", name=f"Tilskudd i kroner: {message}")).to_have_attribute("href", "#grant")
    grant = page.locator("#grant")
    expect(grant).to_have_attribute("aria-invalid", "true")
    expect(grant).to_have_accessible_description(re.compile(re.escape(message)))
    expect(page.locator("#grant-error")).to_have_text(message)
    expect(page.get_by_label("Ja, avsnittet er ferdig")).to_be_checked()  # the answers are kept
    grant.fill("12 500")
    save_and_continue(page, "economy")

    # Premises: started, not finished; back to the overview.
    page.locator("#text").fill("Møterom i rådhuset.")
    page.get_by_label("Nei, jeg fortsetter senere").check()
    page.get_by_role("button", name="Lagre og gå til oversikten").click()
    expect(page.get_by_role("heading", level=1, name="Skriv avtalen")).to_be_visible()
    expect(page.locator("#task-progress")).to_have_text("4 av 15 avsnitt er ferdige.")
    for key, label in (("parties", "Ferdig"), ("purpose", "Ferdig"), ("activities", "Ferdig"), ("economy", "Ferdig"),
                       ("premises", "Påbegynt"), ("target_group", "Ikke startet"), ("contacts", "Ikke startet")):
        expect(task_status(page, key)).to_have_text(label)

    # The preview is a plain page too.
    page.get_by_role("link", name="Forhåndsvis hele avtalen").click()
    expect(page.locator(".preview-document")).to_contain_text("Leksehjelp")
    page.go_back()

    # Sending is refused while required sections are not complete; the summary links to each.
    page.get_by_role("link", name="Se over og send").click()
    expect(page.get_by_role("heading", level=1, name=CHECK_HEADING)).to_be_visible()
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name=f"Send til {ORG}").click()
    assert posted.value.status == 400
    summary = page.locator("#error-summary")
    expect(summary.get_by_role("heading")).to_have_text("Avtalen kan ikke sendes før disse avsnittene er ferdige:")
    missing = [key for key in REQUIRED_SECTIONS if key not in ("parties", "purpose", "activities")]
    links = summary.get_by_role("link")
    expect(links).to_have_text([str(SECTIONS_BY_KEY[key].title) for key in missing])
    for index, key in enumerate(missing):
        expect(links.nth(index)).to_have_attribute("href", re.compile(rf"/sections/{key}\?return_to=check$"))
    assert _agreement(app)[1] == "draft"

    # A missing section, from the summary: saving it returns to the check page.
    links.first.click()
    expect(page.get_by_role("heading", level=1, name=str(SECTIONS_BY_KEY[missing[0]].title))).to_be_visible()
    fill_section(page, missing[0])
    page.get_by_label("Ja, avsnittet er ferdig").check()
    page.get_by_role("button", name="Lagre og fortsett").click()
    expect(page.get_by_role("heading", level=1, name=CHECK_HEADING)).to_be_visible()
    block = page.locator(".check-section", has=page.locator(f"#check-{missing[0]}"))
    expect(block.locator(".ds-tag")).to_have_text("Ferdig")
