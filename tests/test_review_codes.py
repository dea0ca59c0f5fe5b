"""The optional one-time code on review links, and the read-only status a link shows
once there is nothing left to answer through it.

With the code on (an administrator's setting per municipality), a review link shows
only a page asking for a code emailed to the address the link went to; a forwarded
link alone opens nothing. Codes are stored only as a keyed hash, expire, stand a few
wrong tries, and a link gets a limited number of them, one a minute.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from helpers import CSRFClient, link_in, login, outbox
from sqlalchemy import func, select, update
from world import ACCEPT, countersign_form, snapshot, write_agreement

from blueprints.respond import routes as respond_routes
from dugnad import review_codes, tokens
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import Agreement, AuditEvent, LinkToken, Municipality, OutboxMessage, Signature
from dugnad.timeutil import now_utc

ORG_EMAIL = "kari@lag.example.no"
MASKED = "k***@lag.example.no"
SECOND_EMAIL = "per@lag.example.no"
TITLE = "Leksehjelp på biblioteket"
#: Text of the agreement itself (the purpose section the world's forms write).
DOCUMENT_TEXT = "Gode lokalsamfunn for nye innbyggere."
CODE_PAGE = "For å åpne avtalen trenger du en engangskode"
CODE_SUBJECT = "Engangskode for å åpne samarbeidsavtalen"


@dataclass
class Review:
    admin: CSRFClient
    agreement_id: int
    municipality_id: int
    link: str


def _set_required(app, municipality_id: int, required: bool) -> None:
    with app.app_context():
        db.session.get(Municipality, municipality_id).review_code_required = required
        db.session.commit()


@pytest.fixture
def sent(app, client, factory) -> Review:
    """An agreement of Surnadal kommune sent to Surnadal Røde Kors (code not yet on)."""
    municipality = factory.municipality("Surnadal kommune")
    login(client, factory.user(municipality, "admin"))
    organization = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(client, agreement_id, TITLE)
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return Review(client, agreement_id, municipality, link_in(outbox(app, to=ORG_EMAIL)[-1]))


@pytest.fixture
def review(app, sent) -> Review:
    """The same, with the municipality asking for a code (turned on through the admin page)."""
    assert sent.admin.post("/admin/review-links", data={"review_code_required": "y"}).status_code == 302
    return sent


def _code_mails(app) -> list[OutboxMessage]:
    return [message for message in outbox(app, to=ORG_EMAIL) if message.subject == CODE_SUBJECT]


def _code_in(message: OutboxMessage) -> str:
    match = re.search(r"^\s+(\d{6})$", message.body_text, re.MULTILINE)
    assert match, message.body_text
    return match.group(1)


def _digest(link: str) -> str:
    return hashlib.sha256(link.split("/")[3].encode()).hexdigest()


def _row(app, link: str) -> LinkToken:
    with app.app_context():
        row = db.session.scalar(select(LinkToken).where(LinkToken.token_hash == _digest(link)))
        db.session.expunge_all()
        return row


def _change(app, link: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(LinkToken).where(LinkToken.token_hash == _digest(link)).values(**values))
        db.session.commit()


def _allow_next_send(app, link: str) -> None:
    """As if the last code was sent more than a minute ago."""
    with app.app_context():
        row = db.session.scalar(select(LinkToken).where(LinkToken.token_hash == _digest(link)))
        if row.code_sent_at is not None:
            row.code_sent_at = row.code_sent_at - timedelta(seconds=61)
        db.session.commit()


def _send(visitor, link: str):
    return visitor.post(f"{link}/code/send", data={})


def _enter(visitor, link: str, code: str):
    return visitor.post(f"{link}/code", data={"code": code})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _new_code(app, visitor, link: str) -> str:
    response = _send(visitor, link)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return _code_in(_code_mails(app)[-1])


def _opened_with_code(app, visitor, link: str) -> None:
    response = _enter(visitor, link, _new_code(app, visitor, link))
    assert response.status_code == 302 and response.headers["Location"].endswith(link)


def _actions(app, agreement_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id)
                .order_by(AuditEvent.id)
            )
        )


def _state(app, agreement_id: int) -> tuple[str, int]:
    with app.app_context():
        return (
            db.session.get(Agreement, agreement_id).state,
            db.session.scalar(select(func.count(Signature.id)).where(Signature.party == "organization")),
        )


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- Off: as before ----------------------------------------------------------------------


def test_without_the_setting_the_link_opens_the_agreement_at_once(app, sent):
    page = app.test_client().get(sent.link)
    assert page.status_code == 200
    assert DOCUMENT_TEXT in _text(page) and CODE_PAGE not in _text(page)
    assert _code_mails(app) == []


# --- On: the code page ---------------------------------------------------------------------


def test_the_link_shows_only_the_code_page_and_sends_nothing_on_get(app, review):
    visitor = app.test_client()
    mails_before = len(outbox(app))
    page = visitor.get(review.link)
    assert page.status_code == 200
    html = _text(page)
    assert CODE_PAGE in html and MASKED in html
    assert ORG_EMAIL not in html  # the address masked, not spelled out
    assert DOCUMENT_TEXT not in html and TITLE not in html and "Surnadal Røde Kors" not in html
    assert f'action="{review.link}/code/send"' in html and ">Send kode</button>" in html
    assert 'name="code"' not in html  # no field before a code is sent
    # A GET never mails (mail scanners open links), but the timeline notes the first opening.
    assert len(outbox(app)) == mails_before
    assert _row(app, review.link).opened_at is not None
    assert _actions(app, review.agreement_id).count("opened") == 1

    for suffix in ("/version.pdf", "/signed.pdf"):
        response = visitor.get(review.link + suffix)
        assert response.status_code == 200 and response.mimetype == "text/html", suffix
        assert CODE_PAGE in _text(response) and DOCUMENT_TEXT not in _text(response), suffix
        assert not response.data.startswith(b"%PDF")
    assert len(outbox(app)) == mails_before


def test_answering_without_the_code_changes_nothing(app, review):
    before = snapshot(app)
    response = app.test_client().post(review.link, data=ACCEPT)
    assert response.status_code == 403
    assert CODE_PAGE in _text(response) and DOCUMENT_TEXT not in _text(response)
    assert snapshot(app) == before


def test_sending_a_code_emails_six_digits_and_stores_only_a_keyed_hash(app, review):
    visitor = app.test_client()
    response = _send(visitor, review.link)
    assert response.status_code == 302 and response.headers["Location"].endswith(review.link)
    mails = _code_mails(app)
    assert len(mails) == 1 and mails[0].to_addr == ORG_EMAIL
    code = _code_in(mails[0])
    assert re.fullmatch(r"\d{6}", code)
    assert code in mails[0].body_html and code not in mails[0].subject
    assert "10 minutter" in mails[0].body_text and "Europe/Oslo" in mails[0].body_text

    row = _row(app, review.link)
    assert (row.codes_sent, row.code_attempts) == (1, 0)
    assert row.code_hash and len(row.code_hash) == 64
    assert row.code_hash != hashlib.sha256(code.encode()).hexdigest()  # keyed: no table of a million hashes finds it
    assert timedelta(minutes=9) < row.code_expires_at - now_utc() <= timedelta(minutes=10)
    # The code is nowhere in the database but in the email itself (text columns searched:
    # six digits turn up by chance among a timestamp's microseconds).
    alone = re.compile(rf"(?<![0-9]){code}(?![0-9])")
    for table, rows in snapshot(app).items():
        if table in ("outbox_message", "outbox_attachment"):
            continue
        for stored in rows:
            for value in stored:
                if isinstance(value, (str, dict, list)):
                    assert not alone.search(str(value)), f"the code in plain form in {table}"

    page = _text(visitor.get(review.link))
    assert "Vi har sendt en kode til k***@lag.example.no" in page
    field = re.search(r"<input[^>]*name=\"code\"[^>]*>", page).group(0)
    assert 'inputmode="numeric"' in field and 'autocomplete="one-time-code"' in field
    assert 'aria-describedby="code-hint"' in field
    assert "Engangskode" in page and "Koden har 6 siffer" in page
    assert DOCUMENT_TEXT not in page

    # The agreement's timeline says a code went out (and where), never the code.
    assert "code_sent" in _actions(app, review.agreement_id)
    history = _text(review.admin.get(f"/agreements/{review.agreement_id}"))
    assert "Engangskode sendt" in history and code not in history


def test_a_wrong_code_is_400_with_the_tries_left(app, review):
    visitor = app.test_client()
    code = _new_code(app, visitor, review.link)
    response = _enter(visitor, review.link, _wrong(code))
    assert response.status_code == 400
    page = _text(response)
    assert "Koden er feil. Du har 4 forsøk igjen." in page
    assert 'href="#code"' in page  # the error summary links to the field
    field = re.search(r"<input[^>]*name=\"code\"[^>]*>", page).group(0)
    assert 'aria-invalid="true"' in field and "code-error" in field
    assert DOCUMENT_TEXT not in page
    assert _row(app, review.link).code_attempts == 1


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef"])
def test_a_code_that_is_not_six_digits_is_named_and_not_counted(app, review, typed):
    visitor = app.test_client()
    _new_code(app, visitor, review.link)
    response = _enter(visitor, review.link, typed)
    assert response.status_code == 400
    assert "Skriv koden fra e-posten." in _text(response) or "Koden har 6 siffer. Skriv bare sifrene" in _text(response)
    assert _row(app, review.link).code_attempts == 0


def test_spaces_in_the_code_do_not_matter(app, review):
    visitor = app.test_client()
    code = _new_code(app, visitor, review.link)
    response = _enter(visitor, review.link, f" {code[:3]} {code[3:]} ")
    assert response.status_code == 302
    assert DOCUMENT_TEXT in _text(visitor.get(review.link))


def test_five_wrong_codes_void_it_and_a_new_code_works(app, review):
    visitor = app.test_client()
    code = _new_code(app, visitor, review.link)
    for tries_left in (4, 3, 2, 1):
        response = _enter(visitor, review.link, _wrong(code))
        assert response.status_code == 400
        assert f"Du har {tries_left} forsøk igjen." in _text(response)
    fifth = _enter(visitor, review.link, _wrong(code))
    assert fifth.status_code == 429
    assert "Koden er skrevet feil for mange ganger og virker ikke lenger. Be om en ny kode." in _text(fifth)
    assert ">Send kode</button>" in _text(fifth)
    # Now even the right code is refused, and not counted again.
    refused = _enter(visitor, review.link, code)
    assert refused.status_code == 429
    assert DOCUMENT_TEXT not in _text(visitor.get(review.link))
    assert _row(app, review.link).code_attempts == 5
    assert _actions(app, review.agreement_id).count("code_void") == 1

    _allow_next_send(app, review.link)
    new_code = _new_code(app, visitor, review.link)
    assert _row(app, review.link).code_attempts == 0
    assert _enter(visitor, review.link, new_code).status_code == 302
    assert DOCUMENT_TEXT in _text(visitor.get(review.link))


def test_an_expired_code_is_refused(app, review):
    visitor = app.test_client()
    code = _new_code(app, visitor, review.link)
    _change(app, review.link, code_expires_at=now_utc() - timedelta(seconds=1))
    response = _enter(visitor, review.link, code)
    assert response.status_code == 410
    assert "Koden er utløpt. Be om en ny kode." in _text(response)
    assert f'action="{review.link}/code/send"' in _text(response)
    assert DOCUMENT_TEXT not in _text(visitor.get(review.link))
    assert "Koden er utløpt" in _text(visitor.get(review.link))  # the page says so on its own too


def test_a_second_code_within_a_minute_is_refused_and_a_new_code_replaces_the_old(app, review):
    visitor = app.test_client()
    first = _new_code(app, visitor, review.link)
    again = _send(visitor, review.link)
    assert again.status_code == 429
    assert re.search(r"Du kan be om en ny kode om \d+ sekunder", _text(again))
    assert 'name="code"' in _text(again)  # the code already sent still works: its field stays
    assert len(_code_mails(app)) == 1

    _allow_next_send(app, review.link)
    second = _new_code(app, visitor, review.link)
    assert len(_code_mails(app)) == 2
    if first != second:  # one in a million they are the same
        assert _enter(visitor, review.link, first).status_code == 400
    assert _enter(visitor, review.link, second).status_code == 302


def test_after_five_codes_the_link_gets_no_more(app, review):
    visitor = app.test_client()
    for _sent in range(5):
        _new_code(app, visitor, review.link)
        _allow_next_send(app, review.link)
    response = _send(visitor, review.link)
    assert response.status_code == 429
    assert "Ta kontakt med Surnadal kommune for å få en ny lenke." in _text(response)
    assert len(_code_mails(app)) == 5
    # The fifth code still works while it lives.
    assert 'name="code"' in _text(visitor.get(review.link))
    _change(app, review.link, code_expires_at=now_utc() - timedelta(seconds=1))
    page = _text(visitor.get(review.link))
    assert "Ta kontakt med Surnadal kommune" in page and "/code/send" not in page


def test_the_right_code_opens_the_agreement_and_accepting_works(app, review):
    visitor = app.test_client()
    _opened_with_code(app, visitor, review.link)
    page = visitor.get(review.link)
    assert page.status_code == 200 and DOCUMENT_TEXT in _text(page)
    assert visitor.get(f"{review.link}/version.pdf").data.startswith(b"%PDF")
    response = visitor.post(review.link, data=ACCEPT)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{review.link}/done")
    assert "Takk for svaret." in _text(visitor.get(f"{review.link}/done"))
    assert _state(app, review.agreement_id) == ("accepted", 1)
    row = _row(app, review.link)
    assert row.code_hash is None  # used up: the same code opens nothing twice
    assert ["code_sent", "code_verified", "accept"] == [
        action for action in _actions(app, review.agreement_id) if action in ("code_sent", "code_verified", "accept")
    ]


def test_a_forwarded_link_still_asks_for_the_code(app, review):
    visitor = app.test_client()
    _opened_with_code(app, visitor, review.link)
    forwarded = app.test_client()  # someone else's browser: a session of its own
    page = forwarded.get(review.link)
    assert CODE_PAGE in _text(page) and DOCUMENT_TEXT not in _text(page)
    before = snapshot(app)
    assert forwarded.post(review.link, data=ACCEPT).status_code == 403
    assert snapshot(app) == before
    # After the answer too, the receipt and the PDFs stay behind the code for them.
    assert visitor.post(review.link, data=ACCEPT).status_code == 302
    for suffix in ("", "/done", "/version.pdf"):
        response = forwarded.get(review.link + suffix)
        assert CODE_PAGE in _text(response) and TITLE not in _text(response), suffix
    assert "Takk for svaret." in _text(visitor.get(f"{review.link}/done"))


def test_a_code_opens_only_its_own_link(app, review):
    """A second link to the same agreement (another contact) needs its own code."""
    visitor = app.test_client()
    _opened_with_code(app, visitor, review.link)
    other = _second_link(app, review)
    page = visitor.get(other)
    assert CODE_PAGE in _text(page) and "p***@lag.example.no" in _text(page)
    _send(visitor, other)
    assert outbox(app, to=SECOND_EMAIL)[-1].subject == CODE_SUBJECT  # the code goes where that link went


def test_racing_wrong_guesses_all_count(app, review):
    """Two wrong guesses read the link at once: the counter is raised in the database,
    so both count (a value computed from a stale read would lose one)."""
    visitor = app.test_client()
    code = _new_code(app, visitor, review.link)
    actor = Actor(label="test")
    with app.app_context():
        stale = db.session.scalar(select(LinkToken).where(LinkToken.token_hash == _digest(review.link)))
        assert stale.code_attempts == 0
        # Meanwhile four other wrong tries were counted by other requests.
        db.session.execute(
            update(LinkToken).where(LinkToken.id == stale.id).values(code_attempts=4)
            .execution_options(synchronize_session=False)
        )
        assert stale.code_attempts == 0
        with pytest.raises(review_codes.CodeVoid):
            review_codes.check_code(stale, _wrong(code), actor)
        db.session.commit()
        assert stale.code_attempts == 5
        # Nor does the right code, read before the code was voided, open anything now.
        with pytest.raises(review_codes.CodeVoid):
            review_codes.check_code(stale, code, actor)
        db.session.remove()


def test_racing_sends_mail_one_code(app, review):
    """A double click: both requests read the link before either wrote; one code goes out."""
    with app.test_request_context():
        stale = db.session.scalar(select(LinkToken).where(LinkToken.token_hash == _digest(review.link)))
        assert stale.codes_sent == 0
        # The other request sent its code after this one read the link.
        db.session.execute(
            update(LinkToken).where(LinkToken.id == stale.id).values(codes_sent=1, code_sent_at=now_utc())
            .execution_options(synchronize_session=False)
        )
        assert stale.codes_sent == 0 and stale.code_sent_at is None
        with pytest.raises(review_codes.TooSoon):
            review_codes.send_code(stale, Actor(label="second"))
        db.session.rollback()
        db.session.remove()
    assert _code_mails(app) == []


# --- The administrators' setting -------------------------------------------------------------


def test_admins_turn_the_code_on_and_off(app, sent, factory):
    page = sent.admin.get("/admin/review-links")
    assert page.status_code == 200
    html = _text(page)
    assert "Krev engangskode før organisasjonen kan åpne avtalen" in html and "videresendt" in html
    assert 'href="/admin/review-links"' in html  # in the admin menu
    response = sent.admin.post("/admin/review-links", data={"review_code_required": "y"})
    assert response.status_code == 302
    assert "Lagret" in _text(sent.admin.get(response.headers["Location"]))
    assert 'checked' in re.search(r"<input[^>]*review_code_required[^>]*>", _text(sent.admin.get("/admin/review-links"))).group(0)
    assert CODE_PAGE in _text(app.test_client().get(sent.link))

    assert sent.admin.post("/admin/review-links", data={}).status_code == 302
    assert DOCUMENT_TEXT in _text(app.test_client().get(sent.link))
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "review_code_setting").order_by(AuditEvent.id)
        ).all()
        assert [(e.municipality_id, e.details["review_code_required"]) for e in events] == [
            (sent.municipality_id, True), (sent.municipality_id, False),
        ]


def test_staff_may_not_change_the_setting(app, sent, factory):
    staff = app.test_client()
    login(staff, factory.user(sent.municipality_id, "staff"))
    assert staff.get("/admin/review-links").status_code == 403
    assert staff.post("/admin/review-links", data={"review_code_required": "y"}).status_code == 403
    assert 'href="/admin/review-links"' not in _text(staff.get("/agreements/"))
    with app.app_context():
        assert db.session.get(Municipality, sent.municipality_id).review_code_required is False


def test_the_setting_needs_the_csrf_token(app, sent):
    response = sent.admin.post("/admin/review-links", data={"review_code_required": "y"}, csrf=False)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Municipality, sent.municipality_id).review_code_required is False


def test_the_setting_is_the_admins_own_municipality_only(app, sent, factory):
    other = factory.municipality("Annen kommune")
    other_admin = app.test_client()
    login(other_admin, factory.user(other, "admin"))
    assert other_admin.post("/admin/review-links", data={"review_code_required": "y"}).status_code == 302
    with app.app_context():
        assert db.session.get(Municipality, other).review_code_required is True
        assert db.session.get(Municipality, sent.municipality_id).review_code_required is False
    assert DOCUMENT_TEXT in _text(app.test_client().get(sent.link))  # Surnadal's links open as before


# --- Read-only once there is nothing to answer ---------------------------------------------------


def _second_link(app, review: Review) -> str:
    """Another contact's link to the same agreement and version, as sending to several would make."""
    with app.app_context():
        token = tokens.issue(
            review.municipality_id, tokens.Purpose.REVIEW_AGREEMENT, review.agreement_id,
            expires_at=now_utc() + timedelta(days=30), recipient=SECOND_EMAIL,
        )
        db.session.commit()
    return f"/r/agreement/{token}"


def test_another_recipients_link_shows_the_answer_read_only(app, sent):
    other = _second_link(app, sent)
    assert DOCUMENT_TEXT in _text(app.test_client().get(other))  # both links open before an answer
    assert app.test_client().post(sent.link, data=ACCEPT).status_code == 302

    visitor = app.test_client()
    page = visitor.get(other)
    assert page.status_code == 200
    html = _text(page)
    assert "Avtalen er godtatt" in html and "Godtatt av organisasjonen" in html
    assert "Kari Nordmann, styreleder" in html and "Europe/Oslo" in html  # by whom and when
    assert 'name="action"' not in html and DOCUMENT_TEXT not in html  # no forms
    assert f'href="{other}/version.pdf"' in html

    before = snapshot(app)
    response = visitor.post(other, data={**ACCEPT, "accept-name": "Per Hansen", "accept-signature": "Per Hansen"})
    assert response.status_code == 409
    assert "Avtalen er godtatt" in _text(response) and 'name="action"' not in _text(response)
    assert "Svaret ditt ble ikke registrert." in _text(response)
    assert visitor.post(other, data={"action": "decline", "decline-reason": "Nei"}).status_code == 409
    assert snapshot(app) == before
    assert _state(app, sent.agreement_id) == ("accepted", 1)

    # Once countersigned, the link offers the signed PDF.
    assert sent.admin.post(f"/agreements/{sent.agreement_id}/countersign", data=countersign_form(app, sent.agreement_id)).status_code == 302
    html = _text(visitor.get(other))
    assert "Avtalen er signert" in html and f'href="{other}/signed.pdf"' in html and "Signert av kommunen" in html
    response = visitor.get(f"{other}/signed.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_a_decline_through_one_link_closes_the_other(app, sent):
    other = _second_link(app, sent)
    answer = {"action": "decline", "decline-reason": "Styret vil ikke binde seg nå."}
    assert app.test_client().post(sent.link, data=answer).status_code == 302
    page = app.test_client().get(other)
    assert page.status_code == 200
    html = _text(page)
    assert "Avtalen er avslått" in html and "Avslått av organisasjonen" in html
    assert "Styret vil ikke" not in html  # the reason is the municipality's to read
    assert app.test_client().post(other, data=ACCEPT).status_code == 409
    assert _state(app, sent.agreement_id) == ("declined", 0)


def test_an_answer_that_wins_the_race_past_the_check_leaves_the_read_only_page(app, sent, monkeypatch):
    """Both links passed the check before either answered: the state machine lets one
    win, and the other gets the status page with 409, not an error."""
    other = _second_link(app, sent)
    assert app.test_client().post(sent.link, data=ACCEPT).status_code == 302
    monkeypatch.setattr(respond_routes, "_read_only", lambda agreement, link: False)
    response = app.test_client().post(other, data={**ACCEPT, "accept-name": "Per Hansen", "accept-signature": "Per Hansen"})
    assert response.status_code == 409
    assert "Avtalen er godtatt" in _text(response) and "Kari Nordmann, styreleder" in _text(response)
    with app.app_context():
        assert db.session.scalars(select(Signature.name)).all() == ["Kari Nordmann"]


def test_a_link_to_an_older_version_is_read_only(app, sent):
    """Sending a new version revokes the old links; should one stay open (several
    recipients), it still takes no answer for a version it did not show."""
    old = _second_link(app, sent)
    changes = {"action": "request_changes", "changes-reason": "Legg til sommeraktiviteter."}
    assert app.test_client().post(sent.link, data=changes).status_code == 302
    page = _text(app.test_client().get(old))
    assert "Organisasjonen har bedt om endringer" in page and "Organisasjonen ba om endringer" in page
    assert sent.admin.post(f"/agreements/{sent.agreement_id}/revise", data={}).status_code == 302
    assert "Kommunen arbeider med en ny versjon" in _text(app.test_client().get(old))
    write_agreement(sent.admin, sent.agreement_id, activities={"rows-0-what": "Sommeraktiviteter"})
    assert sent.admin.post(f"/agreements/{sent.agreement_id}/send", data={}).status_code == 302
    _change(app, old, revoked_at=None)

    visitor = app.test_client()
    page = visitor.get(old)
    assert page.status_code == 200
    assert "Det finnes en nyere versjon av avtalen" in _text(page) and 'name="action"' not in _text(page)
    assert visitor.post(old, data=ACCEPT).status_code == 409
    assert _state(app, sent.agreement_id) == ("sent", 0)
    # Its PDF is the version it was sent for, not the newer one.
    with app.app_context():
        first = db.session.get(Agreement, sent.agreement_id).versions[0].sha256
    assert visitor.get(f"{old}/version.pdf").headers["X-Content-SHA256"] == first


def test_the_code_comes_before_the_read_only_status(app, review):
    other = _second_link(app, review)
    answerer = app.test_client()
    _opened_with_code(app, answerer, review.link)
    assert answerer.post(review.link, data=ACCEPT).status_code == 302
    page = _text(app.test_client().get(other))
    assert CODE_PAGE in page and "Kari Nordmann" not in page and TITLE not in page
