"""Meetings and invitations: choosing invitees, previewing and sending, the answer page,
the tally, reminders, editing (with two staff at once), cancelling, the lists, and
what happens after the meeting."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from helpers import CSRFClient, link_in, login, outbox
from pypdf import PdfReader
from sqlalchemy import func, select, update
from world import meeting_form

from dugnad.extensions import db
from dugnad.models import (
    ActivityArea,
    Agreement,
    Invitation,
    LinkToken,
    Meeting,
    Organization,
    OutboxMessage,
)
from dugnad.timeutil import now_utc

RED_CROSS = "kari@rodekors.example.no"
SPORTS = "post@il.example.no"


@dataclass
class Setup:
    app: object
    client: CSRFClient  # the administrator who created the meeting (its owner)
    admin: str
    municipality_id: int
    meeting_id: int
    red_cross: int
    sports: int
    no_email: int

    @property
    def url(self) -> str:
        return f"/meetings/{self.meeting_id}"


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _invitation(app, organization_id: int) -> Invitation:
    with app.app_context():
        invitation = db.session.scalar(select(Invitation).where(Invitation.organization_id == organization_id))
        invitation.activity_areas  # noqa: B018 (loaded before the session closes)
        db.session.expunge_all()
        return invitation


def _meeting(app, meeting_id: int) -> Meeting:
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        db.session.expunge_all()
        return meeting


def _areas(app, municipality_id: int) -> dict[str, int]:
    with app.app_context():
        return {a.name: a.id for a in db.session.scalars(select(ActivityArea).where(ActivityArea.municipality_id == municipality_id))}


@pytest.fixture
def setup(app, client, factory) -> Setup:
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin")
    login(client, admin)
    red_cross = factory.organization(municipality, name="Surnadal Røde Kors", email=RED_CROSS)
    sports = factory.organization(municipality, name="Surnadal Idrettslag", email=SPORTS)
    no_email = factory.organization(municipality, name="Surnadal Sjakklubb", email="")
    with app.app_context():
        db.session.get(Organization, sports).org_type = "sports"
        db.session.commit()
    response = client.post("/meetings/new", data=meeting_form("Dialogmøte om bosetting", room="Møterom 2"))
    assert response.status_code == 302
    meeting_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return Setup(app, client, admin, municipality, meeting_id, red_cross, sports, no_email)


def _invite(s: Setup, *organizations: int):
    return s.client.post(f"{s.url}/invite", data={"organizations": [str(o) for o in organizations]})


def _link(s: Setup, to: str) -> str:
    return link_in([m for m in outbox(s.app, to=to) if m.subject.startswith("Invitasjon")][-1])


def _start_meeting(app, meeting_id: int, minutes_ago: int = 5) -> None:
    with app.app_context():
        start = now_utc() - timedelta(minutes=minutes_ago)
        db.session.execute(update(Meeting).where(Meeting.id == meeting_id).values(starts_at=start, ends_at=start + timedelta(hours=2)))
        db.session.commit()


# --- Creating and choosing invitees ------------------------------------------------------


def test_meeting_has_room_digital_link_and_message(setup):
    data = meeting_form("Digitalt møte", room="Sal A", digital_link="https://teams.example.no/m/1", message="Velkommen, alle sammen!")
    response = setup.client.post("/meetings/new", data=data)
    page = setup.client.get(response.headers["Location"]).get_data(as_text=True)
    for text in ("Sal A", "https://teams.example.no/m/1", "Velkommen, alle sammen!"):
        assert text in page
    response = setup.client.post("/meetings/new", data={**data, "digital_link": "javascript:alert(1)"})
    assert response.status_code == 400
    assert "Lenken må begynne med https:// eller http://" in response.get_data(as_text=True)


def test_choosing_filters_the_registry_and_select_all_ticks_every_match(setup):
    page = setup.client.get(f"{setup.url}/invite", query_string={"q": "idrett"}).get_data(as_text=True)
    assert "Surnadal Idrettslag" in page and "Surnadal Røde Kors" not in page
    page = setup.client.get(f"{setup.url}/invite", query_string={"type": "sports"}).get_data(as_text=True)
    assert "Surnadal Idrettslag" in page and "Surnadal Sjakklubb" not in page
    # "Select all" (a plain submit button) ticks every match; earlier ticks outside the filter stay.
    page = setup.client.get(
        f"{setup.url}/invite", query_string={"q": "surnadal", "select_all": "1"}
    ).get_data(as_text=True)
    assert len(re.findall(r'name="organizations" value="\d+" id="org-\d+" checked', page)) == 3
    assert "3 valgt" in page and "1 mangler e-postadresse" in page
    page = setup.client.get(
        f"{setup.url}/invite", query_string={"q": "idrett", "organizations": [setup.red_cross]}
    ).get_data(as_text=True)
    assert "Valgt tidligere, utenfor filteret" in page and "Surnadal Røde Kors" in page


def test_live_count_names_chosen_and_those_without_email(setup):
    response = setup.client.get(
        f"{setup.url}/invite/count",
        query_string={"organizations": [setup.red_cross, setup.no_email, "999999", "abc"]},
        headers={"HX-Request": "true"},
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert "2 valgt" in fragment and "1 mangler e-postadresse" in fragment


def test_invited_and_deleted_organisations_are_not_offered(setup):
    assert _invite(setup, setup.red_cross).status_code == 302
    with setup.app.app_context():
        db.session.get(Organization, setup.sports).deleted_at = now_utc()
        db.session.commit()
    page = setup.client.get(f"{setup.url}/invite").get_data(as_text=True)
    assert "Surnadal Sjakklubb" in page
    assert "Surnadal Røde Kors" not in page and "Surnadal Idrettslag" not in page
    # A deleted organisation's id posted anyway is refused, not invited.
    assert _invite(setup, setup.sports).status_code == 400
    assert _count(setup.app, Invitation) == 1


def test_preview_shows_the_email_as_sent_and_names_those_without_email(setup):
    response = setup.client.get(
        f"{setup.url}/invite/preview", query_string={"organizations": [setup.red_cross, setup.no_email]}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Invitasjon: Dialogmøte om bosetting" in page
    assert "Surnadal Sjakklubb" in page and f"/organizations/{setup.no_email}/edit" in page
    assert "Send 1 invitasjon" in page
    assert _count(setup.app, Invitation) == 0 and _count(setup.app, OutboxMessage) == 0  # a preview sends nothing
    preview_text = re.search(r'<div class="mail-body" id="preview-text">(.*?)</div>', page, re.S).group(1)

    assert _invite(setup, setup.red_cross).status_code == 302
    [sent] = outbox(setup.app, to=RED_CROSS)
    placeholder = "http://localhost/r/invitation/lenken-til-organisasjonen"
    expected = sent.body_text.replace(f"http://localhost{link_in(sent)}", placeholder)
    assert preview_text.replace("&#34;", '"').replace("&#39;", "'") == expected


def test_each_organisation_gets_its_own_link_and_a_calendar_file(setup):
    response = _invite(setup, setup.red_cross, setup.sports, setup.no_email)
    assert response.status_code == 302
    red, sports = outbox(setup.app, to=RED_CROSS), outbox(setup.app, to=SPORTS)
    assert len(red) == len(sports) == 1
    assert link_in(red[0]) != link_in(sports[0])
    assert [a.filename for a in red[0].attachments] == ["invitasjon.ics"]
    assert "Møterom 2" in red[0].body_text
    # The one without an address is named, not skipped silently.
    page = setup.client.get(setup.url).get_data(as_text=True)
    assert "Ikke invitert fordi e-postadresse mangler: Surnadal Sjakklubb" in page
    assert _count(setup.app, Invitation) == 2


def test_double_click_on_send_invites_once(setup):
    first = _invite(setup, setup.red_cross)
    second = _invite(setup, setup.red_cross)
    assert first.status_code == second.status_code == 302
    assert _count(setup.app, Invitation) == 1
    assert len(outbox(setup.app, to=RED_CROSS)) == 1
    assert "allerede sendt" in setup.client.get(setup.url).get_data(as_text=True)
    # The same with htmx: the page is told where to go, nothing is sent twice.
    response = setup.client.post(
        f"{setup.url}/invite", data={"organizations": [str(setup.red_cross)]}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204 and response.headers["HX-Redirect"] == setup.url
    assert len(outbox(setup.app, to=RED_CROSS)) == 1


# --- The answer page ------------------------------------------------------------------------


def test_answer_with_numbers_names_areas_and_comment_notifies_staff(setup):
    _invite(setup, setup.red_cross)
    link = _link(setup, RED_CROSS)
    areas = _areas(setup.app, setup.municipality_id)
    visitor = setup.app.test_client()
    page = visitor.get(link).get_data(as_text=True)
    assert "Leksehjelp" in page and "Møterom 2" in page
    response = visitor.post(link, data={
        "answer": "attending", "participants": "3", "participant_names": "Kari\nOla\nAisha",
        "activity_areas": [str(areas["Leksehjelp"]), str(areas["Idrett"])], "comment": "Vi gleder oss",
    })
    assert response.status_code == 302
    invitation = _invitation(setup.app, setup.red_cross)
    assert (invitation.answer, invitation.participants, invitation.participant_names) == ("attending", 3, "Kari\nOla\nAisha")
    assert sorted(a.name for a in invitation.activity_areas) == ["Idrett", "Leksehjelp"]
    [notice] = outbox(setup.app, to=setup.admin)
    assert "Surnadal Røde Kors" in notice.subject
    assert "Antall: 3" in notice.body_text and "Leksehjelp" in notice.body_text
    # The form shows the answer on record, ready to change.
    page = visitor.get(link).get_data(as_text=True)
    assert 'value="3"' in page and "Aisha" in page
    assert re.search(rf'value="{areas["Leksehjelp"]}"[^>]*checked|checked[^>]*value="{areas["Leksehjelp"]}"', page)
    # Changed: not coming; the number and names go, the areas stay.
    assert visitor.post(link, data={"answer": "not_attending", "participants": "3", "activity_areas": [str(areas["Idrett"])]}).status_code == 302
    invitation = _invitation(setup.app, setup.red_cross)
    assert (invitation.answer, invitation.participants, invitation.participant_names) == ("not_attending", None, "")
    assert [a.name for a in invitation.activity_areas] == ["Idrett"]
    assert len(outbox(setup.app, to=setup.admin)) == 2  # staff are told of each answer


@pytest.mark.parametrize("value", ["51", "-1", "tre", "2.5", "1e3"])
def test_number_coming_must_be_0_to_50(setup, value):
    _invite(setup, setup.red_cross)
    link = _link(setup, RED_CROSS)
    response = setup.app.test_client().post(link, data={"answer": "attending", "participants": value, "comment": "Hei"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Skriv antallet som et helt tall fra 0 til 50." in page
    assert 'href="#participants"' in page and "Hei" in page  # the summary links the field; input kept
    assert _invitation(setup.app, setup.red_cross).answer == "pending"


def test_an_area_hidden_since_it_was_chosen_is_kept(setup):
    _invite(setup, setup.red_cross)
    link = _link(setup, RED_CROSS)
    areas = _areas(setup.app, setup.municipality_id)
    visitor = setup.app.test_client()
    visitor.post(link, data={"answer": "attending", "activity_areas": [str(areas["Idrett"]), str(areas["Leksehjelp"])]})
    with setup.app.app_context():
        db.session.get(ActivityArea, areas["Idrett"]).hidden = True
        db.session.commit()
    assert "Idrett</label>" not in visitor.get(link).get_data(as_text=True)
    visitor.post(link, data={"answer": "attending", "activity_areas": [str(areas["Leksehjelp"])]})
    assert sorted(a.name for a in _invitation(setup.app, setup.red_cross).activity_areas) == ["Idrett", "Leksehjelp"]


def test_answer_page_after_the_start_is_read_only(setup):
    _invite(setup, setup.red_cross)
    link = _link(setup, RED_CROSS)
    visitor = setup.app.test_client()
    visitor.post(link, data={"answer": "attending", "participants": "2", "comment": "Vi kommer"})
    _start_meeting(setup.app, setup.meeting_id)
    response = visitor.get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "Møtet har startet; svaret kan ikke endres" in page
    assert "Vi kommer" in page and "<form method=\"post\" novalidate" not in page
    assert visitor.post(link, data={"answer": "not_attending"}).status_code == 410
    assert _invitation(setup.app, setup.red_cross).answer == "attending"


def test_link_of_a_deleted_organisation_is_no_longer_active(setup):
    _invite(setup, setup.red_cross)
    link = _link(setup, RED_CROSS)
    with setup.app.app_context():
        db.session.get(Organization, setup.red_cross).deleted_at = now_utc()
        db.session.commit()
    visitor = setup.app.test_client()
    for response in (visitor.get(link), visitor.post(link, data={"answer": "attending"})):
        assert response.status_code == 410
        assert "Invitasjonen er ikke lenger aktiv" in response.get_data(as_text=True)
    assert _invitation(setup.app, setup.red_cross).answer == "pending"
    # Its answer history stays on the meeting page, marked deleted; reminders skip it.
    assert "Slettet" in setup.client.get(setup.url).get_data(as_text=True)
    setup.client.post(f"{setup.url}/remind", data={})
    assert len(outbox(setup.app, to=RED_CROSS)) == 1


# --- The staff page: tally, reminders, lists ---------------------------------------------------


def _tally(s: Setup) -> dict[str, int]:
    response = s.client.get(f"{s.url}/tally", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and fragment.lstrip().startswith('<div id="tally"')
    return {key: int(value) for key, value in re.findall(r'data-tally="(\w+)">(\d+)<', fragment)}


def test_tally_counts_answers_and_people(setup):
    _invite(setup, setup.red_cross, setup.sports)
    assert _tally(setup) == {"attending": 0, "not_attending": 0, "pending": 2, "people": 0}
    visitor = setup.app.test_client()
    visitor.post(_link(setup, RED_CROSS), data={"answer": "attending", "participants": "4"})
    visitor.post(_link(setup, SPORTS), data={"answer": "not_attending"})
    assert _tally(setup) == {"attending": 1, "not_attending": 1, "pending": 0, "people": 4}
    page = setup.client.get(setup.url).get_data(as_text=True)
    assert 'hx-trigger="every 10s"' in page and 'id="tally"' in page


def test_reminder_goes_to_those_without_an_answer_with_a_fresh_link(setup):
    _invite(setup, setup.red_cross, setup.sports)
    first_link = _link(setup, RED_CROSS)
    setup.app.test_client().post(_link(setup, SPORTS), data={"answer": "attending"})
    assert setup.client.post(f"{setup.url}/remind", data={}).status_code == 302
    assert setup.client.post(f"{setup.url}/remind", data={}).status_code == 302
    reminders = [m for m in outbox(setup.app, to=RED_CROSS) if m.subject.startswith("Påminnelse")]
    assert len(reminders) == 2 and not [m for m in outbox(setup.app, to=SPORTS) if m.subject.startswith("Påminnelse")]
    invitation = _invitation(setup.app, setup.red_cross)
    assert invitation.reminders_sent == 2 and invitation.last_reminded_at is not None
    assert _invitation(setup.app, setup.sports).reminders_sent == 0
    # The new link and the first one both answer the same invitation.
    visitor = setup.app.test_client()
    assert link_in(reminders[0]) != first_link
    assert visitor.post(link_in(reminders[0]), data={"answer": "attending"}).status_code == 302
    assert visitor.post(first_link, data={"answer": "not_attending"}).status_code == 302
    assert _invitation(setup.app, setup.red_cross).answer == "not_attending"
    assert _count(setup.app, Invitation) == 2


def test_participants_csv_opens_in_excel_and_runs_no_formulas(setup):
    _invite(setup, setup.red_cross)
    setup.app.test_client().post(
        _link(setup, RED_CROSS), data={"answer": "attending", "participants": "2", "comment": "=HYPERLINK(\"x\")"}
    )
    response = setup.client.get(f"{setup.url}/participants.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:4] == ["Organisasjon", "E-post", "Svar", "Antall"]
    assert lines[1].startswith("Surnadal Røde Kors;kari@rodekors.example.no;Kommer;2;")
    assert "'=HYPERLINK" in lines[1]


def test_attendance_pdf_lists_those_coming_with_a_signature_column(setup):
    _invite(setup, setup.red_cross, setup.sports)
    setup.app.test_client().post(_link(setup, RED_CROSS), data={"answer": "attending", "participant_names": "Kari Nordmann"})
    response = setup.client.get(f"{setup.url}/attendance.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Oppmøteliste" in text and "Surnadal Røde Kors" in text and "Kari Nordmann" in text
    assert "Signatur" in text and "Surnadal Idrettslag" not in text


# --- Editing: updates, and two staff members at once ---------------------------------------------


def _edit_form(s: Setup, client: CSRFClient | None = None) -> dict:
    page = (client or s.client).get(f"{s.url}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    return {**meeting_form("Dialogmøte om bosetting", room="Møterom 2"), "version": version}


def test_changing_the_place_sends_an_update_and_other_changes_do_not(setup):
    _invite(setup, setup.red_cross)
    form = _edit_form(setup)
    assert setup.client.post(f"{setup.url}/edit", data={**form, "agenda": "Ny dagsorden"}).status_code == 302
    assert len(outbox(setup.app, to=RED_CROSS)) == 1 and _meeting(setup.app, setup.meeting_id).sequence == 0
    form = _edit_form(setup)
    assert setup.client.post(f"{setup.url}/edit", data={**form, "room": "Storsalen"}).status_code == 302
    update_mail = outbox(setup.app, to=RED_CROSS)[-1]
    assert update_mail.subject == "Endret: Dialogmøte om bosetting" and "Storsalen" in update_mail.body_text
    assert _meeting(setup.app, setup.meeting_id).sequence == 1


def test_moving_the_meeting_moves_the_links_expiry(setup):
    _invite(setup, setup.red_cross)
    form = _edit_form(setup)
    later = meeting_form("x", starts_in=timedelta(days=40))
    data = {**form, "starts_at": later["starts_at"], "ends_at": later["ends_at"]}
    assert setup.client.post(f"{setup.url}/edit", data=data).status_code == 302
    meeting = _meeting(setup.app, setup.meeting_id)
    with setup.app.app_context():
        expiries = set(db.session.scalars(select(LinkToken.expires_at).where(LinkToken.purpose == "answer_invitation")))
    assert expiries == {meeting.ends_at + timedelta(days=30)}
    assert len(outbox(setup.app, to=RED_CROSS)) == 2  # invitation, update


def test_two_staff_editing_at_once_overwrite_nothing(setup, factory):
    other = setup.app.test_client()
    login(other, factory.user(setup.municipality_id, "staff"))
    mine, theirs = _edit_form(setup), _edit_form(setup, other)
    assert other.post(f"{setup.url}/edit", data={**theirs, "title": "Deres tittel"}).status_code == 302
    response = setup.client.post(f"{setup.url}/edit", data={**mine, "title": "Min tittel"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Møtet er endret av noen andre mens du skrev" in page
    assert "Deres tittel" in page and 'value="Min tittel"' in page  # theirs shown, mine kept
    assert _meeting(setup.app, setup.meeting_id).title == "Deres tittel"
    # Saving again, now knowing their change, goes through.
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    assert setup.client.post(f"{setup.url}/edit", data={**mine, "title": "Min tittel", "version": version}).status_code == 302
    assert _meeting(setup.app, setup.meeting_id).title == "Min tittel"


def test_a_form_without_a_version_overwrites_nothing(setup):
    data = {**meeting_form("Uten versjon")}
    assert setup.client.post(f"{setup.url}/edit", data=data).status_code == 409
    assert _meeting(setup.app, setup.meeting_id).title == "Dialogmøte om bosetting"


# --- Cancelling -------------------------------------------------------------------------------


def test_cancelling_tells_everyone_and_the_links_show_it(setup):
    _invite(setup, setup.red_cross)
    link = _link(setup, RED_CROSS)
    page = setup.client.get(f"{setup.url}/cancel").get_data(as_text=True)
    assert "Avlyse møtet?" in page and _meeting(setup.app, setup.meeting_id).cancelled_at is None
    assert setup.client.post(f"{setup.url}/cancel", data={}).status_code == 302
    assert setup.client.post(f"{setup.url}/cancel", data={}).status_code == 302  # a second click
    cancels = [m for m in outbox(setup.app, to=RED_CROSS) if m.subject.startswith("Avlyst")]
    assert len(cancels) == 1
    visitor = setup.app.test_client()
    response = visitor.get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Møtet er avlyst" in page and "Send svar" not in page
    assert visitor.post(link, data={"answer": "attending"}).status_code == 410
    assert _invitation(setup.app, setup.red_cross).answer == "pending"
    # No editing, no more invitations.
    assert setup.client.post(f"{setup.url}/edit", data=_edit_form_unchecked()).status_code == 302
    assert _meeting(setup.app, setup.meeting_id).title == "Dialogmøte om bosetting"
    assert _invite(setup, setup.sports).status_code == 302
    assert _count(setup.app, Invitation) == 1
    assert setup.client.get(f"{setup.url}/invite").status_code == 302


def _edit_form_unchecked() -> dict:
    return {**meeting_form("Endret etter avlysning"), "version": "2"}


# --- After the meeting ------------------------------------------------------------------------


def test_record_who_came_and_start_an_agreement_with_the_areas_chosen(setup):
    _invite(setup, setup.red_cross, setup.sports)
    areas = _areas(setup.app, setup.municipality_id)
    setup.app.test_client().post(
        _link(setup, RED_CROSS), data={"answer": "attending", "activity_areas": [str(areas["Leksehjelp"]), str(areas["Idrett"])]}
    )
    red = _invitation(setup.app, setup.red_cross)
    # Before the start, attendance cannot be recorded.
    setup.client.post(f"{setup.url}/attendance", data={"attended": [str(red.id)], "version": "1"})
    assert _invitation(setup.app, setup.red_cross).attended is None

    _start_meeting(setup.app, setup.meeting_id)
    version = str(_meeting(setup.app, setup.meeting_id).version)
    response = setup.client.post(f"{setup.url}/attendance", data={"attended": [str(red.id)], "notes": "Godt møte.", "version": version})
    assert response.status_code == 302
    assert _invitation(setup.app, setup.red_cross).attended is True
    assert _invitation(setup.app, setup.sports).attended is False
    assert _meeting(setup.app, setup.meeting_id).notes == "Godt møte."
    page = setup.client.get(setup.url).get_data(as_text=True)
    assert page.count("Start avtale") == 1

    response = setup.client.post(f"{setup.url}/agreement", data={"organization_id": str(setup.red_cross)})
    assert response.status_code == 302 and "/agreements/" in response.headers["Location"]
    with setup.app.app_context():
        agreement = db.session.scalar(select(Agreement))
        assert agreement.organization_id == setup.red_cross
        rows = agreement.section("activities").data["rows"]
        assert sorted(row["area"] for row in rows) == ["Idrett", "Leksehjelp"]
    # A second click opens the same draft; one that did not come gets none.
    setup.client.post(f"{setup.url}/agreement", data={"organization_id": str(setup.red_cross)})
    setup.client.post(f"{setup.url}/agreement", data={"organization_id": str(setup.sports)})
    assert _count(setup.app, Agreement) == 1


def test_stale_attendance_form_overwrites_no_notes(setup, factory):
    _invite(setup, setup.red_cross)
    _start_meeting(setup.app, setup.meeting_id)
    version = str(_meeting(setup.app, setup.meeting_id).version)
    assert setup.client.post(f"{setup.url}/attendance", data={"notes": "Første referat", "version": version}).status_code == 302
    response = setup.client.post(f"{setup.url}/attendance", data={"notes": "Andre referat", "version": version})
    assert response.status_code == 409
    assert "Første referat" in response.get_data(as_text=True)
    assert _meeting(setup.app, setup.meeting_id).notes == "Første referat"


# --- The Mailbox shows the calendar file ---------------------------------------------------------


def test_mailbox_lists_and_serves_the_attachment(setup):
    _invite(setup, setup.red_cross)
    [message] = outbox(setup.app, to=RED_CROSS)
    page = setup.client.get(f"/mailbox/{message.id}").get_data(as_text=True)
    assert "invitasjon.ics" in page
    response = setup.client.get(f"/mailbox/{message.id}/attachment", query_string={"n": 0})
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.data == message.attachments[0].data
    assert setup.client.get(f"/mailbox/{message.id}/attachment", query_string={"n": 1}).status_code == 404


def test_html_in_names_is_escaped_on_the_new_pages(setup, factory):
    evil = "<img src=x onerror=alert(1)>"
    organization = factory.organization(setup.municipality_id, name=evil, email="evil@lag.example.no")
    for url in (f"{setup.url}/invite", f"{setup.url}/invite/preview?organizations={organization}"):
        page = setup.client.get(url).get_data(as_text=True)
        assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_save_racing_past_the_version_check_is_stopped_by_the_database(setup):
    """Both requests passed the form's version check; the row's version stops the second at flush."""
    from sqlalchemy.orm.exc import StaleDataError

    from dugnad import meetings
    from dugnad.lifecycle import Actor

    with setup.app.app_context():
        meeting = db.session.get(Meeting, setup.meeting_id)
        loaded = meeting.version
        fields = {name: getattr(meeting, name) for name in meetings.EDITABLE}
        # The other request commits in between, on its own connection.
        with db.engine.begin() as other:
            other.execute(update(Meeting).where(Meeting.id == setup.meeting_id).values(title="Deres", version=loaded + 1))
        with pytest.raises(StaleDataError):
            meetings.update_meeting(meeting, {**fields, "title": "Min"}, loaded, Actor(label="test"))
        db.session.rollback()
    assert _meeting(setup.app, setup.meeting_id).title == "Deres"
