"""The organisation's review page on a phone (375×667, the size of a small iPhone):
the agreement reads without scrolling sideways, the PDF can be downloaded, and it
can be accepted there, with no accessibility faults axe-core can find."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from helpers import link_in, login, outbox
from playwright.sync_api import expect
from sqlalchemy import select
from world import write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement, Signature

EMAIL = "leder@sanitet.example.no"
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _no_sideways_scrolling(page) -> None:
    # Measure only once the stylesheets have loaded: right after a form post the new
    # DOM can be laid out unstyled for a moment, which is wider than any styled page.
    page.wait_for_load_state("load")
    width, wide = page.evaluate(
        """() => [document.documentElement.scrollWidth,
            [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > 375)
            .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} ${Math.round(e.getBoundingClientRect().right)}px`)
            .slice(0, 15)]"""
    )
    # On failure, name the elements that stick out: that is where the fix goes.
    assert width <= 375, f"the page is {width} px wide on a 375 px screen: {wide}"


@pytest.mark.browser
def test_the_organisation_reads_downloads_and_accepts_on_a_phone(app, client, factory, new_context, assert_accessible):
    municipality = factory.municipality("Bygda kommune")
    login(client, factory.user(municipality, "admin"))
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    assert response.status_code == 302
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    # Long words and a long address are what push a narrow page wide.
    write_agreement(
        client, agreement_id, "Samarbeid om leksehjelp og flyktningguideordningen",
        activities={"rows-0-where": "Frivilligsentralen i Kommunehusets underetasje", "text": "Leksehjelp hver tirsdag."},
        contacts={"organization_email": "styreleder.sanitetsforeningen@bygdasanitetslag.example.no"},
    )
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    review_link = link_in(outbox(app, to=EMAIL)[-1])

    page = new_context(**PHONE).new_page()
    assert page.goto(review_link).status == 200
    document = page.locator(".agreement-document")
    expect(document).to_contain_text("Leksehjelp hver tirsdag.")
    _no_sideways_scrolling(page)
    box = document.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375  # the text itself fits the screen
    assert_accessible(page, "review page on a phone")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Last ned denne versjonen som PDF").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-versjon-1.pdf")
    assert download.path().read_bytes().startswith(b"%PDF")

    # A mistake first: the summary and the messages fit the screen too.
    page.get_by_label("Fullt navn").fill("Kari Nordmann")
    page.get_by_label("Rolle i organisasjonen").fill("styreleder")
    page.get_by_label("Jeg bekrefter at jeg har fullmakt").check()
    page.get_by_label("Signatur", exact=True).fill("Kari N.")
    page.get_by_role("button", name="Godta avtalen").click()
    signature = page.get_by_label("Signatur", exact=True)
    expect(signature).to_have_accessible_description(
        "Skriv det fulle navnet ditt en gang til. Det er din elektroniske signatur. "
        "Signaturen må være det samme navnet som i «Fullt navn»."
    )
    _no_sideways_scrolling(page)
    assert_accessible(page, "review page on a phone, with an error")

    expect(page.get_by_label("Jeg bekrefter at jeg har fullmakt")).to_be_checked()  # kept, as typed text is
    signature.fill("Kari Nordmann")
    page.get_by_role("button", name="Godta avtalen").click()
    expect(page.get_by_role("heading", level=1, name="Takk for svaret.")).to_be_visible()
    _no_sideways_scrolling(page)
    assert_accessible(page, "receipt on a phone")
    with app.app_context():
        assert db.session.get(Agreement, agreement_id).state == "accepted"
        assert db.session.scalar(select(Signature.name).where(Signature.party == "organization")) == "Kari Nordmann"
