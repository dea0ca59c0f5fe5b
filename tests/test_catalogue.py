"""The activity catalogue: each municipality's own list, changed by its administrators only."""

from __future__ import annotations

import re

import pytest
from helpers import login
from sqlalchemy import select

from dugnad.catalogue import DEFAULT_ACTIVITY_AREAS
from dugnad.extensions import db
from dugnad.models import ActivityArea, AuditEvent


def _areas(app, municipality_id: int) -> list[tuple[str, bool]]:
    """(name, hidden) in the catalogue's order."""
    with app.app_context():
        return [
            (area.name, area.hidden)
            for area in db.session.scalars(
                select(ActivityArea)
                .where(ActivityArea.municipality_id == municipality_id)
                .order_by(ActivityArea.position, ActivityArea.id)
            )
        ]


def _area_id(app, municipality_id: int, name: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(ActivityArea.id).where(ActivityArea.municipality_id == municipality_id, ActivityArea.name == name)
        )


def _summary_links(page: str) -> list[str]:
    summary = re.search(r'<div class="ds-error-summary".*?</div>', page, re.S).group(0)
    return re.findall(r'href="#([^"]+)"', summary)


@pytest.fixture
def admin(client, factory):
    municipality = factory.municipality()
    client.municipality_id = municipality
    login(client, factory.user(municipality, "admin"))
    return client


def test_a_new_municipality_starts_with_the_seed_catalogue(app, factory):
    municipality = factory.municipality()
    assert _areas(app, municipality) == [(name, False) for name in DEFAULT_ACTIVITY_AREAS]


def test_admin_sees_the_catalogue_and_the_nav_link(admin):
    page = admin.get("/admin/activities").get_data(as_text=True)
    for name in DEFAULT_ACTIVITY_AREAS:
        assert f'value="{name}"' in page
    assert 'href="/admin/activities">Aktiviteter</a>' in page


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_others_get_403_and_change_nothing(app, client, factory, role):
    municipality = factory.municipality()
    area = _area_id(app, municipality, "Leksehjelp")
    login(client, factory.user(municipality if role == "staff" else None, role))
    assert 'href="/admin/activities"' not in client.get("/organizations/" if role == "staff" else "/admin/municipalities").get_data(as_text=True)
    assert client.get("/admin/activities").status_code == 403
    assert client.post("/admin/activities", data={"new-name": "Sjakk"}).status_code == 403
    for data in ({"action": "rename", f"area-{area}-name": "Kapret"}, {"action": "hide"}, {"action": "down"}):
        assert client.post(f"/admin/activities/{area}", data=data).status_code == 403
    assert _areas(app, municipality) == [(name, False) for name in DEFAULT_ACTIVITY_AREAS]


def test_add_an_area(app, admin):
    response = admin.post("/admin/activities", data={"new-name": "  Sjakk  "})
    assert response.status_code == 302
    assert _areas(app, admin.municipality_id)[-1] == ("Sjakk", False)
    assert "Sjakk er lagt til." in admin.get("/admin/activities").get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "activity_area"))
        assert (event.action, event.details) == ("create", {"name": "Sjakk"})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("", "Skriv navnet på aktivitetsområdet.", id="empty"),
        pytest.param("leksehjelp", "Katalogen har allerede et aktivitetsområde med dette navnet.", id="taken, other case"),
        pytest.param("L" * 121, "Navnet kan ha høyst 120 tegn.", id="121 characters"),
    ],
)
def test_add_refuses_bad_names(app, admin, name, message):
    response = admin.post("/admin/activities", data={"new-name": name})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _summary_links(page) == ["new-name"] and message in page
    assert 'id="new-name-error"' in page
    assert len(_areas(app, admin.municipality_id)) == len(DEFAULT_ACTIVITY_AREAS)


def test_the_same_name_is_fine_in_another_municipality(app, admin, client, factory):
    assert admin.post("/admin/activities", data={"new-name": "Sjakk"}).status_code == 302
    other = factory.municipality()
    other_admin = app.test_client()
    login(other_admin, factory.user(other, "admin"))
    assert other_admin.post("/admin/activities", data={"new-name": "Sjakk"}).status_code == 302
    assert _areas(app, other)[-1] == ("Sjakk", False)
    assert _areas(app, admin.municipality_id)[-1] == ("Sjakk", False)


def test_rename(app, admin):
    area = _area_id(app, admin.municipality_id, "Leksehjelp")
    response = admin.post(f"/admin/activities/{area}", data={"action": "rename", f"area-{area}-name": "Lekser og lesing"})
    assert response.status_code == 302
    assert _areas(app, admin.municipality_id)[2] == ("Lekser og lesing", False)
    # Keeping its own name (in another case) is not a clash with itself.
    response = admin.post(f"/admin/activities/{area}", data={"action": "rename", f"area-{area}-name": "Lekser Og Lesing"})
    assert response.status_code == 302


def test_rename_to_a_taken_name_is_refused_next_to_the_row(app, admin):
    area = _area_id(app, admin.municipality_id, "Leksehjelp")
    response = admin.post(f"/admin/activities/{area}", data={"action": "rename", f"area-{area}-name": "IDRETT"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    field = f"area-{area}-name"
    assert _summary_links(page) == [field]
    assert f'id="{field}-error"' in page
    assert re.search(rf'<input[^>]*id="{field}"[^>]*value="IDRETT"[^>]*aria-invalid="true"', page, re.S)
    assert _areas(app, admin.municipality_id)[2] == ("Leksehjelp", False)


def test_hide_and_show(app, admin, factory):
    municipality = admin.municipality_id
    area = _area_id(app, municipality, "Ungdom")
    assert admin.post(f"/admin/activities/{area}", data={"action": "hide"}).status_code == 302
    assert ("Ungdom", True) in _areas(app, municipality)
    # Hidden: not offered in the registry's filter or the organisation form.
    assert f'<option value="{area}"' not in admin.get("/organizations/").get_data(as_text=True)
    assert f'value="{area}"' not in admin.get("/organizations/new").get_data(as_text=True)
    assert admin.post(f"/admin/activities/{area}", data={"action": "show"}).status_code == 302
    assert ("Ungdom", False) in _areas(app, municipality)
    assert f'value="{area}"' in admin.get("/organizations/new").get_data(as_text=True)


def test_move_up_and_down(app, admin):
    municipality = admin.municipality_id
    first, second = DEFAULT_ACTIVITY_AREAS[:2]
    area = _area_id(app, municipality, second)
    assert admin.post(f"/admin/activities/{area}", data={"action": "up"}).status_code == 302
    assert [name for name, _ in _areas(app, municipality)][:2] == [second, first]
    assert admin.post(f"/admin/activities/{area}", data={"action": "up"}).status_code == 302  # already first
    assert [name for name, _ in _areas(app, municipality)][:2] == [second, first]
    assert admin.post(f"/admin/activities/{area}", data={"action": "down"}).status_code == 302
    assert [name for name, _ in _areas(app, municipality)] == list(DEFAULT_ACTIVITY_AREAS)


def test_unknown_action_is_400(app, admin):
    area = _area_id(app, admin.municipality_id, "Ungdom")
    assert admin.post(f"/admin/activities/{area}", data={"action": "delete"}).status_code == 400
    assert ("Ungdom", False) in _areas(app, admin.municipality_id)


def test_another_municipalitys_area_is_404(app, admin, factory):
    other = factory.municipality()
    area = _area_id(app, other, "Ungdom")
    for data in ({"action": "hide"}, {"action": "rename", f"area-{area}-name": "Kapret"}, {"action": "up"}):
        assert admin.post(f"/admin/activities/{area}", data=data).status_code == 404
    assert _areas(app, other) == [(name, False) for name in DEFAULT_ACTIVITY_AREAS]
