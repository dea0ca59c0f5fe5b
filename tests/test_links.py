"""The emailed links: unknown, tampered, expired, revoked and used links get a
plain page with the right status (never a 500), and only hashes are stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
from helpers import CSRFClient, link_in, login, outbox
from sqlalchemy import func, select, update
from world import ACCEPT, snapshot, write_agreement

import dugnad.meetings
import dugnad.tokens
from blueprints.respond import routes as respond_routes
from dugnad.extensions import db
from dugnad.models import Agreement, Invitation, LinkToken, Meeting, OutboxMessage, Signature
from dugnad.timeutil import now_utc

ORG_EMAIL = "kari@rodekors.example.no"

UNKNOWN = "Lenken virker ikke"
EXPIRED = "Lenken er utløpt"
REVOKED = "Lenken er ikke lenger gyldig"
#: The read-only status a link shows once its agreement is accepted.
ANSWERED = "Avtalen er godtatt"


@dataclass
class Links:
    staff: CSRFClient
    visitor: CSRFClient
    agreement_id: int
    review_link: str
    meeting_id: int
    invitation_id: int
    invitation_link: str


@pytest.fixture
def links(app, client, factory) -> Links:
    """An agreement sent for review and a meeting invitation, each with its emailed link."""
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    organization = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)

    meeting = factory.meeting(municipality, starts_in=timedelta(days=7))
    assert client.post(f"/meetings/{meeting}/invite", data={"organizations": [str(organization)]}).status_code == 302
    invitation_link = link_in(outbox(app, to=ORG_EMAIL)[-1])

    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(client, agreement_id, "Leksehjelp")
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    review_link = link_in(outbox(app, to=ORG_EMAIL)[-1])

    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    return Links(client, app.test_client(), agreement_id, review_link, meeting, invitation_id, invitation_link)


def _token(link: str) -> str:
    return link.split("/")[3]


def _state(app, agreement_id: int) -> str:
    with app.app_context():
        return db.session.get(Agreement, agreement_id).state


def _signatures(app, party: str = "organization") -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Signature.id)).where(Signature.party == party))


def _answer(app, invitation_id: int) -> tuple[str, str]:
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        return invitation.answer, invitation.comment


def assert_link_page(response, status: int, title: str):
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:1000]
    assert "<h1" in page and title in page  # the friendly page, in bokmål
    assert "Traceback" not in page


# --- Links that never were ---------------------------------------------------------


def _tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


BAD_TOKENS = {
    "tampered": _tampered,
    "one character short": lambda token: token[:-1],
    "one character more": lambda token: token + "x",
    "unknown": lambda token: secrets.token_urlsafe(32),
    "overlong": lambda token: token + "A" * 100,
    "very long": lambda token: "A" * 20_000,
    "101 characters": lambda token: "a" * 101,
    "not base64": lambda token: "æøå~!*()'",
    "percent-encoded NUL": lambda token: "%00" + token,
    "a dot": lambda token: ".",
}


@pytest.mark.parametrize("page", ["agreement", "agreement_done", "invitation"])
def test_bad_tokens_get_a_friendly_404(app, links, page):
    source = links.invitation_link if page == "invitation" else links.review_link
    pattern = {"agreement": "/r/agreement/{}", "agreement_done": "/r/agreement/{}/done", "invitation": "/r/invitation/{}"}
    before = snapshot(app)
    for kind, make in BAD_TOKENS.items():
        url = pattern[page].format(make(_token(source)))
        response = links.visitor.get(url)
        assert response.status_code == 404, f"GET {kind} token -> {response.status_code}"
        assert_link_page(response, 404, UNKNOWN)
        if page != "agreement_done":
            data = ACCEPT if page == "agreement" else {"answer": "attending"}
            response = links.visitor.post(url, data=data)
            assert response.status_code == 404, f"POST {kind} token -> {response.status_code}"
            assert_link_page(response, 404, UNKNOWN)
    assert snapshot(app) == before
    assert links.visitor.get(source).status_code == 200  # the real link still works


def test_a_link_works_only_for_its_own_purpose(app, links):
    invitation_token, review_token = _token(links.invitation_link), _token(links.review_link)
    assert_link_page(links.visitor.get(f"/r/agreement/{invitation_token}"), 404, UNKNOWN)
    assert_link_page(links.visitor.post(f"/r/agreement/{invitation_token}", data=ACCEPT), 404, UNKNOWN)
    assert_link_page(links.visitor.get(f"/r/invitation/{review_token}"), 404, UNKNOWN)
    assert _state(app, links.agreement_id) == "sent"


# --- Links that no longer work -------------------------------------------------------


def _set_expiry(app, link: str, when):
    with app.app_context():
        digest = hashlib.sha256(_token(link).encode()).hexdigest()
        db.session.execute(update(LinkToken).where(LinkToken.token_hash == digest).values(expires_at=when))
        db.session.commit()


def test_expired_review_link_is_410(app, links):
    _set_expiry(app, links.review_link, now_utc() - timedelta(minutes=1))
    assert_link_page(links.visitor.get(links.review_link), 410, EXPIRED)
    assert_link_page(links.visitor.post(links.review_link, data=ACCEPT), 410, EXPIRED)
    assert _state(app, links.agreement_id) == "sent"
    assert _signatures(app) == 0


def test_review_link_expires_after_the_configured_days(app, links):
    with app.app_context():
        link = db.session.scalar(
            select(LinkToken).where(LinkToken.token_hash == hashlib.sha256(_token(links.review_link).encode()).hexdigest())
        )
        days = (link.expires_at - link.created_at).total_seconds() / 86400
    assert days == pytest.approx(app.config["AGREEMENT_LINK_DAYS"], abs=0.01)


def test_withdrawing_revokes_the_link(app, links):
    assert links.staff.post(f"/agreements/{links.agreement_id}/withdraw", data={}).status_code == 302
    assert_link_page(links.visitor.get(links.review_link), 410, REVOKED)
    assert_link_page(links.visitor.post(links.review_link, data=ACCEPT), 410, REVOKED)
    assert _state(app, links.agreement_id) == "withdrawn"
    assert _signatures(app) == 0


def test_a_new_version_revokes_the_old_link(app, links):
    answer = {"action": "request_changes", "changes-reason": "Legg til sommeraktiviteter."}
    assert links.visitor.post(links.review_link, data=answer).status_code == 302
    assert links.staff.post(f"/agreements/{links.agreement_id}/revise", data={}).status_code == 302
    write_agreement(links.staff, links.agreement_id, activities={"rows-0-what": "Leksehjelp og sommeraktiviteter."})
    assert links.staff.post(f"/agreements/{links.agreement_id}/send", data={}).status_code == 302
    new_link = link_in(outbox(app, to=ORG_EMAIL)[-1])
    assert new_link != links.review_link

    assert_link_page(links.visitor.get(links.review_link), 410, REVOKED)
    assert_link_page(links.visitor.post(links.review_link, data=ACCEPT), 410, REVOKED)
    assert_link_page(links.visitor.get(links.review_link + "/done"), 410, REVOKED)
    page = links.visitor.get(new_link)
    assert page.status_code == 200 and "sommeraktiviteter" in page.get_data(as_text=True)
    assert links.visitor.post(new_link, data=ACCEPT).status_code == 302
    with app.app_context():
        agreement = db.session.get(Agreement, links.agreement_id)
        assert agreement.state == "accepted"
        assert agreement.accepted_version.number == 2  # the version behind the new link


def test_used_link_shows_the_answer_read_only_and_the_receipt_still_works(app, links):
    # Before any answer the receipt sends the visitor to the agreement.
    response = links.visitor.get(links.review_link + "/done")
    assert response.status_code == 302 and response.headers["Location"].endswith(links.review_link)

    response = links.visitor.post(links.review_link, data=ACCEPT)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(links.review_link + "/done")

    # The link answered: it shows what was answered, read-only, not an error.
    status = links.visitor.get(links.review_link)
    assert_link_page(status, 200, ANSWERED)
    assert "Kari Nordmann" in status.get_data(as_text=True) and 'name="action"' not in status.get_data(as_text=True)
    receipt = links.visitor.get(links.review_link + "/done")
    assert receipt.status_code == 200
    assert "Takk for svaret." in receipt.get_data(as_text=True)
    assert "Leksehjelp" in receipt.get_data(as_text=True)
    # Another browser (the email forwarded) sees the same.
    assert_link_page(app.test_client().get(links.review_link), 200, ANSWERED)


@pytest.mark.parametrize(
    "first",
    [ACCEPT, {"action": "decline", "decline-reason": "Ikke nå."}, {"action": "request_changes", "changes-reason": "Mer."}],
    ids=["accepted", "declined", "changes requested"],
)
def test_an_answered_link_takes_no_second_answer(app, links, first):
    assert links.visitor.post(links.review_link, data=first).status_code == 302
    state = _state(app, links.agreement_id)
    for second in (ACCEPT, {"action": "decline", "decline-reason": "Likevel ikke."}):
        assert_link_page(links.visitor.post(links.review_link, data=second), 409, "har nå status")
    assert _state(app, links.agreement_id) == state
    assert _signatures(app) == (1 if first is ACCEPT else 0)


def test_double_submitted_accept_signs_once(app, links):
    first = links.visitor.post(links.review_link, data=ACCEPT)
    second = links.visitor.post(links.review_link, data=ACCEPT)
    assert first.status_code == 302
    assert_link_page(second, 409, ANSWERED)
    assert _signatures(app) == 1
    assert _state(app, links.agreement_id) == "accepted"


def test_racing_accept_past_the_link_check_is_refused(app, links, monkeypatch):
    """Two requests can both pass the link check before either commits; the state
    machine's conditional update lets only one of them sign."""
    assert links.visitor.post(links.review_link, data=ACCEPT).status_code == 302

    real_resolve = respond_routes.resolve
    monkeypatch.setattr(respond_routes, "resolve", lambda token, purpose, allow_used=False: real_resolve(token, purpose, True))
    response = links.visitor.post(links.review_link, data={**ACCEPT, "accept-name": "Noen andre", "accept-signature": "Noen andre"})
    assert response.status_code == 409
    with app.app_context():
        signatures = db.session.scalars(select(Signature)).all()
        assert [s.name for s in signatures] == ["Kari Nordmann"]
        assert db.session.get(Agreement, links.agreement_id).state == "accepted"


# --- Invitations ------------------------------------------------------------------------


def test_invitation_answer_can_change_until_the_meeting(app, links):
    assert links.visitor.post(links.invitation_link, data={"answer": "attending"}).status_code == 302
    assert links.visitor.post(links.invitation_link, data={"answer": "not_attending", "comment": "Syk"}).status_code == 302
    assert _answer(app, links.invitation_id) == ("not_attending", "Syk")
    assert links.visitor.get(links.invitation_link).status_code == 200


STARTED = "Møtet har startet; svaret kan ikke endres"


def test_invitation_link_after_the_meeting_started_is_410_and_read_only(app, links, monkeypatch):
    """After the start the link still shows the meeting and the answer, read-only, as 410."""
    assert links.visitor.post(links.invitation_link, data={"answer": "attending"}).status_code == 302
    later = now_utc() + timedelta(days=7, minutes=1)  # the meeting started a minute ago
    monkeypatch.setattr(dugnad.tokens, "now_utc", lambda: later)
    monkeypatch.setattr(dugnad.meetings, "now_utc", lambda: later)
    assert_link_page(links.visitor.get(links.invitation_link), 410, STARTED)
    assert_link_page(links.visitor.post(links.invitation_link, data={"answer": "not_attending"}), 410, STARTED)
    assert _answer(app, links.invitation_id) == ("attending", "")


def test_invitation_link_expires_a_month_after_the_meeting(app, links, monkeypatch):
    much_later = now_utc() + timedelta(days=7 + 31)
    monkeypatch.setattr(dugnad.tokens, "now_utc", lambda: much_later)
    monkeypatch.setattr(dugnad.meetings, "now_utc", lambda: much_later)
    assert_link_page(links.visitor.get(links.invitation_link), 410, EXPIRED)


def test_answer_after_the_start_is_refused_even_if_the_link_lives(app, links):
    """A meeting moved earlier than its link's expiry still takes no answers once started."""
    with app.app_context():
        start = now_utc() - timedelta(minutes=5)
        db.session.execute(
            update(Meeting).where(Meeting.id == links.meeting_id).values(starts_at=start, ends_at=start + timedelta(hours=2))
        )
        db.session.commit()
    assert_link_page(links.visitor.post(links.invitation_link, data={"answer": "attending"}), 410, STARTED)
    assert _answer(app, links.invitation_id) == ("pending", "")


# --- What is stored ----------------------------------------------------------------------


def test_only_the_hash_of_a_token_is_stored(app, links):
    tokens = [_token(links.review_link), _token(links.invitation_link)]
    with app.app_context():
        stored = {link.token_hash: link for link in db.session.scalars(select(LinkToken))}
        for token in tokens:
            assert len(token) >= 43  # 256 bits, base64url
            digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
            assert digest in stored
            assert stored[digest].token_hash == digest
        purposes = sorted(link.purpose for link in stored.values())
        assert purposes == ["answer_invitation", "review_agreement"]
        # Only the email itself (the outbox message that carries the link) holds the token.
        carrying = db.session.scalars(select(OutboxMessage).where(OutboxMessage.body_text.contains(tokens[0]))).all()
        assert [m.to_addr for m in carrying] == [ORG_EMAIL]
    for table, rows in snapshot(app).items():
        # The email itself: its body and its calendar attachment (the link in DESCRIPTION and URL).
        if table in ("outbox_message", "outbox_attachment"):
            continue
        for row in rows:
            for token in tokens:
                assert token not in repr(row), f"a token in plain form in {table}"
