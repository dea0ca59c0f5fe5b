"""The one-time code on a phone: the organisation asks for the code, mistypes it, then
types it right and reads the agreement, on a 375 px screen with no faults axe-core finds."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from helpers import link_in, login, outbox
from playwright.sync_api import expect
from test_review_on_phone import PHONE, _no_sideways_scrolling
from world import write_agreement

EMAIL = "styreleder.sanitetsforeningen@bygdasanitetslag.example.no"


def _code(app) -> str:
    message = outbox(app, to=EMAIL)[-1]
    assert message.subject == "Engangskode for å åpne samarbeidsavtalen"
    return re.search(r"^\s+(\d{6})$", message.body_text, re.MULTILINE).group(1)


@pytest.mark.browser
def test_the_organisation_enters_the_code_on_a_phone(app, client, factory, new_context, assert_accessible):
    municipality = factory.municipality("Bygda kommune")
    login(client, factory.user(municipality, "admin"))
    assert client.post("/admin/review-links", data={"review_code_required": "y"}).status_code == 302
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, "Samarbeid om leksehjelp", activities={"text": "Leksehjelp hver tirsdag."})
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    review_link = link_in(outbox(app, to=EMAIL)[-1])

    page = new_context(**PHONE).new_page()
    assert page.goto(review_link).status == 200
    expect(page.get_by_role("heading", level=1, name="For å åpne avtalen trenger du en engangskode")).to_be_visible()
    expect(page.get_by_text("s***@bygdasanitetslag.example.no").first).to_be_visible()
    expect(page.locator(".agreement-document")).to_have_count(0)
    _no_sideways_scrolling(page)
    assert_accessible(page, "code page on a phone")

    page.get_by_role("button", name="Send kode").click()
    expect(page.get_by_role("status")).to_contain_text("Vi har sendt en kode til s***@bygdasanitetslag.example.no")
    field = page.get_by_label("Engangskode")
    expect(field).to_have_attribute("inputmode", "numeric")
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    code = _code(app)

    # A mistyped code first: the summary and the message, and the field says both.
    field.fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Åpne avtalen").click()
    summary = page.locator(".ds-error-summary")
    expect(summary.get_by_role("link", name="Engangskode: Koden er feil. Du har 4 forsøk igjen.")).to_have_attribute("href", "#code")
    expect(page.get_by_label("Engangskode")).to_have_accessible_description(
        re.compile(r"^Koden har 6 siffer og står i e-posten vi sendte deg\. Den gjelder til .*Europe/Oslo\)\. Koden er feil\. Du har 4 forsøk igjen\.$")
    )
    _no_sideways_scrolling(page)
    assert_accessible(page, "code page on a phone, with an error")

    page.get_by_label("Engangskode").fill(f"{code[:3]} {code[3:]}")  # as the email shows it, or with a space
    page.get_by_role("button", name="Åpne avtalen").click()
    expect(page.get_by_role("heading", level=1, name="Samarbeidsavtale til gjennomsyn")).to_be_visible()
    expect(page.locator(".agreement-document")).to_contain_text("Leksehjelp hver tirsdag.")
    assert urlsplit(page.url).path == review_link
    _no_sideways_scrolling(page)
