"""The agreements list shows 25 at a time, so it costs the same whatever the number of
agreements (a host has municipalities with thousands); filters survive the page links."""

from __future__ import annotations

import html
import re

from helpers import login


def _rows(page: str) -> list[str]:
    return re.findall(r'<td><a class="ds-link" href="/agreements/(\d+)">', page)


def _links(page: str) -> list[str]:
    nav = re.search(r'<nav class="pagination".*?</nav>', page, re.S)
    return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', nav.group(0))] if nav else []


def test_agreements_come_25_to_a_page_with_links_that_keep_the_filter(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    organization = factory.organization(municipality, name="Bygda Sanitetslag")
    for _ in range(30):
        assert client.post("/agreements/new", data={"organization_id": str(organization)}).status_code == 302

    first = client.get("/agreements/").get_data(as_text=True)
    assert len(_rows(first)) == 25 and "30 avtaler" in first
    assert "/agreements/?page=2" in _links(first)
    second = client.get("/agreements/?page=2").get_data(as_text=True)
    assert len(_rows(second)) == 5
    assert not set(_rows(first)) & set(_rows(second))  # no agreement on both pages

    filtered = client.get("/agreements/?state=draft").get_data(as_text=True)
    assert "/agreements/?state=draft&page=2" in _links(filtered)
    assert _rows(client.get("/agreements/?state=signed").get_data(as_text=True)) == []

    # A page past the end (an old bookmark) shows the last one; nonsense is page 1.
    assert _rows(client.get("/agreements/?page=999").get_data(as_text=True)) == _rows(second)
    for nonsense in ("abc", "-1", "0", "9" * 20):
        response = client.get("/agreements/", query_string={"page": nonsense})
        assert response.status_code == 200 and _rows(response.get_data(as_text=True)) == _rows(first)
