"""After signing: the period an agreement is valid for, the list of agreements about to
expire and the owner's notice (`flask expiry-notices`, cron), terminating a signed
agreement, and renewing one as a new draft."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from helpers import CSRFClient, link_in, login, outbox
from sqlalchemy import func, select
from world import ACCEPT, countersign_form, write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement, AuditEvent, OutboxMessage
from dugnad.timeutil import today_oslo

ORG_EMAIL = "kari@rodekors.example.no"


@dataclass
class Town:
    municipality_id: int
    organization_id: int
    staff_email: str
    admin_email: str
    #: Staff start (and so own) the agreements; the administrator countersigns.
    staff: CSRFClient
    admin: CSRFClient


def _town(app, factory, name: str, org_email: str = ORG_EMAIL) -> Town:
    municipality = factory.municipality(name)
    staff_email = factory.user(municipality, "staff")
    admin_email = factory.user(municipality, "admin")
    staff, admin = app.test_client(), app.test_client()
    login(staff, staff_email)
    login(admin, admin_email)
    organization = factory.organization(municipality, name=f"{name} Røde Kors", email=org_email)
    return Town(municipality, organization, staff_email, admin_email, staff, admin)


@pytest.fixture
def town(app, factory) -> Town:
    return _town(app, factory, "Surnadal kommune")


def _day(offset: int) -> date:
    return today_oslo() + timedelta(days=offset)


def _draft(town: Town, title: str, start: date | None = None, end: date | None = None) -> int:
    response = town.staff.post("/agreements/new", data={"organization_id": str(town.organization_id)})
    assert response.status_code == 302
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    start = start or _day(-30)
    duration = {"start": start.isoformat(), "end": end.isoformat() if end else "", "notice_months": "3"}
    write_agreement(town.staff, agreement_id, title, duration=duration)
    return agreement_id


def _send_and_accept(app, town: Town, agreement_id: int, org_email: str = ORG_EMAIL) -> None:
    assert town.staff.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    link = link_in(outbox(app, to=org_email)[-1])
    assert app.test_client().post(link, data=ACCEPT).status_code == 302


def _signed(app, town: Town, title: str, start: date | None = None, end: date | None = None, org_email: str = ORG_EMAIL) -> int:
    agreement_id = _draft(town, title, start, end)
    _send_and_accept(app, town, agreement_id, org_email)
    response = town.admin.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return agreement_id


def _agreement(app, agreement_id: int) -> dict:
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        return {
            "state": agreement.state,
            "valid_from": agreement.valid_from,
            "valid_to": agreement.valid_to,
            "expiry_notice_sent_at": agreement.expiry_notice_sent_at,
            "sections": {section.key: section.data for section in agreement.sections},
            "organization_id": agreement.organization_id,
            "owner_id": agreement.owner_id,
            "number": agreement.number,
            "title": agreement.title,
        }


def _events(app, agreement_id: int, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return events


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def _norwegian(day: date) -> str:
    return day.strftime("%d.%m.%Y")


# --- The period ----------------------------------------------------------------------------


def test_countersigning_sets_the_period_from_the_accepted_version(app, town):
    start, end = _day(-10), _day(200)
    fixed = _signed(app, town, "Leksehjelp", start, end)
    open_ended = _signed(app, town, "Språkkafé", start)

    assert (_agreement(app, fixed)["valid_from"], _agreement(app, fixed)["valid_to"]) == (start, end)
    assert (_agreement(app, open_ended)["valid_from"], _agreement(app, open_ended)["valid_to"]) == (start, None)
    page = town.staff.get(f"/agreements/{fixed}").get_data(as_text=True)
    assert f"Gjelder fra {_norwegian(start)} til og med {_norwegian(end)}." in page
    page = town.staff.get(f"/agreements/{open_ended}").get_data(as_text=True)
    assert f"Gjelder fra {_norwegian(start)} og løper til den blir sagt opp." in page

    listing = town.staff.get("/agreements/").get_data(as_text=True)
    assert "Gjelder til" in listing
    assert _norwegian(end) in listing and "Til den blir sagt opp" in listing
    assert 'href="/agreements/expiring"' in listing


def test_an_agreement_not_yet_signed_has_no_period(app, town):
    agreement_id = _draft(town, "Leksehjelp", _day(-10), _day(100))
    _send_and_accept(app, town, agreement_id)
    assert (_agreement(app, agreement_id)["valid_from"], _agreement(app, agreement_id)["valid_to"]) == (None, None)


# --- Expiring ------------------------------------------------------------------------------


def test_the_expiring_list_shows_signed_agreements_ending_within_the_days_chosen(app, factory, town):
    later = _signed(app, town, "Leksehjelp", end=_day(40))
    sooner = _signed(app, town, "Språkkafé", end=_day(20))
    open_ended = _signed(app, town, "Turgruppe")
    waiting = _draft(town, "Ikke signert ennå", end=_day(5))
    other = _town(app, factory, "Bjørkvik kommune", org_email="post@bjorkvik-lag.example.no")
    foreign = _signed(app, other, "Bjørkvik leksehjelp", end=_day(10), org_email="post@bjorkvik-lag.example.no")

    response = town.staff.get("/agreements/expiring")  # 60 days unless told
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.index(f'href="/agreements/{sooner}"') < page.index(f'href="/agreements/{later}"')  # soonest first
    assert _norwegian(_day(20)) in page and _norwegian(_day(40)) in page
    for absent in (open_ended, waiting, foreign):
        assert f'href="/agreements/{absent}"' not in page
    assert "Bjørkvik" not in page

    page = town.staff.get("/agreements/expiring?days=30").get_data(as_text=True)
    assert f'href="/agreements/{sooner}"' in page and f'href="/agreements/{later}"' not in page
    page = town.staff.get("/agreements/expiring?days=365").get_data(as_text=True)
    assert f'href="/agreements/{foreign}"' not in page
    page = other.staff.get("/agreements/expiring?days=365").get_data(as_text=True)
    assert f'href="/agreements/{foreign}"' in page and f'href="/agreements/{later}"' not in page
    page = town.staff.get("/agreements/expiring?days=10").get_data(as_text=True)
    assert "Ingen signerte avtaler utløper innen 10 dager." in page


@pytest.mark.parametrize("days", ["0", "366", "-5", "tre", "1.5", "", "²"])
def test_the_expiring_list_refuses_a_bad_number_of_days(town, days):
    response = town.staff.get("/agreements/expiring", query_string={"days": days})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Skriv et helt antall dager fra 1 til 365." in page
    assert "Rett opp dette før du går videre:" in page


def test_the_owner_gets_one_expiry_notice_per_agreement(app, runner, town):
    app.config.update(SERVER_NAME=None, PUBLIC_URL="https://dugnad.surnadal.eksempel.no")
    soon = _signed(app, town, "Leksehjelp", end=_day(40))
    later = _signed(app, town, "Språkkafé", end=_day(100))
    _signed(app, town, "Turgruppe")  # runs until terminated: never expires

    def notify() -> str:
        result = runner.invoke(args=["expiry-notices"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "expiry notices queued: 1" in notify()  # within 60 days: only the first
    assert "expiry notices queued: 0" in notify()  # not twice
    [notice] = [m for m in outbox(app, to=town.staff_email) if m.subject.startswith("Avtalen utløper snart")]
    assert notice.subject == "Avtalen utløper snart: Leksehjelp"
    assert f"gjelder til og med {_norwegian(_day(40))}, om 40 dager" in notice.body_text
    assert f"https://dugnad.surnadal.eksempel.no/agreements/{soon}" in notice.body_text
    assert not any(m.subject.startswith("Avtalen utløper") for m in outbox(app, to=ORG_EMAIL))
    assert _agreement(app, soon)["expiry_notice_sent_at"] is not None
    assert _agreement(app, later)["expiry_notice_sent_at"] is None
    [event] = _events(app, soon, "expiry_notice")
    assert event.details["to"] == town.staff_email
    assert "Varsel om utløp sendt til eieren" in town.staff.get(f"/agreements/{soon}").get_data(as_text=True)

    app.config["AGREEMENT_EXPIRY_NOTICE_DAYS"] = 120
    assert "expiry notices queued: 1" in notify()
    assert "expiry notices queued: 0" in notify()
    assert len(_events(app, later, "expiry_notice")) == 1
    assert len(_events(app, soon, "expiry_notice")) == 1


# --- Terminating ---------------------------------------------------------------------------


def test_terminate_a_signed_agreement(app, town):
    start, end = _day(-30), _day(300)
    agreement_id = _signed(app, town, "Leksehjelp", start, end)
    url = f"/agreements/{agreement_id}/terminate"
    ends_on = _day(90)
    good = {"ends_on": _norwegian(ends_on), "reason": "Organisasjonen har lagt ned aktiviteten."}
    mails_before = _count(app, OutboxMessage)

    # Ending an agreement binds the municipality: administrators only.
    assert town.staff.get(url).status_code == 403
    assert town.staff.post(url, data=good).status_code == 403
    assert "Si opp avtalen" not in town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)

    page = town.admin.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert f'href="{url}"' in page
    response = town.admin.get(url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Avtalen har 3 måneders oppsigelsestid." in page
    assert 'name="ends_on"' in page and 'name="reason"' in page

    bad = {
        "an impossible date": ({**good, "ends_on": "31.02.2027"}, "Skriv en gyldig dato, for eksempel 31.12.2027."),
        "no date": ({**good, "ends_on": ""}, "Skriv datoen som er siste dag avtalen gjelder."),
        "before it began": ({**good, "ends_on": _day(-31).isoformat()}, f"Datoen kan ikke være før avtalen begynte å gjelde ({_norwegian(start)})."),
        "after it ends": ({**good, "ends_on": _day(301).isoformat()}, f"Datoen kan ikke være etter avtalens siste dag ({_norwegian(end)})."),
        "no reason": ({**good, "reason": "   "}, "Skriv hvorfor avtalen sies opp."),
        "a reason too long": ({**good, "reason": "x" * 2001}, "Begrunnelsen kan ha høyst 2 000 tegn."),
    }
    for case, (form, message) in bad.items():
        response = town.admin.post(url, data=form)
        assert response.status_code == 400, case
        page = response.get_data(as_text=True)
        assert message in page, case
        assert "Rett opp dette før du går videre:" in page, case
        assert 'aria-invalid="true"' in page, case
    assert (_agreement(app, agreement_id)["state"], _agreement(app, agreement_id)["valid_to"]) == ("signed", end)
    assert _count(app, OutboxMessage) == mails_before
    assert _events(app, agreement_id, "terminate") == []

    response = town.admin.post(url, data=good)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/agreements/{agreement_id}")
    after = _agreement(app, agreement_id)
    assert (after["state"], after["valid_from"], after["valid_to"]) == ("terminated", start, ends_on)
    [event] = _events(app, agreement_id, "terminate")
    assert (event.from_state, event.to_state) == ("signed", "terminated")
    assert event.details == {"ends_on": ends_on.isoformat(), "reason": "Organisasjonen har lagt ned aktiviteten."}
    for address in (ORG_EMAIL, town.staff_email):  # the organisation and the agreement's owner
        [message] = [m for m in outbox(app, to=address) if m.subject == "Avtalen er sagt opp: Leksehjelp"]
        assert f"Siste dag avtalen gjelder er {_norwegian(ends_on)}." in message.body_text
        assert "Organisasjonen har lagt ned aktiviteten." in message.body_text
    assert _count(app, OutboxMessage) == mails_before + 2

    page = town.admin.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "Avtalen er sagt opp." in page
    assert f"Gjelder fra {_norwegian(start)} til og med {_norwegian(ends_on)}." in page
    assert "«Organisasjonen har lagt ned aktiviteten.»" in page  # the reason in the history

    # A second attempt (a double click, another tab) is told the agreement is already ended.
    for response in (town.admin.post(url, data=good), town.admin.get(url)):
        assert response.status_code == 409
        assert "Avsluttet (sagt opp)" in response.get_data(as_text=True)
    assert len(_events(app, agreement_id, "terminate")) == 1
    assert _count(app, OutboxMessage) == mails_before + 2
    # Terminated agreements are no longer about to expire.
    assert f'href="/agreements/{agreement_id}"' not in town.staff.get("/agreements/expiring?days=365").get_data(as_text=True)


def test_only_a_signed_agreement_can_be_terminated(app, town):
    agreement_id = _draft(town, "Leksehjelp", end=_day(100))
    _send_and_accept(app, town, agreement_id)
    form = {"ends_on": _day(10).isoformat(), "reason": "Feil"}
    assert town.admin.get(f"/agreements/{agreement_id}/terminate").status_code == 409
    assert town.admin.post(f"/agreements/{agreement_id}/terminate", data=form).status_code == 409
    assert _agreement(app, agreement_id)["state"] == "accepted"


# --- Renewing ------------------------------------------------------------------------------


def test_renew_makes_a_new_draft_copied_from_the_signed_agreement(app, town):
    agreement_id = _signed(app, town, "Leksehjelp", end=_day(40))
    before = _agreement(app, agreement_id)
    assert f'action="/agreements/{agreement_id}/renew"' in town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)

    response = town.staff.post(f"/agreements/{agreement_id}/renew", data={})
    assert response.status_code == 302
    new_id = int(re.search(r"/agreements/(\d+)/edit$", response.headers["Location"]).group(1))
    assert new_id != agreement_id
    page = town.staff.get(response.headers["Location"]).get_data(as_text=True)
    new = _agreement(app, new_id)
    assert f"Avtale {new['number']} er laget som et nytt utkast med teksten fra avtale {before['number']}." in page

    assert (new["state"], new["organization_id"], new["title"]) == ("draft", before["organization_id"], "Leksehjelp")
    assert (new["valid_from"], new["valid_to"]) == (None, None)
    for key in ("purpose", "activities", "economy", "duration", "disputes"):
        assert new["sections"][key] == before["sections"][key], key
    assert _agreement(app, agreement_id) == before  # the signed agreement is left as it was
    [event] = _events(app, agreement_id, "renew")
    assert event.details["new_number"] == new["number"]
    assert _events(app, new_id, "create")[0].details == {"copy_of": before["number"]}


def test_a_terminated_agreement_can_be_renewed_too(app, town):
    agreement_id = _signed(app, town, "Leksehjelp", end=_day(200))
    response = town.admin.post(
        f"/agreements/{agreement_id}/terminate", data={"ends_on": _day(30).isoformat(), "reason": "Ny avtale trengs"}
    )
    assert response.status_code == 302
    assert f'action="/agreements/{agreement_id}/renew"' in town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    response = town.staff.post(f"/agreements/{agreement_id}/renew", data={})
    assert response.status_code == 302 and re.search(r"/agreements/\d+/edit$", response.headers["Location"])
    assert _agreement(app, agreement_id)["state"] == "terminated"


def test_renewing_an_agreement_not_signed_is_refused(app, town):
    draft = _draft(town, "Utkast")
    sent = _draft(town, "Sendt")
    assert town.staff.post(f"/agreements/{sent}/send", data={}).status_code == 302
    agreements_before = _count(app, Agreement)
    for agreement_id in (draft, sent):
        response = town.staff.post(f"/agreements/{agreement_id}/renew", data={})
        assert response.status_code == 409
        assert "Dette kan ikke gjøres nå" in response.get_data(as_text=True)
        assert _events(app, agreement_id, "renew") == []
    assert _count(app, Agreement) == agreements_before
    assert f'action="/agreements/{draft}/renew"' not in town.staff.get(f"/agreements/{draft}").get_data(as_text=True)
