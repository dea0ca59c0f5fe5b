"""The start page tells the municipality of every answer from an organisation, the
responsible person's own first, until someone acts on it."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import urlsplit

from helpers import link_in, login, outbox
from sqlalchemy import event, select
from world import ACCEPT, countersign_form, meeting_form, write_agreement

from dugnad.extensions import db
from dugnad.models import ActivityArea
from dugnad.registry import PIPELINE
from dugnad.timeutil import today_oslo

ORG_EMAIL = "leder@sanitet.example.no"


def _answers(page: str) -> str:
    """The "answers from the organisations" list of the start page ("" when absent)."""
    match = re.search(r'Svar fra organisasjonene</h3>\s*<ul class="ds-list">(.*?)</ul>', page, re.S)
    return html.unescape(re.sub(r"\s+", " ", match.group(1))) if match else ""


def _sent(app, client, organization: int, title: str, to: str = ORG_EMAIL, **sections: dict) -> tuple[int, str]:
    """(agreement id, review link) of an agreement written with `sections` overrides and sent."""
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, title, **sections)
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return agreement_id, link_in(outbox(app, to=to)[-1])


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


# --- The pipeline, "what needs me" item by item, coverage, and the cost of the page --------

def _pipeline(page: str) -> dict[str, int]:
    """The pipeline table's numbers, by the stage its link filters on."""
    return {stage: int(count) for stage, count in re.findall(
        r'<th scope="row"><a class="ds-link" href="/organizations/\?stage=(\w+)">[^<]*</a></th><td>(\d+)</td>', page)}


def _registry_count(client, stage: str) -> int:
    page = client.get("/organizations/", query_string={"stage": stage}).get_data(as_text=True)
    return len(re.findall(r'<td><a class="ds-link" href="/organizations/\d+">', page))


def _section(page: str, heading: str) -> str:
    """The list under a "what needs me" heading ("" when the heading is absent)."""
    match = re.search(rf"{re.escape(heading)}</h3>\s*<ul class=\"ds-list\">(.*?)</ul>", page, re.S)
    return html.unescape(re.sub(r"\s+", " ", match.group(1))) if match else ""


def test_the_pipeline_counts_equal_the_registrys_filters(app, client, factory):
    from test_registry import build_stages

    municipality = factory.municipality()
    client.municipality_id = municipality
    client.admin_email = factory.user(municipality, "admin")
    login(client, factory.user(municipality, "staff"))
    build_stages(app, client, factory)  # one organisation at each of the eight steps
    factory.organization(municipality, name="Nytt lag")  # and one more not invited
    page = client.get("/").get_data(as_text=True)
    numbers = _pipeline(page)
    assert list(numbers) == list(PIPELINE)
    assert numbers == {stage: 2 if stage == "not_invited" else 1 for stage in PIPELINE}
    for stage, count in numbers.items():
        assert _registry_count(client, stage) == count, stage
    # The chart carries the same numbers, a title, and a link per bar.
    chart = re.search(r"<svg class=\"pipeline-chart\".*?</svg>", page, re.S).group(0)
    assert 'role="group"' in chart and '<title id="pipeline-title">Organisasjoner per steg</title>' in chart
    assert 'aria-label="Ikke invitert: 2 organisasjoner"' in chart and 'aria-label="Avtale i kraft: 1 organisasjon"' in chart
    assert chart.count('<a href="/organizations/?stage=') == len(PIPELINE)
    # htmx refreshes the chart alone, with the same numbers.
    fragment = client.get("/overview/pipeline").get_data(as_text=True)
    assert _pipeline(fragment) == numbers and "<html" not in fragment
    assert 'hx-trigger="every 60s, focus from:window"' in fragment


def test_each_item_appears_with_its_event_and_leaves_with_the_next(app, client, factory):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    login(client, admin)
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=ORG_EMAIL)
    home = lambda: client.get("/").get_data(as_text=True)  # noqa: E731
    assert "Ingenting venter på deg akkurat nå." in home()

    # An invitation without an answer, until the organisation answers.
    response = client.post("/meetings/new", data=meeting_form("Dialogmøte om bosetting"))
    meeting = int(re.search(r"/meetings/(\d+)", response.headers["Location"]).group(1))
    assert client.post(f"/meetings/{meeting}/invite", data={"organizations": [str(organization)]}).status_code in (204, 302)
    assert "Dialogmøte om bosetting" in _section(home(), "Invitasjoner uten svar")
    assert "1 organisasjon har ikke svart" in _section(home(), "Invitasjoner uten svar")
    answer = app.test_client().post(link_in(outbox(app, to=ORG_EMAIL)[-1]), data={"answer": "attending"})
    assert answer.status_code in (200, 302)
    assert _section(home(), "Invitasjoner uten svar") == ""

    # Sent: waiting for the organisation, until it answers; then to countersign.
    agreement_id, link = _sent(app, client, organization, "Leksehjelp", duration={
        "start": "2020-01-01", "end": (today_oslo() + timedelta(days=30)).isoformat(), "notice_months": "1"})
    assert "Leksehjelp" in _section(home(), "Venter på organisasjonen")
    assert app.test_client().post(link, data=ACCEPT).status_code == 302
    assert _section(home(), "Venter på organisasjonen") == ""
    assert "Leksehjelp" in _section(home(), "Klar for kommunens signatur")

    # Countersigned, ending within 60 days: expiring, until terminated (or renewed).
    assert client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id)).status_code == 302
    page = home()
    assert _section(page, "Klar for kommunens signatur") == ""
    expiring = _section(page, "Avtaler som snart utløper")
    assert "Leksehjelp" in expiring and (today_oslo() + timedelta(days=30)).strftime("%d.%m.%Y") in expiring
    response = client.post(f"/agreements/{agreement_id}/terminate", data={
        "ends_on": today_oslo().strftime("%d.%m.%Y"), "reason": "Aktiviteten er lagt ned."})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert _section(home(), "Avtaler som snart utløper") == ""


def test_coverage_shows_the_areas_no_agreement_in_force_covers(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "admin"))
    with app.app_context():
        areas = dict(db.session.execute(
            select(ActivityArea.name, ActivityArea.id).where(ActivityArea.municipality_id == municipality)).all())
    assert {"Leksehjelp", "Idrett"} <= set(areas)
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=ORG_EMAIL)
    agreement_id, link = _sent(app, client, organization, "Leksehjelp", activities={
        "rows-0-area_id": str(areas["Leksehjelp"])}, duration={"start": "2020-01-01", "end": "2099-12-31", "notice_months": "3"})
    page = client.get("/").get_data(as_text=True)
    assert re.search(r"<th scope=\"row\">Leksehjelp</th><td><span class=\"ds-tag\"[^>]*>Ingen</span>", page)  # not in force yet
    assert app.test_client().post(link, data=ACCEPT).status_code == 302
    assert client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id)).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert '<th scope="row">Leksehjelp</th><td>1</td>' in page
    gaps = html.unescape(re.search(r"Ingen avtale dekker: ([^<]*)\.</p>", page).group(1)).split(", ")
    assert "Idrett" in gaps and "Leksehjelp" not in gaps


def test_the_start_page_costs_the_same_queries_whatever_the_size(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "admin"))

    def statements() -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    def grow(n: int) -> None:
        for i in range(n):
            organization = factory.organization(municipality, name=f"Lag {i}", email=f"lag{i}@lag.example.no")
            _sent(app, client, organization, f"Avtale {i}", to=f"lag{i}@lag.example.no")

    grow(1)
    small = statements()
    grow(3)
    assert statements() == small


def test_long_lists_show_the_first_eight_and_link_to_all(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    organization = factory.organization(municipality, name="Bygda Sanitetslag", email=ORG_EMAIL)
    for n in range(9):
        _sent(app, client, organization, f"Avtale nummer {n}")
    client.post("/agreements/new", data={"organization_id": str(organization)})  # a draft, not sent
    page = client.get("/").get_data(as_text=True)
    waiting = _section(page, "Venter på organisasjonen")
    assert waiting.count("Avtale nummer") == 8
    link = re.search(r'<a class="ds-link" href="([^"]+)">Vis alle 9</a>', page).group(1)
    assert html.unescape(link) == "/agreements/?state=sent"
    listed = client.get(html.unescape(link)).get_data(as_text=True)
    assert listed.count("Avtale nummer") == 9 and "Viser avtaler med status: Sendt" in listed
    everything = client.get("/agreements/").get_data(as_text=True)
    assert everything.count("<tr>") == 11  # the header, nine sent and the draft
