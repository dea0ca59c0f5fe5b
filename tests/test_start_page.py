"""The start page tells the municipality of every answer from an organisation, the
responsible person's own first, until someone acts on it."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from helpers import link_in, login, outbox
from world import ACCEPT, countersign_form, write_agreement

ORG_EMAIL = "leder@sanitet.example.no"


def _answers(page: str) -> str:
    """The "answers from the organisations" list of the start page ("" when absent)."""
    match = re.search(r'Svar fra organisasjonene</h3>\s*<ul class="ds-list">(.*?)</ul>', page, re.S)
    return html.unescape(re.sub(r"\s+", " ", match.group(1))) if match else ""


def _sent(app, client, organization: int, title: str) -> tuple[int, str]:
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, title)
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return agreement_id, link_in(outbox(app, to=ORG_EMAIL)[-1])


def test_every_answer_shows_on_the_start_page_until_someone_acts_on_it(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    admin = factory.user(municipality, "admin")
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=ORG_EMAIL)
    login(client, staff)
    accepted, accept_link = _sent(app, client, organization, "Leksehjelp")
    _declined, decline_link = _sent(app, client, organization, "Språkkafé")
    assert _answers(client.get("/").get_data(as_text=True)) == ""  # nothing answered yet

    visitor = app.test_client()
    assert visitor.post(accept_link, data=ACCEPT).status_code == 302
    assert visitor.post(decline_link, data={"action": "decline", "decline-reason": "Vi har ikke folk nok."}).status_code == 302

    # The responsible staff member sees both answers, accepted included, as their own.
    answers = _answers(client.get("/").get_data(as_text=True))
    assert "Leksehjelp" in answers and "Språkkafé" in answers
    assert answers.count("Bygda Sanitetslag svarte") == 2 and answers.count("du er ansvarlig") == 2

    # The administrator sees the accepted one among those to countersign, not twice.
    admin_client = app.test_client()
    login(admin_client, admin)
    admin_page = admin_client.get("/").get_data(as_text=True)
    assert "Språkkafé" in _answers(admin_page) and "Leksehjelp" not in _answers(admin_page)
    assert "du er ansvarlig" not in _answers(admin_page)  # the staff member's, not the admin's
    assert "Klar for kommunens signatur" in admin_page

    # Countersigned: the answer has been acted on and leaves the list.
    response = admin_client.post(f"/agreements/{accepted}/countersign", data=countersign_form(app, accepted))
    assert response.status_code == 302
    answers = _answers(client.get("/").get_data(as_text=True))
    assert "Leksehjelp" not in answers and "Språkkafé" in answers


def test_another_municipalitys_answers_never_show(app, client, factory):
    mine, theirs = factory.municipality(), factory.municipality()
    login(client, factory.user(mine, "staff"))
    other = app.test_client()
    login(other, factory.user(theirs, "staff"))
    _agreement_id, link = _sent(app, other, factory.organization(theirs, name="Nabolaget", email=ORG_EMAIL), "Nabohjelp")
    assert app.test_client().post(link, data=ACCEPT).status_code == 302
    assert "Nabohjelp" in _answers(other.get("/").get_data(as_text=True))
    assert _answers(client.get("/").get_data(as_text=True)) == ""
