"""The two acts of signing: the organisation types its name again as the signature,
and an administrator countersigns only after typing their password again (with
wrong passwords counted, and refused for a while after too many in a row)."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from backdate import backdate_audit_events
from helpers import PASSWORD, link_in, login, outbox
from sqlalchemy import select
from world import ACCEPT, countersign_form, write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement, AuditEvent, Signature

ORG_EMAIL = "kari@rodekors.example.no"
MISMATCH = "Signaturen må være det samme navnet som i «Fullt navn»."
WRONG_PASSWORD = "Passordet stemmer ikke."
NO_PASSWORD = "Skriv passordet ditt."
LOCKED = "Du har skrevet feil passord for mange ganger på rad."


@pytest.fixture
def desk(app, client, factory):
    """An administrator (logged in on `client`) with one agreement sent; returns
    (admin email, agreement id, review link)."""
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    login(client, admin)
    organization = factory.organization(municipality, name="Røde Kors", email=ORG_EMAIL)
    return (admin, *_sent(app, client, organization))


def _sent(app, client, organization: int, title: str = "Samarbeid om leksehjelp") -> tuple[int, str]:
    """(agreement id, review link) of a new agreement, written and sent by `client`."""
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    assert response.status_code == 302
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, title)
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return agreement_id, link_in(outbox(app, to=ORG_EMAIL)[-1])


def _state(app, agreement_id: int) -> tuple[str, int]:
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        return agreement.state, len(agreement.signatures)


def _message_next_to(page: str, field_id: str) -> str:
    match = re.search(rf'<div class="ds-validation-message" data-field="validation" id="{field_id}-error">([^<]*)</div>', page)
    assert match, f"no message next to {field_id}"
    return html.unescape(match.group(1))


# --- The organisation's typed signature ---------------------------------------------------


def test_the_accept_form_asks_for_the_name_as_signature(app, desk):
    page = app.test_client().get(desk[2]).get_data(as_text=True)
    assert '<label class="ds-label" for="accept-signature">Signatur</label>' in page
    assert "Skriv det fulle navnet ditt en gang til. Det er din elektroniske signatur." in page
    assert 'aria-describedby="accept-signature-hint"' in page


def test_a_signature_that_is_not_the_name_is_refused(app, desk):
    _, agreement_id, link = desk
    visitor = app.test_client()
    response = visitor.post(link, data={**ACCEPT, "accept-signature": "Kari Hansen"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _message_next_to(page, "accept-signature") == MISMATCH
    assert 'href="#accept-signature"' in page  # in the error summary too
    assert 'value="Kari Hansen"' in page  # what was typed is kept
    assert _state(app, agreement_id) == ("sent", 0)
    assert visitor.get(link).status_code == 200  # the link still works


def test_a_missing_signature_is_refused(app, desk):
    _, agreement_id, link = desk
    response = app.test_client().post(link, data={k: v for k, v in ACCEPT.items() if k != "accept-signature"})
    assert response.status_code == 400
    assert _message_next_to(response.get_data(as_text=True), "accept-signature") == "Skriv navnet ditt som signatur."
    assert _state(app, agreement_id) == ("sent", 0)


def test_the_signature_matches_regardless_of_case_and_spaces(app, desk):
    _, agreement_id, link = desk
    response = app.test_client().post(link, data={**ACCEPT, "accept-signature": "  kari   NORDMANN "})
    assert response.status_code == 302
    assert _state(app, agreement_id) == ("accepted", 1)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "accept"))
        assert event.details["typed_signature"] is True
        assert db.session.scalar(select(Signature.name)) == "Kari Nordmann"  # the name, as typed in «Fullt navn»


# --- The administrator's password at countersigning -----------------------------------------


@pytest.fixture
def accepted(app, client, desk):
    admin, agreement_id, link = desk
    assert app.test_client().post(link, data=ACCEPT).status_code == 302
    return admin, agreement_id


def _failures(app) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "countersign_password_failed").order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return events


def _age_failures(app, by: timedelta) -> None:
    """Move the wrong attempts so far back in time, as if the clock had run on."""
    backdate_audit_events(app, by, AuditEvent.action == "countersign_password_failed")


def test_the_countersign_form_asks_for_the_password(client, accepted):
    page = client.get(f"/agreements/{accepted[1]}").get_data(as_text=True)
    assert '<label class="ds-label" for="password">Ditt passord</label>' in page
    assert "Skriv passordet ditt på nytt for å signere." in page
    assert re.search(r'<input[^>]*autocomplete="current-password"[^>]*type="password"', page)


def test_countersigning_with_the_right_password_signs(app, client, accepted):
    response = client.post(f"/agreements/{accepted[1]}/countersign", data=countersign_form(app, accepted[1]))
    assert response.status_code == 302
    assert _state(app, accepted[1]) == ("signed", 2)
    assert _failures(app) == []


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_wrong_password_signs_nothing(app, client, accepted, htmx):
    _, agreement_id = accepted
    wrong = "feil passord 123"
    response = client.post(
        f"/agreements/{agreement_id}/countersign",
        data=countersign_form(app, agreement_id, password=wrong),
        headers={"HX-Request": "true"} if htmx else {},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _message_next_to(page, "password") == WRONG_PASSWORD
    assert 'href="#password"' in page
    assert wrong not in page  # a password is never written back into the page
    assert _state(app, agreement_id) == ("accepted", 1)
    [failure] = _failures(app)
    assert failure.actor_user_id is not None and failure.object_type == "user"
    assert failure.details == {"agreement_id": agreement_id}
    assert wrong not in json.dumps(failure.details) and wrong not in failure.user_agent
    assert PASSWORD not in json.dumps(failure.details)


def test_a_missing_password_signs_nothing(app, client, accepted):
    _, agreement_id = accepted
    response = client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id, password=""))
    assert response.status_code == 400
    assert _message_next_to(response.get_data(as_text=True), "password") == NO_PASSWORD
    assert _state(app, agreement_id) == ("accepted", 1)
    assert _failures(app) == []  # nothing typed is no guess


def test_a_wrong_password_and_a_missing_role_are_both_named(app, client, accepted):
    _, agreement_id = accepted
    response = client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id, role="", password="feil"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _message_next_to(page, "password") == WRONG_PASSWORD
    assert _message_next_to(page, "role") == "Skriv rollen du signerer i."


def test_five_wrong_passwords_in_a_row_stop_countersigning_for_a_while(app, client, accepted):
    _, agreement_id = accepted
    url = f"/agreements/{agreement_id}/countersign"
    for _attempt in range(4):
        assert client.post(url, data=countersign_form(app, agreement_id, password="feil")).status_code == 400
    fifth = client.post(url, data=countersign_form(app, agreement_id, password="feil"))
    assert fifth.status_code == 429
    assert LOCKED in fifth.get_data(as_text=True)
    # Now even the right password is refused, without being checked or counted.
    refused = client.post(url, data=countersign_form(app, agreement_id))
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert LOCKED in page and "Europe/Oslo" in page  # says until when
    assert _state(app, agreement_id) == ("accepted", 1)
    assert len(_failures(app)) == 5

    # Fifteen minutes later the administrator may try again.
    _age_failures(app, timedelta(minutes=16))
    assert client.post(url, data=countersign_form(app, agreement_id)).status_code == 302
    assert _state(app, agreement_id) == ("signed", 2)


def test_wrong_passwords_spread_out_or_broken_by_a_signature_do_not_lock(app, client, accepted):
    _, agreement_id = accepted
    url = f"/agreements/{agreement_id}/countersign"

    # Four, then (more than fifteen minutes later) four more: never five within the window.
    for _attempt in range(4):
        assert client.post(url, data=countersign_form(app, agreement_id, password="feil")).status_code == 400
    _age_failures(app, timedelta(minutes=16))
    for _attempt in range(4):
        assert client.post(url, data=countersign_form(app, agreement_id, password="feil")).status_code == 400
    assert client.post(url, data=countersign_form(app, agreement_id)).status_code == 302

    # A signature ends the run: the four wrong before it and one after are not five in a row.
    with app.app_context():
        organization = db.session.get(Agreement, agreement_id).organization_id
    second, link = _sent(app, client, organization, "Samarbeid om språkkafé")
    assert app.test_client().post(link, data=ACCEPT).status_code == 302
    assert client.post(f"/agreements/{second}/countersign", data=countersign_form(app, second, password="feil")).status_code == 400
    assert len(_failures(app)) == 9
    assert client.post(f"/agreements/{second}/countersign", data=countersign_form(app, second)).status_code == 302
