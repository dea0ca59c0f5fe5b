"""Steps through the agreement builder's pages as staff take them, shared by the browser tests.

Field values come from `world.SECTION_FORMS` (one complete, valid form per section);
fields are found by their ids, which are the form's field names.
"""

from __future__ import annotations

import re

from helpers import PASSWORD
from playwright.sync_api import expect
from world import SECTION_FORMS

from dugnad.sections import SECTIONS_BY_KEY, next_section

CHECK_HEADING = "Se over avtalen før du sender den"


def log_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-postadresse").fill(email)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("heading", level=1, name="Oversikt")).to_be_visible()


def start_agreement(page, organization_id: int, organization: str, title: str = "") -> None:
    """From the organisation's page to the new draft's task list."""
    page.goto(f"/organizations/{organization_id}")
    page.get_by_role("link", name="Start en avtale").click()
    expect(page.get_by_role("heading", level=1, name=f"Ny avtale med {organization}")).to_be_visible()
    if title:
        page.get_by_label("Tittel").fill(title)
    page.get_by_role("button", name="Opprett utkast").click()
    expect(page.get_by_role("heading", level=1, name="Skriv avtalen")).to_be_visible()


def open_section(page, key: str) -> None:
    """Follow the section's link in the task list (on the task list page or beside a section)."""
    title = str(SECTIONS_BY_KEY[key].title)
    page.locator("#task-list").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    _scripts_ready(page)


def _scripts_ready(page) -> None:
    """The page's deferred scripts have run: typing before htmx is set up is never autosaved."""
    page.wait_for_load_state("load")


def fill_section(page, key: str, values: dict | None = None) -> None:
    for name, value in (SECTION_FORMS[key] if values is None else values).items():
        field = page.locator(f"#{name}")
        if name.endswith("area_id"):
            field.select_option(value)
        else:
            field.fill(value)


def save_and_continue(page, key: str, complete: bool = True) -> None:
    """Answer "is it complete?", press "Lagre og fortsett", land on the next section (or the check page)."""
    page.get_by_label("Ja, avsnittet er ferdig" if complete else "Nei, jeg fortsetter senere").check()
    page.get_by_role("button", name="Lagre og fortsett").click()
    following = next_section(key)
    heading = str(following.title) if following else CHECK_HEADING
    expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
    _scripts_ready(page)


def task_status(page, key: str):
    """The status tag of a section in the task list."""
    return page.locator(f"#task-list #status-{key}")


SAVED_AT = re.compile(r"^\s*Lagret kl\. \d{2}:\d{2}\.\s*$")
