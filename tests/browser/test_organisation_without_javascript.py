"""The organisation's part in Chromium with JavaScript off: plain links and form posts.

The staff part is driven through the Flask test client (as tests/test_whole_path.py
does); the links come from the outbox, as the organisation would get them by email.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from helpers import link_in, login, outbox
from playwright.sync_api import expect
from sqlalchemy import select
from world import write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement, Invitation, Signature

ORG = "Bygda Sanitetslag"
EMAIL = "leder@sanitet.example.no"
AGREEMENT = "Samarbeid om leksehjelp"


def _send_invitation_and_agreement(client, factory) -> tuple[int, str]:
    """As staff: invite the organisation to a meeting and send it an agreement."""
    municipality = factory.municipality("Bygda kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    organization = factory.organization(municipality, name=ORG, email=EMAIL)
    meeting = factory.meeting(municipality)
    login(client, admin)
    response = client.post(f"/meetings/{meeting}/invite", data={"organizations": [str(organization)]})
    assert response.status_code == 302
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    assert response.status_code == 302
    agreement_path = urlsplit(response.headers["Location"]).path.removesuffix("/edit")
    write_agreement(
        client, int(agreement_path.rsplit("/", 1)[1]), AGREEMENT,
        activities={"text": "Leksehjelp på biblioteket hver tirsdag."},
    )
    response = client.post(f"{agreement_path}/send", data={})
    assert response.status_code == 302
    return meeting, agreement_path


@pytest.mark.browser
def test_organisation_answers_and_accepts_without_javascript(
    app, client, factory, live_server, new_context, assert_accessible
):
    meeting, agreement_path = _send_invitation_and_agreement(client, factory)
    invitation_mail, agreement_mail = outbox(app, to=EMAIL)
    invitation_link, review_link = link_in(invitation_mail), link_in(agreement_mail)
    # The absolute links in the emails point at the live server.
    assert f"{live_server.url}{invitation_link}" in invitation_mail.body_text
    assert f"{live_server.url}{review_link}" in agreement_mail.body_text

    page = new_context(java_script_enabled=False).new_page()

    # The invitation: a radio group and a plain form post.
    response = page.goto(invitation_link)
    assert response.status == 200
    assert page.evaluate("() => typeof window.htmx") == "undefined"  # no script ran
    expect(page.get_by_role("heading", level=1, name="Dialogmøte om frivillighet")).to_be_visible()
    expect(page.get_by_text(f"{ORG} er invitert til møte med kommunen.")).to_be_visible()
    page.get_by_label("Nei, vi kommer ikke").check()
    page.get_by_label("Kommentar").fill("Vi har årsmøte samme kveld.")
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("status")).to_contain_text("Svaret er registrert: Kommer ikke.")
    expect(page.get_by_label("Nei, vi kommer ikke")).to_be_checked()
    expect(page.get_by_label("Kommentar")).to_have_value("Vi har årsmøte samme kveld.")
    # The answer can be changed until the meeting starts.
    page.get_by_label("Ja, vi kommer").check()
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("status")).to_contain_text("Svaret er registrert: Kommer.")
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert (invitation.answer, invitation.comment) == ("attending", "Vi har årsmøte samme kveld.")
    assert 'data-tally="attending">1<' in client.get(f"/meetings/{meeting}").get_data(as_text=True)

    # The agreement: a missing field gives the error summary, linking to the fields.
    response = page.goto(review_link)
    assert response.status == 200
    expect(page.locator(".agreement-document")).to_contain_text("Leksehjelp på biblioteket hver tirsdag.")
    page.get_by_label("Fullt navn").fill("Kari Nordmann")
    page.get_by_role("button", name="Godta avtalen").click()
    summary = page.locator(".ds-error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("Rett opp dette før du går videre:")
    role_link = summary.get_by_role("link", name="Rolle i organisasjonen: Skriv rollen din, for eksempel styreleder.")
    authority_link = summary.get_by_role("link", name="Du må bekrefte at du har fullmakt til å binde organisasjonen.")
    expect(role_link).to_have_attribute("href", "#accept-role")
    signature_link = summary.get_by_role("link", name="Signatur: Skriv navnet ditt som signatur.")
    expect(authority_link).to_have_attribute("href", "#accept-authority")
    expect(signature_link).to_have_attribute("href", "#accept-signature")
    expect(summary.get_by_role("link")).to_have_count(3)  # the name was given
    expect(page.get_by_label("Fullt navn")).to_have_value("Kari Nordmann")  # what was typed is kept
    role = page.get_by_label("Rolle i organisasjonen")
    expect(role).to_have_attribute("aria-invalid", "true")
    expect(role).to_have_accessible_description("Skriv rollen din, for eksempel styreleder.")
    role_link.click()  # an in-page link: the browser moves focus to the field
    expect(role).to_be_focused()

    # The same state with JavaScript on, for axe (it needs scripts to run).
    checker = new_context().new_page()
    checker.goto(review_link)
    checker.get_by_role("button", name="Godta avtalen").click()
    expect(checker.locator(".ds-error-summary")).to_be_visible()
    assert_accessible(checker, "review page with the error summary")

    # Accept: a plain post, then the receipt.
    role.fill("styreleder")
    page.get_by_label("Jeg bekrefter at jeg har fullmakt").check()
    page.get_by_label("Signatur", exact=True).fill("Kari Nordmann")
    page.get_by_role("button", name="Godta avtalen").click()
    expect(page.get_by_role("heading", level=1, name="Takk for svaret.")).to_be_visible()
    expect(page.get_by_text("Godtatt, venter på kommunens signatur")).to_be_visible()
    expect(page.get_by_text("Kommunen signerer avtalen")).to_be_visible()
    assert urlsplit(page.url).path == f"{review_link}/done"

    with app.app_context():
        agreement = db.session.scalar(select(Agreement))
        signature = db.session.scalar(select(Signature).where(Signature.party == "organization"))
        assert agreement.state == "accepted"
        assert (signature.name, signature.role) == ("Kari Nordmann", "styreleder")
        assert "Chrome" in signature.user_agent  # recorded from the real browser
    assert "Godtatt, venter på kommunens signatur" in client.get(agreement_path).get_data(as_text=True)

    # The link answered: it shows the answer, read-only.
    response = page.goto(review_link)
    assert response.status == 200
    expect(page.get_by_role("heading", level=1, name="Avtalen er godtatt")).to_be_visible()
    expect(page.get_by_role("button", name="Godta avtalen")).to_have_count(0)
    checker.goto(review_link)
    assert_accessible(checker, "answered link page")
