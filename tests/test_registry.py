"""The organisation registry: search, filters, sorting and pages in the URL; contacts,
activity areas and notes on the form; soft delete with undo; queries per page that do
not grow with the registry."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import link_in, login, outbox
from sqlalchemy import event, func, select
from world import ACCEPT, countersign_form, meeting_form, write_agreement

from dugnad.extensions import db
from dugnad.models import (
    ActivityArea,
    Agreement,
    AuditEvent,
    Contact,
    Invitation,
    Meeting,
    Organization,
)
from dugnad.registry import PIPELINE
from dugnad.timeutil import now_utc

# --- Helpers ----------------------------------------------------------------------------


def _rows(page: str) -> list[str]:
    """The organisation names in the registry table, in order."""
    return re.findall(r'<td><a class="ds-link" href="/organizations/\d+">([^<]+)</a>', page)


def _get(client, **args) -> str:
    response = client.get("/organizations/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _area_id(app, municipality_id: int, name: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(ActivityArea.id).where(ActivityArea.municipality_id == municipality_id, ActivityArea.name == name)
        )


def _set(app, organization_id: int, **values) -> None:
    """Set columns the factory does not (type, areas by id), as the form would have."""
    with app.app_context():
        organization = db.session.get(Organization, organization_id)
        area_ids = values.pop("areas", None)
        for key, value in values.items():
            setattr(organization, key, value)
        if area_ids is not None:
            organization.activity_areas = [db.session.get(ActivityArea, i) for i in area_ids]
        db.session.commit()


def _organization(app, organization_id: int) -> Organization:
    with app.app_context():
        organization = db.session.scalar(
            select(Organization).where(Organization.id == organization_id)
        )
        # Load what the tests look at before leaving the session.
        _ = organization.contacts, organization.activity_areas
        db.session.expunge_all()
        return organization


@pytest.fixture
def staff(client, factory):
    """A logged-in staff member's client; `client.municipality_id` is their municipality."""
    municipality = factory.municipality()
    client.municipality_id = municipality
    client.admin_email = factory.user(municipality, "admin")
    login(client, factory.user(municipality, "staff"))
    return client


def _invite(client, meeting_id: int, organization_id: int) -> None:
    response = client.post(f"/meetings/{meeting_id}/invite", data={"organizations": [str(organization_id)]})
    assert response.status_code in (204, 302), response.get_data(as_text=True)[:1000]


def _new_agreement(client, organization_id: int) -> int:
    response = client.post("/agreements/new", data={"organization_id": str(organization_id)})
    assert response.status_code == 302
    return int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))


def _send_agreement(app, client, organization_id: int, email: str, duration: dict | None = None) -> tuple[int, str]:
    agreement_id = _new_agreement(client, organization_id)
    write_agreement(client, agreement_id, "Samarbeid", **({"duration": duration} if duration else {}))
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return agreement_id, link_in(outbox(app, to=email)[-1])


def build_stages(app, client, factory) -> dict[str, int]:
    """One organisation at each step of the pipeline, reached through the app's own pages."""
    municipality = client.municipality_id
    ids = {stage: factory.organization(municipality, name=f"Lag {stage}", email=f"{stage}@lag.example.no")
           for stage in PIPELINE}
    response = client.post("/meetings/new", data=meeting_form("Dialogmøte"))
    assert response.status_code == 302
    meeting = int(re.search(r"/meetings/(\d+)", response.headers["Location"]).group(1))
    for stage in ("invited", "answered", "met"):
        _invite(client, meeting, ids[stage])
    visitor = app.test_client()
    for stage in ("answered", "met"):
        answer = visitor.post(link_in(outbox(app, to=f"{stage}@lag.example.no")[-1]), data={"answer": "attending"})
        assert answer.status_code in (200, 302), answer.get_data(as_text=True)[:1000]
    # The meeting has been held (moved into the past), and "met" came.
    with app.app_context():
        held = db.session.get(Meeting, meeting)
        held.starts_at, held.ends_at = now_utc() - timedelta(hours=3), now_utc() - timedelta(hours=1)
        came = db.session.scalar(select(Invitation.id).where(Invitation.organization_id == ids["met"]))
        version = held.version
        db.session.commit()
    response = client.post(f"/meetings/{meeting}/attendance", data={"attended": [str(came)], "notes": "", "version": str(version)})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    _new_agreement(client, ids["drafted"])
    _send_agreement(app, client, ids["sent"], "sent@lag.example.no")
    admin = app.test_client()
    login(admin, client.admin_email)
    # Signed, in force from 2027 (the test agreement's period); and signed, in force today.
    for stage, period in (("signed", None), ("active", {"start": "2020-01-01", "end": "2099-12-31", "notice_months": "3"})):
        agreement_id, link = _send_agreement(app, client, ids[stage], f"{stage}@lag.example.no", duration=period)
        assert visitor.post(link, data=ACCEPT).status_code == 302
        response = admin.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
        assert response.status_code == 302
        with app.app_context():
            assert db.session.get(Agreement, agreement_id).state == "signed"
    return ids


# --- Search, filters, sorting, pages ------------------------------------------------------


def test_search_matches_name_org_number_and_contact(app, staff, factory):
    municipality = staff.municipality_id
    factory.organization(municipality, name="Surnadal Røde Kors", org_number="991000003", email="kari@rk.example.no")
    factory.organization(municipality, name="Surnadal IL", email="ola@il.example.no")
    assert _rows(_get(staff, q="røde")) == ["Surnadal Røde Kors"]
    assert _rows(_get(staff, q="RØDE")) == ["Surnadal Røde Kors"]
    assert _rows(_get(staff, q="991 000")) == ["Surnadal Røde Kors"]  # spaces as typed from a letter
    assert _rows(_get(staff, q="ola@il")) == ["Surnadal IL"]  # the contact's email
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.email == "ola@il.example.no"))
        contact.name = "Ola Nordmann"
        db.session.commit()
    assert _rows(_get(staff, q="nordmann")) == ["Surnadal IL"]  # the contact's name
    # Æ, Ø and Å fold like other letters, on SQLite as on PostgreSQL.
    factory.organization(municipality, name="Øyra Åsen Ærlige Venner")
    assert _rows(_get(staff, q="øyra åsen ærlige")) == ["Øyra Åsen Ærlige Venner"]
    assert _rows(_get(staff, q="ØYRA ÅSEN")) == ["Øyra Åsen Ærlige Venner"]
    page = _get(staff, q="finnes ikke")
    assert _rows(page) == [] and "Ingen treff på «finnes ikke»." in page


def test_filter_by_type_and_activity_area(app, staff, factory):
    municipality = staff.municipality_id
    sports = factory.organization(municipality, name="Idrettslaget")
    choir = factory.organization(municipality, name="Koret")
    factory.organization(municipality, name="Uten type")
    leksehjelp = _area_id(app, municipality, "Leksehjelp")
    idrett = _area_id(app, municipality, "Idrett")
    _set(app, sports, org_type="sports", areas=[idrett, leksehjelp])
    _set(app, choir, org_type="culture", areas=[leksehjelp])

    assert _rows(_get(staff, type="sports")) == ["Idrettslaget"]
    assert _rows(_get(staff, type="culture")) == ["Koret"]
    assert _rows(_get(staff, type="other")) == ["Uten type"]
    assert _rows(_get(staff, area=leksehjelp)) == ["Idrettslaget", "Koret"]
    assert _rows(_get(staff, area=idrett)) == ["Idrettslaget"]
    assert _rows(_get(staff, area=leksehjelp, type="culture")) == ["Koret"]


def test_each_stage_is_a_filter_and_a_tag(app, staff, factory):
    ids = build_stages(app, staff, factory)
    labels = {
        "not_invited": "Ikke invitert",
        "invited": "Invitert",
        "answered": "Har svart",
        "met": "Har vært på møte",
        "drafted": "Avtale under arbeid",
        "sent": "Avtale sendt",
        "signed": "Avtale signert",
        "active": "Avtale i kraft",
    }
    for stage, organization_id in ids.items():
        page = _get(staff, stage=stage)
        assert _rows(page) == [f"Lag {stage}"], stage
        assert '<span class="ds-tag" data-color="' in page and f">{labels[stage]}</span>" in page
        # The organisation's own page names the same stage.
        assert f">{labels[stage]}</span>" in staff.get(f"/organizations/{organization_id}").get_data(as_text=True)
    # Unfiltered, each row carries its own stage.
    page = _get(staff)
    for stage in ids:
        row = re.search(rf"Lag {stage}</a>.*?</tr>", page, re.S).group(0)
        assert f">{labels[stage]}</span>" in row, stage


def test_sorting(app, staff, factory):
    municipality = staff.municipality_id
    for name in ("Bjørkelaget", "Aalaget", "Cederlaget"):
        factory.organization(municipality, name=name)
    assert _rows(_get(staff)) == ["Aalaget", "Bjørkelaget", "Cederlaget"]
    assert _rows(_get(staff, sort="-name")) == ["Cederlaget", "Bjørkelaget", "Aalaget"]
    assert _rows(_get(staff, sort="-created")) == ["Cederlaget", "Aalaget", "Bjørkelaget"]  # newest first


def test_pages_of_25_with_a_count(app, staff, factory):
    municipality = staff.municipality_id
    for n in range(30):
        factory.organization(municipality, name=f"Lag {n:02d}", email="")
    first = _get(staff)
    assert _rows(first) == [f"Lag {n:02d}" for n in range(25)]
    assert "Viser 1–25 av 30" in first
    assert 'href="/organizations/?page=2"' in first and 'rel="next"' in first
    second = _get(staff, page=2)
    assert _rows(second) == [f"Lag {n:02d}" for n in range(25, 30)]
    assert "Viser 26–30 av 30" in second
    # Past the end shows the last page; nonsense shows the first.
    assert _rows(_get(staff, page=99)) == _rows(second)
    assert _rows(_get(staff, page="abc")) == _rows(first)
    assert _rows(_get(staff, page="-1")) == _rows(first)
    assert _rows(_get(staff, page="0")) == _rows(first)


def test_filters_round_trip_through_the_url(app, staff, factory):
    municipality = staff.municipality_id
    area = _area_id(app, municipality, "Leksehjelp")
    for n in range(27):
        organization = factory.organization(municipality, name=f"Korps {n:02d}")
        _set(app, organization, org_type="culture", areas=[area])
    args = {"q": "korps", "type": "culture", "area": str(area), "stage": "not_invited", "sort": "-name"}
    page = _get(staff, **args)
    # The form shows the filter it came from, so the view can be bookmarked and refined.
    assert 'value="korps"' in page
    for name, value in (("type", "culture"), ("area", str(area)), ("stage", "not_invited"), ("sort", "-name")):
        select_html = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S).group(0)
        assert re.search(rf'<option value="{re.escape(value)}" selected>', select_html), name
    # Page links keep every filter.
    next_link = re.search(r'<a class="ds-link" href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(next_link).query) == {**{k: [v] for k, v in args.items()}, "page": ["2"]}
    assert _rows(staff.get(next_link).get_data(as_text=True)) == ["Korps 01", "Korps 00"]
    # htmx gets the same URL back to push, in its short form (defaults left out).
    response = staff.get("/organizations/", query_string={**args, "page": "1"}, headers={"HX-Request": "true"})
    pushed = urlsplit(response.headers["HX-Push-Url"])
    assert pushed.path == "/organizations/"
    assert parse_qs(pushed.query) == {k: [v] for k, v in args.items()}
    plain = staff.get("/organizations/", query_string={"q": "", "type": "", "sort": "name"}, headers={"HX-Request": "true"})
    assert plain.headers["HX-Push-Url"] == "/organizations/"


def test_unknown_filter_values_are_ignored(app, staff, factory):
    municipality = staff.municipality_id
    factory.organization(municipality, name="Et lag")
    other_area = _area_id(app, factory.municipality(), "Leksehjelp")
    for args in ({"type": "bogus"}, {"stage": "won"}, {"sort": "id; drop table"}, {"area": str(other_area)},
                 {"area": "x"}, {"area": "99999999999999999999"}):
        assert _rows(_get(staff, **args)) == ["Et lag"], args


def test_htmx_gets_only_the_rows(app, staff, factory):
    factory.organization(staff.municipality_id, name="Et lag")
    full = staff.get("/organizations/", query_string={"q": "lag"})
    fragment = staff.get("/organizations/", query_string={"q": "lag"}, headers={"HX-Request": "true"})
    for response in (full, fragment):
        assert "HX-Request" in response.headers["Vary"]
    full_page, rows = full.get_data(as_text=True), fragment.get_data(as_text=True)
    assert "<html" in full_page and 'role="search"' in full_page and 'id="organization-rows"' in full_page
    assert "<html" not in rows and 'role="search"' not in rows
    assert _rows(rows) == ["Et lag"] and "Viser 1–1 av 1" in rows
    # The GET form works without JavaScript: a submit button, and htmx attributes on top.
    form = re.search(r'<form method="get".*?</form>', full_page, re.S).group(0)
    assert 'type="submit"' in form and "hx-get=" in form


def test_row_shows_type_contact_and_missing_email(app, staff, factory):
    municipality = staff.municipality_id
    with_contact = factory.organization(municipality, name="Med kontakt", email="kari@lag.example.no")
    _set(app, with_contact, org_type="humanitarian")
    factory.organization(municipality, name="Uten e-post", email="")
    page = _get(staff)
    row = re.search(r"Med kontakt</a>.*?</tr>", page, re.S).group(0)
    assert "Humanitær organisasjon" in row and "Leder" in row and "kari@lag.example.no" in row
    assert "E-post mangler" not in row
    row = re.search(r"Uten e-post</a>.*?</tr>", page, re.S).group(0)
    assert "E-post mangler" in row and "Annet" in row


def test_queries_per_page_do_not_grow_with_the_registry(app, staff, factory):
    """The same number of SQL statements for a page of 10 organisations as for a full page of 25 out of 60."""
    municipality = staff.municipality_id
    areas = [_area_id(app, municipality, name) for name in ("Leksehjelp", "Idrett")]

    def add(count: int) -> None:
        for _ in range(count):
            organization = factory.organization(municipality)
            _set(app, organization, areas=areas)

    def statements(**args) -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        # The request outside that app context: its own session, nothing cached from before.
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert staff.get("/organizations/", query_string=args, headers={"HX-Request": "true"}).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    add(10)
    small = statements(), statements(q="lag", stage="not_invited")
    add(50)
    large = statements(), statements(q="lag", stage="not_invited")
    assert small == large, (small, large)
    assert small[0] <= 8


# --- Create and edit: contacts, type, areas, notes ------------------------------------------

BASE = {"name": "Surnadal Røde Kors", "org_type": "humanitarian"}


def _contact(n: int, name: str, email: str = "", primary: bool = False, **more) -> dict:
    data = {f"contacts-{n}-name": name, f"contacts-{n}-email": email}
    if primary:
        data[f"contacts-{n}-is_primary"] = "y"
    data.update({f"contacts-{n}-{key}": value for key, value in more.items()})
    return data


def _summary_links(page: str) -> list[str]:
    summary = re.search(r'<div class="ds-error-summary".*?</div>', page, re.S).group(0)
    return re.findall(r'href="#([^"]+)"', summary)


def _new_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(re.search(r"/organizations/(\d+)", response.headers["Location"]).group(1))


def test_several_contacts_with_one_primary(app, staff):
    data = {
        **BASE,
        **_contact(0, "Kari Nordmann", "kari@rk.example.no", role="nestleder", phone="+47 900 11 222"),
        **_contact(1, "Per Hansen", "per@rk.example.no", primary=True, role="styreleder"),
        **_contact(2, ""),  # an empty row is left out
    }
    organization_id = _new_id(staff.post("/organizations/new", data=data))
    organization = _organization(app, organization_id)
    assert [(c.name, c.is_primary) for c in organization.contacts] == [("Per Hansen", True), ("Kari Nordmann", False)]
    assert organization.notify_email == "per@rk.example.no"
    assert organization.contacts[1].phone == "+47 900 11 222"
    page = staff.get(f"/organizations/{organization_id}").get_data(as_text=True)
    assert "Per Hansen, styreleder – per@rk.example.no (hovedkontakt)" in page
    assert "Kari Nordmann, nestleder" in page


def test_a_single_contact_is_primary_without_ticking(app, staff):
    organization_id = _new_id(staff.post("/organizations/new", data={**BASE, **_contact(0, "Kari", "kari@rk.example.no")}))
    assert [c.is_primary for c in _organization(app, organization_id).contacts] == [True]


def test_two_primaries_or_none_are_refused(app, staff):
    two = {**BASE, **_contact(0, "Kari", "kari@rk.example.no", primary=True), **_contact(1, "Per", "per@rk.example.no", primary=True)}
    response = staff.post("/organizations/new", data=two)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _summary_links(page) == ["contacts-1-is_primary"]
    assert "Bare én kontaktperson kan være hovedkontakt." in page
    assert 'id="contacts-1-is_primary-error"' in page

    none = {**BASE, **_contact(0, "Kari", "kari@rk.example.no"), **_contact(1, "Per", "per@rk.example.no")}
    response = staff.post("/organizations/new", data=none)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _summary_links(page) == ["contacts-0-is_primary"]
    assert "Velg hvem som er hovedkontakt." in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == 0


def test_each_contact_row_is_validated_and_linked_from_the_summary(app, staff):
    data = {
        **BASE,
        **_contact(0, "Kari", "kari@rk.example.no", primary=True),
        **_contact(1, "", "per@rk.example.no"),  # details without a name
        **_contact(2, "Ola", "ola@", phone="ring meg"),
        **_contact(3, "R" * 121),
    }
    response = staff.post("/organizations/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    links = _summary_links(page)
    assert links == ["contacts-1-name", "contacts-2-email", "contacts-2-phone", "contacts-3-name"]
    for field in links:
        assert f'id="{field}"' in page and f'id="{field}-error"' in page
    assert "Kontaktperson 2, navn på kontaktperson: Skriv navnet på kontaktpersonen." in page
    assert "Telefonnummeret kan bare ha siffer" in page
    assert 'value="ola@"' in page and 'value="ring meg"' in page  # typed input kept


def test_add_a_contact_row_without_javascript_and_with_htmx(app, staff):
    data = {**BASE, **_contact(0, "Kari", "kari@rk.example.no"), "add_contact": "1"}
    response = staff.post("/organizations/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="Kari"' in page and 'value="Surnadal Røde Kors"' in page  # nothing typed is lost
    assert 'id="contacts-1-name"' in page and 'id="contacts-2-name"' not in page
    assert "autofocus" in re.search(r'<input[^>]*id="contacts-1-name"[^>]*>', page).group(0)  # type on at once
    assert "ds-error-summary" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == 0

    response = staff.post("/organizations/new", data=data, headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<fieldset class="ds-fieldset stack" id="contacts">' in fragment and "<html" not in fragment
    assert 'id="contacts-1-name"' in fragment and 'name="name"' not in fragment


def test_remove_a_contact_row(app, staff):
    data = {**BASE, **_contact(0, "Kari", "kari@rk.example.no"), **_contact(1, "Per", "per@rk.example.no", primary=True)}
    organization_id = _new_id(staff.post("/organizations/new", data=data))
    before = {c.name: c.id for c in _organization(app, organization_id).contacts}
    url = f"/organizations/{organization_id}/edit"
    edit_page = staff.get(url).get_data(as_text=True)
    assert 'value="Per"' in edit_page and 'value="Kari"' in edit_page
    # Per (primary) is row 0 on the page, Kari row 1: remove Per.
    posted = {**BASE, **_contact(0, "Per", "per@rk.example.no", primary=True, id=str(before["Per"])),
              **_contact(1, "Kari", "kari@rk.example.no", id=str(before["Kari"]))}
    response = staff.post(url, data={**posted, "remove_contact": "0"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="Per"' not in page and 'id="contacts-1-name"' not in page
    assert 'value="Kari"' in re.search(r'<input[^>]*id="contacts-0-name"[^>]*>', page).group(0)
    assert f'name="contacts-0-id" type="hidden" value="{before["Kari"]}"' in page
    # Nothing is saved until "Lagre".
    assert len(_organization(app, organization_id).contacts) == 2
    response = staff.post(url, data={**BASE, **_contact(0, "Kari", "kari@rk.example.no", id=str(before["Kari"]))})
    assert response.status_code == 302
    contacts = _organization(app, organization_id).contacts
    # Kari keeps her row (same id) and becomes primary as the only contact.
    assert [(c.id, c.name, c.is_primary) for c in contacts] == [(before["Kari"], "Kari", True)]


def test_a_contact_id_of_another_organisation_is_not_taken_over(app, staff, factory):
    other = factory.organization(staff.municipality_id, name="Annet lag", email="leder@annet.example.no")
    other_contact = _organization(app, other).contacts[0].id
    before = [(c.id, c.name) for c in _organization(app, other).contacts]
    data = {**BASE, **_contact(0, "Kapret", "x@rk.example.no", id=str(other_contact))}
    organization_id = _new_id(staff.post("/organizations/new", data=data))
    assert _organization(app, organization_id).contacts[0].id != other_contact
    assert [(c.id, c.name) for c in _organization(app, other).contacts] == before


def test_type_areas_and_notes_are_saved_and_shown(app, staff):
    municipality = staff.municipality_id
    leksehjelp = _area_id(app, municipality, "Leksehjelp")
    idrett = _area_id(app, municipality, "Idrett")
    data = {**BASE, "org_type": "sports", "activity_areas": [str(leksehjelp), str(idrett)],
            "notes": "Har egen buss.\n\nTrener tirsdager."}
    organization_id = _new_id(staff.post("/organizations/new", data=data))
    organization = _organization(app, organization_id)
    assert organization.org_type == "sports"
    assert sorted(a.name for a in organization.activity_areas) == ["Idrett", "Leksehjelp"]
    page = staff.get(f"/organizations/{organization_id}").get_data(as_text=True)
    assert "Idrett" in page and "Leksehjelp" in page
    assert "<p>Har egen buss.</p><p>Trener tirsdager.</p>" in page
    # The edit form shows them ticked.
    edit = staff.get(f"/organizations/{organization_id}/edit").get_data(as_text=True)
    assert re.search(rf'<input[^>]*checked[^>]*value="{leksehjelp}"|<input[^>]*value="{leksehjelp}"[^>]*checked', edit)
    assert re.search(r'<option selected value="sports">|<option value="sports" selected>', edit)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"notes": "n" * 2001}, "notes", id="notes too long"),
        pytest.param({"org_type": "sect"}, "org_type", id="unknown type"),
    ],
)
def test_bad_type_or_notes_are_refused(app, staff, changes, field):
    response = staff.post("/organizations/new", data={**BASE, **changes})
    assert response.status_code == 400
    assert _summary_links(response.get_data(as_text=True)) == [field]


def test_hidden_areas_stay_but_are_not_offered(app, staff, factory):
    municipality = staff.municipality_id
    kept = _area_id(app, municipality, "Leksehjelp")
    retired = _area_id(app, municipality, "Ungdom")
    organization_id = factory.organization(municipality, name="Et lag")
    _set(app, organization_id, areas=[kept])
    with app.app_context():
        for area_id in (kept, retired):
            db.session.get(ActivityArea, area_id).hidden = True
        db.session.commit()
    edit = staff.get(f"/organizations/{organization_id}/edit").get_data(as_text=True)
    assert f'value="{kept}"' in edit  # already linked: still there to keep or untick
    assert f'value="{retired}"' not in edit
    assert f'value="{retired}"' not in staff.get("/organizations/new").get_data(as_text=True)
    response = staff.post(f"/organizations/{organization_id}/edit", data={"name": "Et lag", "activity_areas": [str(kept)]})
    assert response.status_code == 302
    assert [a.id for a in _organization(app, organization_id).activity_areas] == [kept]
    # A hidden area it does not have cannot be added by posting its id.
    response = staff.post(f"/organizations/{organization_id}/edit", data={"name": "Et lag", "activity_areas": [str(retired)]})
    assert response.status_code == 400
    assert [a.id for a in _organization(app, organization_id).activity_areas] == [kept]


def test_another_municipalitys_areas_cannot_be_attached(app, staff, factory):
    foreign = _area_id(app, factory.municipality(), "Leksehjelp")
    own = _area_id(app, staff.municipality_id, "Leksehjelp")
    response = staff.post("/organizations/new", data={**BASE, "activity_areas": [str(own), str(foreign)]})
    assert response.status_code == 400
    assert "Velg aktivitetsområder fra listen." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == 0
    organization_id = factory.organization(staff.municipality_id, name="Et lag")
    response = staff.post(f"/organizations/{organization_id}/edit", data={"name": "Et lag", "activity_areas": [str(foreign)]})
    assert response.status_code == 400
    assert _organization(app, organization_id).activity_areas == []


def test_edit_writes_an_audit_event(app, staff, factory):
    organization_id = factory.organization(staff.municipality_id, name="Et lag")
    assert staff.post(f"/organizations/{organization_id}/edit", data={"name": "Et nytt navn"}).status_code == 302
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "organization", AuditEvent.object_id == organization_id)
        ).all()
    assert actions == ["update"]


# --- Delete, undo -----------------------------------------------------------------------------


def test_delete_asks_first_then_hides_the_organisation_and_keeps_its_history(app, staff, factory):
    municipality = staff.municipality_id
    organization_id = factory.organization(municipality, name="Nedlagt lag", org_number="991000003", email="n@lag.example.no")
    factory.organization(municipality, name="Aktivt lag")
    response = staff.post("/meetings/new", data=meeting_form("Dialogmøte"))
    meeting = int(re.search(r"/meetings/(\d+)", response.headers["Location"]).group(1))
    _invite(staff, meeting, organization_id)
    draft = _new_agreement(staff, organization_id)

    page = staff.get(f"/organizations/{organization_id}/delete").get_data(as_text=True)
    assert "Slett Nedlagt lag?" in page and "blir stående i historikken" in page
    assert _organization(app, organization_id).deleted_at is None  # asking changes nothing

    response = staff.post(f"/organizations/{organization_id}/delete", data={})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/organizations/"
    registry = staff.get("/organizations/").get_data(as_text=True)
    assert "Nedlagt lag er slettet." in registry
    assert f'action="/organizations/{organization_id}/restore"' in registry  # the undo button
    assert _rows(registry) == ["Aktivt lag"]
    assert _rows(_get(staff, q="nedlagt")) == [] and _rows(_get(staff, q="991000003")) == []
    assert "1 organisasjoner i registeret" in staff.get("/").get_data(as_text=True)  # the start page's count
    # Gone from the meeting's choices too.
    other_meeting = int(re.search(r"/meetings/(\d+)", staff.post("/meetings/new", data=meeting_form("Nytt møte")).headers["Location"]).group(1))
    staff.post(f"/meetings/{other_meeting}/invite", data={"organizations": [str(organization_id)]})
    with app.app_context():
        invitations = db.session.scalars(select(Invitation.meeting_id).where(Invitation.organization_id == organization_id)).all()
        assert invitations == [meeting]  # the old one stays, no new one
        assert db.session.get(Agreement, draft) is not None
        assert db.session.scalar(
            select(AuditEvent.action).where(AuditEvent.object_type == "organization", AuditEvent.object_id == organization_id)
        ) == "delete"
    # Its page still opens (history links to it), says it was deleted, and offers no editing.
    page = staff.get(f"/organizations/{organization_id}").get_data(as_text=True)
    assert "Organisasjonen ble slettet" in page and "Gjenopprett" in page
    assert f'href="/organizations/{organization_id}/edit"' not in page
    assert staff.get(f"/organizations/{organization_id}/edit").status_code == 404
    # Registering the same number again points at the deleted one, to restore it instead.
    response = staff.post("/organizations/new", data={"name": "Nytt lag", "org_number": "991000003"})
    assert response.status_code == 400
    assert f'href="/organizations/{organization_id}">Nedlagt lag</a> (slettet' in response.get_data(as_text=True)

    # Undo.
    response = staff.post(f"/organizations/{organization_id}/restore", data={})
    assert response.status_code == 302
    assert _organization(app, organization_id).deleted_at is None
    assert _rows(staff.get("/organizations/").get_data(as_text=True)) == ["Aktivt lag", "Nedlagt lag"]


def test_an_organisation_with_an_agreement_waiting_cannot_be_deleted(app, staff, factory):
    organization_id = factory.organization(staff.municipality_id, name="Lag med avtale", email="leder@avtale.example.no")
    agreement_id, _link = _send_agreement(app, staff, organization_id, "leder@avtale.example.no")
    page = staff.get(f"/organizations/{organization_id}/delete").get_data(as_text=True)
    assert "kan ikke slettes nå" in page and f'href="/agreements/{agreement_id}"' in page
    assert "Slett organisasjonen</button>" not in page
    response = staff.post(f"/organizations/{organization_id}/delete", data={})
    assert response.status_code == 409
    assert "kan ikke slettes nå" in response.get_data(as_text=True)
    assert _organization(app, organization_id).deleted_at is None
    # Once withdrawn, it can go.
    assert staff.post(f"/agreements/{agreement_id}/withdraw", data={}).status_code == 302
    assert staff.post(f"/organizations/{organization_id}/delete", data={}).status_code == 302
    assert _organization(app, organization_id).deleted_at is not None


def test_no_agreement_can_be_started_for_a_deleted_organisation(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality))
    organization_id = factory.organization(municipality)
    assert client.post(f"/organizations/{organization_id}/delete", data={}).status_code == 302
    response = client.post("/agreements/new", data={"organization_id": str(organization_id)})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Agreement.id))) == 0
