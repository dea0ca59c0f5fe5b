"""The calendar invitation (.ics) sent with each invitation email, read back with icalendar:
the zone is kept, the UID is stable per invitation, updates raise SEQUENCE, cancelling sends CANCEL."""

from __future__ import annotations

from datetime import datetime

import icalendar
import pytest
from helpers import link_in, login, outbox
from sqlalchemy import select
from world import meeting_form

from dugnad.extensions import db
from dugnad.models import Invitation, Meeting
from dugnad.timeutil import OSLO

ORG_EMAIL = "kari@rodekors.example.no"


def _ics(message) -> icalendar.Calendar:
    [attachment] = message.attachments
    assert attachment.filename == "invitasjon.ics"
    return icalendar.Calendar.from_ical(attachment.data)


def _event(cal: icalendar.Calendar) -> icalendar.Event:
    [event] = cal.events
    return event


@pytest.fixture
def invited(app, client, factory):
    """A meeting on 1 December at 18:00 Oslo time (winter), with one organisation invited."""
    municipality = factory.municipality("Surnadal kommune")
    login(client, factory.user(municipality, "admin"))
    organization = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)
    data = meeting_form("Dialogmøte", starts_at="2030-12-01T18:00", ends_at="2030-12-01T20:00", room="Møterom 2")
    response = client.post("/meetings/new", data=data)
    assert response.status_code == 302
    meeting_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/meetings/{meeting_id}/invite", data={"organizations": [str(organization)]}).status_code == 302
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    return meeting_id, invitation_id


def test_invitation_ics_reads_back_with_zone_uid_and_link(app, invited):
    meeting_id, invitation_id = invited
    [message] = outbox(app, to=ORG_EMAIL)
    assert message.attachments[0].content_type == "text/calendar; method=REQUEST; charset=utf-8"
    cal = _ics(message)
    event = _event(cal)
    assert cal["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"invitation-{invitation_id}@dugnad"
    assert event["SEQUENCE"] == 0
    # Europe/Oslo by name, with its VTIMEZONE: the wall-clock time staff typed.
    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert [tz["TZID"] for tz in cal.timezones] == ["Europe/Oslo"]
    start = event.decoded("DTSTART")
    assert start == datetime(2030, 12, 1, 18, 0, tzinfo=OSLO)
    assert (start.hour, start.utcoffset().total_seconds()) == (18, 3600)
    assert event.decoded("DTEND") == datetime(2030, 12, 1, 20, 0, tzinfo=OSLO)
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert start == meeting.starts_at  # the same instant as stored (UTC)
    assert str(event["SUMMARY"]) == "Dialogmøte"
    assert str(event["LOCATION"]) == "Rådhuset, møterom 1, Møterom 2"
    link = link_in(message)
    assert link in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith(link)
    assert str(event["ORGANIZER"]) == "mailto:noreply@dugnad.local"
    assert event["ORGANIZER"].params["CN"] == "Surnadal kommune"
    assert str(event["ATTENDEE"]) == f"mailto:{ORG_EMAIL}"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_summer_meeting_keeps_summer_time(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    organization = factory.organization(municipality, email=ORG_EMAIL)
    response = client.post("/meetings/new", data=meeting_form("Sommermøte", starts_at="2030-06-20T18:00", ends_at="2030-06-20T19:30"))
    meeting_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/meetings/{meeting_id}/invite", data={"organizations": [str(organization)]})
    start = _event(_ics(outbox(app, to=ORG_EMAIL)[0])).decoded("DTSTART")
    assert (start.hour, start.utcoffset().total_seconds(), start.tzname()) == (18, 7200, "CEST")


def test_changing_the_time_sends_the_same_uid_with_a_higher_sequence(app, client, invited):
    meeting_id, invitation_id = invited
    data = {**meeting_form("Dialogmøte", starts_at="2030-12-02T17:00", ends_at="2030-12-02T19:00", room="Møterom 2"), "version": "1"}
    assert client.post(f"/meetings/{meeting_id}/edit", data=data).status_code == 302
    first, update = outbox(app, to=ORG_EMAIL)
    old, new = _event(_ics(first)), _event(_ics(update))
    assert new["UID"] == old["UID"] == f"invitation-{invitation_id}@dugnad"
    assert (old["SEQUENCE"], new["SEQUENCE"]) == (0, 1)
    assert _ics(update)["METHOD"] == "REQUEST"
    assert new.decoded("DTSTART") == datetime(2030, 12, 2, 17, 0, tzinfo=OSLO)
    assert update.subject == "Endret: Dialogmøte"
    # The update carries a link of its own; both it and the first one open the answer page.
    assert link_in(update) != link_in(first)
    assert link_in(update) in str(new["DESCRIPTION"])
    visitor = app.test_client()
    assert visitor.get(link_in(update)).status_code == 200
    assert visitor.get(link_in(first)).status_code == 200


def test_cancelling_sends_cancel_with_the_same_uid(app, client, invited):
    meeting_id, invitation_id = invited
    assert client.post(f"/meetings/{meeting_id}/cancel", data={}).status_code == 302
    first, cancel = outbox(app, to=ORG_EMAIL)
    cal = _ics(cancel)
    event = _event(cal)
    assert cancel.attachments[0].content_type == "text/calendar; method=CANCEL; charset=utf-8"
    assert cal["METHOD"] == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["UID"] == _event(_ics(first))["UID"]
    assert event["SEQUENCE"] == 1
    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert cal.timezones
