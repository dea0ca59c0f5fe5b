"""Calendar invitations (.ics, RFC 5545/5546) for meetings, made with icalendar.

One invitation is one event with a UID of its own (Invitation.ics_uid), so an
update (METHOD:REQUEST with a higher SEQUENCE) or a cancellation (METHOD:CANCEL)
replaces the event already in the organisation's calendar. Times are written in
Europe/Oslo with its VTIMEZONE, so calendars show the wall-clock time staff typed.
"""

from __future__ import annotations

from datetime import date
from email.utils import parseaddr

import icalendar
from flask import current_app

from .models import Invitation, Meeting, Municipality
from .timeutil import now_utc, to_oslo

#: The MIME type of the attachment, per method (RFC 6047 wants the method named).
CONTENT_TYPES = {
    "REQUEST": "text/calendar; method=REQUEST; charset=utf-8",
    "CANCEL": "text/calendar; method=CANCEL; charset=utf-8",
}
FILENAME = "invitasjon.ics"


def location(meeting: Meeting) -> str:
    """The address and the room, as calendars show it."""
    return ", ".join(part for part in (meeting.place, meeting.room) if part)


def _timezone_range(meeting: Meeting) -> tuple[date, date]:
    # Only the transitions around the meeting: the whole 1970–2038 table costs
    # about 5 ms per file, which 300 invitations would feel.
    start = to_oslo(meeting.starts_at).date()
    return date(start.year, 1, 1), date(start.year + 1, 12, 31)


def invitation_ics(
    invitation: Invitation,
    municipality: Municipality,
    address: str,
    link: str | None,
    method: str = "REQUEST",
) -> bytes:
    """The .ics for one invited organisation; `method` is REQUEST or CANCEL."""
    if method not in CONTENT_TYPES:
        raise ValueError(method)
    meeting = invitation.meeting
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Dugnad//Møteinvitasjon//NB")
    cal.add("version", "2.0")
    cal.add("method", method)

    event = icalendar.Event()
    event.add("uid", invitation.ics_uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", now_utc())
    event.add("dtstart", to_oslo(meeting.starts_at))
    event.add("dtend", to_oslo(meeting.ends_at))
    event.add("summary", meeting.title)
    event.add("location", location(meeting))
    description = [meeting.message, meeting.agenda]
    if meeting.digital_link:
        description.append(f"Digital deltakelse: {meeting.digital_link}")
    if link:
        description.append(f"Svar på invitasjonen: {link}")
        event.add("url", link)
    event.add("description", "\n\n".join(part for part in description if part))

    _name, sender = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    organizer = icalendar.vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = municipality.name
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{address}")
    attendee.params["cn"] = invitation.organization.name
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "NEEDS-ACTION"
    attendee.params["rsvp"] = "FALSE"  # the answer goes through the link, not by calendar reply
    event.add("attendee", attendee)
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")

    cal.add_component(event)
    first, last = _timezone_range(meeting)
    cal.add_missing_timezones(first_date=first, last_date=last)
    return cal.to_ical()


def attachment(invitation: Invitation, municipality: Municipality, address: str, link: str | None, method: str = "REQUEST"):
    """(filename, content type, bytes) for dugnad.mail.queue(attachments=...)."""
    return FILENAME, CONTENT_TYPES[method], invitation_ics(invitation, municipality, address, link, method)
