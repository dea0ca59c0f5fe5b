"""The evaluation of active agreements: `flask evaluations` (cron) emails the organisation a
link on each due date and reminds it; the organisation answers on its phone without an
account; staff add the municipality's view; everything shows in the agreement's timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from helpers import CSRFClient, link_in, login, outbox
from sqlalchemy import event, func, select, update
from world import ACCEPT, countersign_form, snapshot, write_agreement

from dugnad import evaluations, tokens
from dugnad.agreements import add_months
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import Agreement, Evaluation, LinkToken, Organization
from dugnad.timeutil import now_utc, today_oslo

ORG_EMAIL = "kari@rodekors.example.no"
CRON = Actor(label="Dugnad (evaluering)")

GOOD_ANSWER = {
    "went_well": "Leksehjelpen på biblioteket har samlet mange.",
    "went_badly": "Lokalet var for lite om vinteren.",
    "volunteers": "1 200",
    "participants": "ca. 40",
    "wishes": "Et større rom, og tolk på foreldremøtene.",
    "name": "Kari Nordmann",
}


@dataclass
class Town:
    municipality_id: int
    organization_id: int
    staff_email: str
    staff: CSRFClient
    admin: CSRFClient


def _town(app, factory, name: str = "Surnadal kommune") -> Town:
    municipality = factory.municipality(name)
    staff_email = factory.user(municipality, "staff")
    staff, admin = app.test_client(), app.test_client()
    login(staff, staff_email)
    login(admin, factory.user(municipality, "admin"))
    organization = factory.organization(municipality, name=f"{name} Røde Kors", email=ORG_EMAIL)
    return Town(municipality, organization, staff_email, staff, admin)


@pytest.fixture
def town(app, factory) -> Town:
    return _town(app, factory)


def _signed(app, town: Town, start: date, end: date | None = None, interval: str = "12") -> int:
    """An agreement written, sent, accepted and countersigned through the app's pages."""
    response = town.staff.post("/agreements/new", data={"organization_id": str(town.organization_id)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(
        town.staff, agreement_id, "Leksehjelp",
        duration={"start": start.isoformat(), "end": end.isoformat() if end else "", "notice_months": "3"},
        evaluation={"interval_months": interval},
    )
    assert town.staff.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    assert app.test_client().post(link_in(outbox(app, to=ORG_EMAIL)[-1]), data=ACCEPT).status_code == 302
    response = town.admin.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return agreement_id


def _send_due(app, today: date) -> int:
    with app.test_request_context():
        sent = evaluations.send_due(CRON, today=today)
        db.session.commit()
        return sent


def _remind(app, after: timedelta) -> int:
    with app.test_request_context():
        queued = evaluations.send_reminders(CRON, now=now_utc() + after)
        db.session.commit()
        return queued


def _evaluations(app) -> list[Evaluation]:
    with app.app_context():
        rows = db.session.scalars(select(Evaluation).order_by(Evaluation.id)).all()
        db.session.expunge_all()
        return rows


def _evaluation_mails(app) -> list:
    return [message for message in outbox(app, to=ORG_EMAIL) if "/r/evaluation/" in message.body_text]


def _evaluation_link(app) -> str:
    return link_in(_evaluation_mails(app)[-1])


@pytest.fixture
def sent(app, town):
    """(agreement id, the emailed evaluation link) of an agreement evaluated today."""
    start = today_oslo() - timedelta(days=30)
    agreement_id = _signed(app, town, start)
    assert _send_due(app, add_months(start, 12)) == 1
    return agreement_id, _evaluation_link(app)


# --- When evaluations are due ----------------------------------------------------------------


def _agreement(start, end=None, interval="12"):
    content = {"sections": {"evaluation": {"interval_months": interval}}}
    return SimpleNamespace(valid_from=start, valid_to=end, accepted_version=SimpleNamespace(content=content))


def test_due_dates_follow_the_agreements_interval():
    yearly = _agreement(date(2026, 1, 31))
    assert evaluations.latest_due(yearly, date(2027, 1, 30)) is None
    assert evaluations.latest_due(yearly, date(2027, 1, 31)) == date(2027, 1, 31)
    assert evaluations.latest_due(yearly, date(2028, 6, 1)) == date(2028, 1, 31)
    assert evaluations.next_due(yearly, date(2027, 1, 31)) == date(2028, 1, 31)
    # Counted from the start each time: the month's end stays the month's end.
    quarterly = _agreement(date(2026, 1, 31), interval="3")
    assert evaluations.latest_due(quarterly, date(2026, 5, 30)) == date(2026, 4, 30)
    assert evaluations.latest_due(quarterly, date(2026, 7, 31)) == date(2026, 7, 31)
    # Never after the agreement's last day.
    short = _agreement(date(2026, 1, 1), date(2027, 6, 30), interval="6")
    assert evaluations.latest_due(short, date(2030, 1, 1)) == date(2027, 1, 1)
    assert evaluations.next_due(short, date(2027, 1, 1)) is None
    # An agreement that ends before its first interval is up (one year, evaluated yearly)
    # is evaluated once, 30 days before its last day, in time to decide on renewing it.
    one_year = _agreement(date(2026, 1, 1), date(2026, 12, 31))
    assert evaluations.latest_due(one_year, date(2026, 11, 30)) is None
    assert evaluations.next_due(one_year, date(2026, 6, 1)) == date(2026, 12, 1)
    assert evaluations.latest_due(one_year, date(2026, 12, 1)) == date(2026, 12, 1)
    assert evaluations.latest_due(one_year, date(2027, 3, 1)) == date(2026, 12, 1)
    assert evaluations.next_due(one_year, date(2026, 12, 1)) is None
    two_weeks = _agreement(date(2026, 1, 1), date(2026, 1, 14))
    assert evaluations.latest_due(two_weeks, date(2026, 1, 1)) == date(2026, 1, 1)  # never before its start
    # A blank or unreadable interval means once a year.
    for blank in ("", "0", "²", None):
        assert evaluations.interval_months(_agreement(date(2026, 1, 1), interval=blank)) == 12
    assert evaluations.latest_due(_agreement(None), date(2030, 1, 1)) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("0", 0), ("12", 12), ("1 200", 1200), ("1\u00a0200", 1200), ("1.200", 1200), ("ca. 40", 40), ("Ca 40", 40),
     ("100 000", 100_000), ("-0", 0)],
)
def test_counts_are_read_as_norwegians_type_them(typed, expected):
    assert evaluations.parse_count(typed) == expected


@pytest.mark.parametrize(
    ("typed", "code"),
    [("ti", "format"), ("-1", "negative"), ("2,5", "decimals"), ("100 001", "too_large"), ("12a", "format"), ("", "format")],
)
def test_counts_that_are_not_counts(typed, code):
    with pytest.raises(evaluations.CountError) as refused:
        evaluations.parse_count(typed)
    assert refused.value.code == code


def test_evaluation_is_emailed_when_due_and_not_before_exactly_once(app, town):
    start = today_oslo() - timedelta(days=30)
    agreement_id = _signed(app, town, start)
    due = add_months(start, 12)

    assert _send_due(app, due - timedelta(days=1)) == 0
    assert _evaluations(app) == [] and _evaluation_mails(app) == []

    assert _send_due(app, due) == 1
    [evaluation] = _evaluations(app)
    assert (evaluation.agreement_id, evaluation.due_on) == (agreement_id, due)
    assert evaluation.sent_at is not None and evaluation.answered_at is None
    [message] = _evaluation_mails(app)
    assert message.subject == "Evaluering av samarbeidsavtalen Leksehjelp"
    assert "Det er tid for å evaluere samarbeidsavtalen «Leksehjelp»" in message.body_text
    assert "Lenken gjelder i 30 dager." in message.body_text
    with app.app_context():
        link = db.session.scalar(select(LinkToken).where(LinkToken.purpose == "evaluate_agreement"))
        assert (link.object_id, link.recipient) == (evaluation.id, ORG_EMAIL)

    # Exactly once: the next days' runs find it done.
    assert _send_due(app, due) == 0
    assert _send_due(app, due + timedelta(days=40)) == 0
    assert len(_evaluations(app)) == 1 and len(_evaluation_mails(app)) == 1

    page = town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "Evaluering sendt" in page  # the timeline
    assert f"E-post til {ORG_EMAIL} i kø siden" in page  # its delivery, as for other emails
    assert f"Evaluering {due.strftime('%d.%m.%Y')}" in page and "Sendt, venter på svar" in page
    assert f"Neste evaluering: {add_months(start, 24).strftime('%d.%m.%Y')}." in page

    # A year later, the next one.
    assert _send_due(app, add_months(start, 24)) == 1
    assert [row.due_on for row in _evaluations(app)] == [due, add_months(start, 24)]


def test_only_active_agreements_are_evaluated_at_their_own_interval(app, town):
    today = today_oslo()
    half_yearly = _signed(app, town, today - timedelta(days=200), interval="6")
    ended = _signed(app, town, today - timedelta(days=500), end=today - timedelta(days=10))
    not_begun = _signed(app, town, today + timedelta(days=30))
    # A draft with a start long ago is not in force.
    response = town.staff.post("/agreements/new", data={"organization_id": str(town.organization_id)})
    draft = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(town.staff, draft, "Utkast", duration={"start": (today - timedelta(days=800)).isoformat(), "end": "", "notice_months": "3"})

    assert _send_due(app, today) == 1
    [evaluation] = _evaluations(app)
    assert evaluation.agreement_id == half_yearly
    assert evaluation.due_on == add_months(today - timedelta(days=200), 6)
    assert {ended, not_begun, draft}.isdisjoint({row.agreement_id for row in _evaluations(app)})


def test_a_one_year_agreement_is_evaluated_a_month_before_it_ends(app, town):
    today = today_oslo()
    start = today - timedelta(days=300)
    end = add_months(start, 12) - timedelta(days=1)
    agreement_id = _signed(app, town, start, end=end)
    assert _send_due(app, end - timedelta(days=31)) == 0
    assert _send_due(app, end - timedelta(days=30)) == 1
    [evaluation] = _evaluations(app)
    assert (evaluation.agreement_id, evaluation.due_on) == (agreement_id, end - timedelta(days=30))
    assert len(_evaluation_mails(app)) == 1
    assert _send_due(app, end) == 0  # once


def _set_address(app, organization_id: int, email: str) -> None:
    with app.app_context():
        organization = db.session.get(Organization, organization_id)
        for contact in organization.contacts:
            contact.email = email
        organization.email = email
        db.session.commit()


def test_an_organisation_without_an_address_gets_it_once_it_has_one(app, town):
    start = today_oslo() - timedelta(days=30)
    agreement_id = _signed(app, town, start)
    _set_address(app, town.organization_id, "")
    assert _send_due(app, add_months(start, 12)) == 0
    [evaluation] = _evaluations(app)
    assert evaluation.sent_at is None
    assert "Ikke sendt: organisasjonen mangler e-postadresse" in town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)

    _set_address(app, town.organization_id, ORG_EMAIL)
    assert _send_due(app, add_months(start, 12) + timedelta(days=1)) == 1
    assert len(_evaluations(app)) == 1 and _evaluations(app)[0].sent_at is not None
    assert len(_evaluation_mails(app)) == 1


# --- The organisation's form ------------------------------------------------------------------


def test_the_link_shows_the_form(app, sent):
    _agreement_id, link = sent
    response = app.test_client().get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for label in ("Hva har fungert godt?", "Hva har ikke fungert?", "Hvor mange frivillige har vært med?",
                  "Hvor mange deltakere har vært med?", "Ønsker for neste år", "Ditt navn"):
        assert label in page
    assert 'name="viewport"' in page  # readable on a phone
    assert 'inputmode="numeric"' in page and 'type="number"' not in page  # "1 200" is typed as text
    assert "«Leksehjelp»" in page


def test_bad_input_gets_400_with_messages_and_nothing_is_lost(app, sent):
    _agreement_id, link = sent
    visitor = app.test_client()
    before = snapshot(app)
    typed = {
        "went_well": "",
        "went_badly": "x" * 5001,
        "volunteers": "ti",
        "participants": "-1",
        "wishes": "Mer tid på biblioteket <b>takk</b>",
        "name": "",
    }
    response = visitor.post(link, data=typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    summary = re.search(r'<div class="ds-error-summary".*?</div>', page, re.S).group(0)
    assert sorted(re.findall(r'href="#([^"]+)"', summary)) == ["name", "participants", "volunteers", "went_badly", "went_well"]
    for field, message in {
        "went_well": "Skriv hva som har fungert godt i samarbeidet.",
        "went_badly": "Svaret kan ha høyst 5 000 tegn.",
        "volunteers": "Skriv antallet med sifre, for eksempel 12.",
        "participants": "Antallet kan ikke være mindre enn 0.",
        "name": "Skriv navnet ditt.",
    }.items():
        assert re.search(rf'id="{field}-error">{re.escape(message)}<', page), field
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', page) or re.search(
            rf'aria-describedby="[^"]*{field}-error[^"]*"[^>]*id="{field}"', page
        ), field
    # What was typed is all still there, escaped.
    assert 'value="ti"' in page and 'value="-1"' in page
    assert "x" * 5001 in page
    assert "Mer tid på biblioteket &lt;b&gt;takk&lt;/b&gt;" in page
    assert snapshot(app) == before

    too_large = visitor.post(link, data={**GOOD_ANSWER, "participants": "250 000"})
    assert too_large.status_code == 400
    assert "Skriv et tall fra 0 til 100 000." in too_large.get_data(as_text=True)
    assert _evaluations(app)[0].answered_at is None


def test_the_answer_is_kept_the_owner_told_and_the_timeline_shows_it(app, town, sent):
    agreement_id, link = sent
    visitor = app.test_client()
    response = visitor.post(link, data=GOOD_ANSWER)
    assert response.status_code == 302

    [evaluation] = _evaluations(app)
    assert evaluation.answered_at is not None
    assert (evaluation.volunteers, evaluation.participants) == (1200, 40)
    assert (evaluation.went_well, evaluation.went_badly, evaluation.wishes, evaluation.answered_by) == (
        GOOD_ANSWER["went_well"], GOOD_ANSWER["went_badly"], GOOD_ANSWER["wishes"], "Kari Nordmann"
    )

    # The receipt, read-only, and again whenever the link is opened.
    receipt = visitor.get(response.headers["Location"]).get_data(as_text=True)
    assert "Takk! Evalueringen er sendt til kommunen." in receipt
    for page in (receipt, app.test_client().get(link).get_data(as_text=True)):
        assert "Evalueringen er besvart" in page
        assert GOOD_ANSWER["went_well"] in page and "1\u00a0200" in page and "Kari Nordmann" in page
        assert "<textarea" not in page and 'type="submit">Send evalueringen' not in page

    # A second answer changes nothing.
    before = snapshot(app)
    again = app.test_client().post(link, data={**GOOD_ANSWER, "went_well": "Noe annet"})
    assert again.status_code == 409
    assert "evalueringen var allerede besvart" in again.get_data(as_text=True)
    assert snapshot(app) == before

    [notice] = [message for message in outbox(app, to=town.staff_email) if message.subject.startswith("Evaluering besvart")]
    assert notice.subject == "Evaluering besvart: Leksehjelp"
    assert "har svart på evalueringen" in notice.body_text
    assert f"/agreements/{agreement_id}#evaluation-{evaluation.id}" in notice.body_text

    page = town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "Evaluering besvart" in page  # the timeline
    assert "Kari Nordmann (Surnadal kommune Røde Kors)" in page  # who, in the timeline
    assert GOOD_ANSWER["went_badly"] in page and "Besvart, mangler kommunens vurdering" in page
    # The evaluation leads straight to a new draft, for a renewal or a change.
    assert "Forny avtalen</button>" in page and "Endre avtalen</button>" in page
    response = town.staff.post(f"/agreements/{agreement_id}/renew", data={})
    assert response.status_code == 302 and "/edit" in response.headers["Location"]


def test_reminders_after_7_and_14_days_once_each_not_after_an_answer(app, town, sent):
    agreement_id, first_link = sent
    assert _remind(app, timedelta(days=6, hours=23)) == 0
    assert _remind(app, timedelta(days=7, minutes=1)) == 1
    assert _remind(app, timedelta(days=8)) == 0  # the 7-day reminder, once
    assert _remind(app, timedelta(days=14, minutes=1)) == 1
    assert _remind(app, timedelta(days=20)) == 0  # no third
    mails = _evaluation_mails(app)
    assert [message.subject for message in mails] == [
        "Evaluering av samarbeidsavtalen Leksehjelp",
        "Påminnelse: evaluering av samarbeidsavtalen Leksehjelp",
        "Påminnelse: evaluering av samarbeidsavtalen Leksehjelp",
    ]
    assert "En påminnelse:" in mails[1].body_text
    [evaluation] = _evaluations(app)
    assert evaluation.reminders_sent == 2 and evaluation.last_reminded_at is not None
    page = town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert page.count("Påminnelse om evaluering") == 2
    assert "2 påminnelser, sist" in page

    # Every link still works; the first one answers.
    visitor = app.test_client()
    assert visitor.get(link_in(mails[1])).status_code == 200
    assert visitor.post(first_link, data=GOOD_ANSWER).status_code == 302
    # The reminder's link now shows the answer.
    assert "Evalueringen er besvart" in visitor.get(link_in(mails[2])).get_data(as_text=True)


def test_no_reminder_once_answered(app, sent):
    _agreement_id, link = sent
    assert app.test_client().post(link, data=GOOD_ANSWER).status_code == 302
    assert _remind(app, timedelta(days=7, minutes=1)) == 0
    assert _remind(app, timedelta(days=14, minutes=1)) == 0
    assert len(_evaluation_mails(app)) == 1


def test_a_run_that_missed_a_step_sends_one_reminder(app, sent):
    assert _remind(app, timedelta(days=15)) == 1
    assert _remind(app, timedelta(days=16)) == 0
    assert _evaluations(app)[0].reminders_sent == 2


def test_expired_revoked_and_unknown_links_get_the_friendly_pages(app, sent):
    _agreement_id, link = sent
    token = link.rsplit("/", 1)[1]
    visitor = app.test_client()
    unknown = visitor.get("/r/evaluation/" + "A" * 43)
    assert unknown.status_code == 404 and "Lenken virker ikke" in unknown.get_data(as_text=True)
    # A link for another purpose opens nothing here.
    assert visitor.get(link.replace("/r/evaluation/", "/r/agreement/")).status_code == 404

    with app.app_context():
        db.session.execute(update(LinkToken).where(LinkToken.purpose == "evaluate_agreement").values(expires_at=now_utc() - timedelta(minutes=1)))
        db.session.commit()
    before = snapshot(app)
    for response in (visitor.get(link), visitor.post(link, data=GOOD_ANSWER)):
        page = response.get_data(as_text=True)
        assert response.status_code == 410
        assert "Lenken er utløpt" in page and "Ta kontakt med kommunen" in page
    assert snapshot(app) == before
    # An expired link is not reminded about: there is nothing left to answer with.
    assert _remind(app, timedelta(days=7, minutes=1)) == 0

    with app.app_context():
        db.session.execute(update(LinkToken).values(expires_at=now_utc() + timedelta(days=1)))
        tokens.revoke_all(tokens.Purpose.EVALUATE_AGREEMENT, _evaluations(app)[0].id)
        db.session.commit()
    response = visitor.get(f"/r/evaluation/{token}")
    assert response.status_code == 410 and "Lenken er ikke lenger gyldig" in response.get_data(as_text=True)


# --- The municipality's view -----------------------------------------------------------------


def test_municipality_view_is_saved_and_shown(app, town, sent):
    agreement_id, link = sent
    assert app.test_client().post(link, data=GOOD_ANSWER).status_code == 302
    [evaluation] = _evaluations(app)

    too_long = town.staff.post(f"/evaluations/{evaluation.id}/view", data={"municipality_view": "v" * 5001})
    page = too_long.get_data(as_text=True)
    assert too_long.status_code == 400
    assert 'href="#municipality_view"' in page and 'id="municipality_view-error">Vurderingen kan ha høyst 5 000 tegn.<' in page
    assert "v" * 5001 in page  # nothing typed is lost
    empty = town.staff.post(f"/evaluations/{evaluation.id}/view", data={"municipality_view": "  "})
    assert empty.status_code == 400 and "Skriv kommunens vurdering." in empty.get_data(as_text=True)
    assert _evaluations(app)[0].municipality_view == ""

    view = "Et godt år. Vi skaffer et større rom til høsten."
    response = town.staff.post(f"/evaluations/{evaluation.id}/view", data={"municipality_view": view})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/agreements/{agreement_id}#evaluation-{evaluation.id}")
    stored = _evaluations(app)[0]
    assert stored.municipality_view == view and stored.municipality_view_at is not None
    page = town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "Kommunens vurdering er lagret." in page
    assert view in page and "Kommunens vurdering lagt til" in page and "Besvart og vurdert" in page

    response = town.staff.post(f"/evaluations/{evaluation.id}/view", data={"municipality_view": view + " Endret."})
    assert response.status_code == 302
    page = town.staff.get(f"/evaluations/{evaluation.id}").get_data(as_text=True)
    assert view + " Endret." in page and GOOD_ANSWER["wishes"] in page
    assert "Kommunens vurdering endret" in town.staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)

    listing = town.staff.get("/evaluations/").get_data(as_text=True)
    assert "Leksehjelp" in listing and "Besvart og vurdert" in listing


def test_another_municipalitys_staff_get_404(app, factory, town, sent):
    [evaluation] = _evaluations(app)
    other = _town(app, factory, "Bjørkvik kommune")
    before = snapshot(app)
    response = other.staff.post(f"/evaluations/{evaluation.id}/view", data={"municipality_view": "Kapret vurdering"})
    assert response.status_code == 404
    assert other.staff.get(f"/evaluations/{evaluation.id}").status_code == 404
    assert "Leksehjelp" not in other.staff.get("/evaluations/").get_data(as_text=True)
    assert snapshot(app) == before


def _number(app, agreement_id: int) -> str:
    with app.app_context():
        return db.session.get(Agreement, agreement_id).number


def test_evaluations_due_for_the_start_page(app, factory, town):
    today = today_oslo()
    waiting = _signed(app, town, today - timedelta(days=400))
    answered = _signed(app, town, today - timedelta(days=380))
    viewed = _signed(app, town, today - timedelta(days=370))
    assert _send_due(app, today) == 3
    visitor = app.test_client()
    for agreement_id in (answered, viewed):
        number = _number(app, agreement_id)
        link = next(link_in(message) for message in _evaluation_mails(app) if f"(avtale {number})" in message.body_text)
        assert visitor.post(link, data=GOOD_ANSWER).status_code == 302
    viewed_id = next(row.id for row in _evaluations(app) if row.agreement_id == viewed)
    assert town.staff.post(f"/evaluations/{viewed_id}/view", data={"municipality_view": "Bra"}).status_code == 302
    other = _town(app, factory, "Bjørkvik kommune")

    with app.app_context():
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        due = evaluations.evaluations_due_for(town.municipality_id, today)
        rows = [(row.agreement.id, row.agreement.organization.name) for row in due]
        event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) == 1  # one query, with the agreement and organisation
        assert evaluations.evaluations_due_for(other.municipality_id, today) == []
    # The answer waiting for the municipality's view first, then the one waiting for the organisation.
    assert rows == [(answered, "Surnadal kommune Røde Kors"), (waiting, "Surnadal kommune Røde Kors")]

    # The start page lists them under "what needs me", each a link to the evaluation, and
    # an evaluation leaves the list once the municipality has added its view.
    ids = {row.agreement_id: row.id for row in _evaluations(app)}
    items = _start_page_evaluations(town.staff)
    assert [number for number, _ in items] == [ids[answered], ids[waiting]]
    assert "kommunens vurdering mangler" in items[0][1] and "ikke besvart" in items[1][1]
    assert town.staff.post(f"/evaluations/{ids[answered]}/view", data={"municipality_view": "Bra"}).status_code == 302
    assert [number for number, _ in _start_page_evaluations(town.staff)] == [ids[waiting]]
    assert _start_page_evaluations(other.staff) == []


def _start_page_evaluations(client) -> list[tuple[int, str]]:
    """(evaluation id, text) of each item under "Evalueringer" on the start page."""
    page = client.get("/").get_data(as_text=True)
    match = re.search(r"Evalueringer</h3>\s*<ul class=\"ds-list\">(.*?)</ul>", page, re.S)
    if not match:
        return []
    return [(int(found), re.sub(r"\s+", " ", text)) for found, text in
            re.findall(r'<li><a class="ds-link" href="/evaluations/(\d+)">(.*?)</li>', match.group(1), re.S)]


# --- Cron --------------------------------------------------------------------------------------


def test_the_cron_command_sends_due_evaluations_and_reminders(app, town, runner):
    agreement_id = _signed(app, town, add_months(today_oslo(), -13))
    result = runner.invoke(args=["evaluations"])
    assert result.exit_code == 0, result.output
    assert "evaluations queued: 1" in result.output and "evaluation reminders queued: 0" in result.output
    [message] = _evaluation_mails(app)
    assert link_in(message).startswith("/r/evaluation/")
    assert app.test_client().get(link_in(message)).status_code == 200
    [evaluation] = _evaluations(app)
    assert evaluation.agreement_id == agreement_id
    assert evaluation.due_on == add_months(add_months(today_oslo(), -13), 12)

    again = runner.invoke(args=["evaluations"])
    assert again.exit_code == 0 and "evaluations queued: 0" in again.output
    with app.app_context():
        db.session.execute(update(Evaluation).values(sent_at=now_utc() - timedelta(days=8)))
        db.session.commit()
    reminded = runner.invoke(args=["evaluations"])
    assert "evaluation reminders queued: 1" in reminded.output
    assert len(_evaluation_mails(app)) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count(Evaluation.id))) == 1
