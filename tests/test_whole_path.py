"""The whole path through the Flask test client: organisation to signed PDF."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from helpers import link_in, login, outbox
from pypdf import PdfReader
from sqlalchemy import select
from world import countersign_form, write_agreement

from dugnad.extensions import db
from dugnad.models import (
    Agreement,
    AuditEvent,
    Invitation,
    Meeting,
    Organization,
    Signature,
    SignedDocument,
)
from dugnad.timeutil import OSLO, now_utc


def _one(app, statement):
    with app.app_context():
        obj = db.session.scalar(statement)
        db.session.expunge_all()
        return obj


def _actions(app, object_type, object_id):
    with app.app_context():
        return [
            (e.action, e.from_state, e.to_state)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
                .order_by(AuditEvent.id)
            )
        ]


def test_from_registered_organisation_to_signed_pdf(app, client, factory):
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    login(client, admin)

    # 1. Register an organisation, with its chair as primary contact.
    response = client.post(
        "/organizations/new",
        data={
            "name": "Surnadal Røde Kors",
            "org_number": "991 000 003",
            "address": "Storgata 1",
            "postal_code": "6650",
            "city": "Surnadal",
            "contacts-0-name": "Kari Nordmann",
            "contacts-0-role": "styreleder",
            "contacts-0-email": "kari@rodekors.example.no",
        },
    )
    assert response.status_code == 302
    org = _one(app, select(Organization).where(Organization.name == "Surnadal Røde Kors"))
    assert org.org_number == "991000003"  # normalised
    assert org.municipality_id == municipality

    # 2. Plan a meeting and invite the organisation.
    start = (now_utc() + timedelta(days=10)).astimezone(OSLO).replace(hour=18, minute=0, second=0, microsecond=0)
    response = client.post(
        "/meetings/new",
        data={
            "title": "Dialogmøte om bosetting",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "place": "Rådhuset",
            "agenda": "Velkommen\nHvordan kan vi samarbeide?",
        },
    )
    assert response.status_code == 302
    meeting = _one(app, select(Meeting))
    assert meeting.starts_at.astimezone(OSLO).hour == 18  # typed in Norwegian time, stored in UTC
    response = client.post(f"/meetings/{meeting.id}/invite", data={"organizations": [str(org.id)]})
    assert response.status_code == 302
    invitation = _one(app, select(Invitation))
    [invite_mail] = outbox(app, to="kari@rodekors.example.no")
    assert "Dialogmøte om bosetting" in invite_mail.subject
    assert "Dialogmøte om bosetting" in invite_mail.body_html
    invitation_link = link_in(invite_mail)

    # 3. The organisation answers through its link (no account; a fresh client).
    visitor = app.test_client()
    page = visitor.get(invitation_link)
    assert page.status_code == 200
    assert "Rådhuset" in page.get_data(as_text=True)
    response = visitor.post(invitation_link, data={"answer": "attending", "comment": "Vi kommer to"})
    assert response.status_code == 302
    invitation = _one(app, select(Invitation))
    assert invitation.answer == "attending"
    assert invitation.comment == "Vi kommer to"
    assert "Kommer" in client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert [m.to_addr for m in outbox(app)][-1] == admin  # the meeting's owner is told
    assert ("answer", None, "attending") in _actions(app, "invitation", invitation.id)

    # 4. Draft an agreement, pre-filled from the registry.
    response = client.post("/agreements/new", data={"organization_id": str(org.id)})
    assert response.status_code == 302
    agreement = _one(app, select(Agreement))
    assert agreement.state == "draft"
    assert agreement.number == f"{now_utc().astimezone(OSLO).year}-001"
    with app.app_context():
        contacts = db.session.get(Agreement, agreement.id).section("contacts").data
        assert contacts["organization_name"] == "Kari Nordmann"  # the organisation's primary contact
    write_agreement(client, agreement.id, "Samarbeid om flyktningguide")

    # 5. Send it: a frozen version, a link by email.
    response = client.post(f"/agreements/{agreement.id}/send", data={})
    assert response.status_code == 302
    agreement = _one(app, select(Agreement))
    assert agreement.state == "sent"
    with app.app_context():
        version = db.session.get(Agreement, agreement.id).latest_version
        assert version.number == 1
        assert version.sha256 == hashlib.sha256(version.html.encode()).hexdigest()
        assert "To ganger i måneden" in version.html and "kr\u00a012\u00a0500" in version.html
        version_hash = version.sha256
    review_mail = outbox(app, to="kari@rodekors.example.no")[-1]
    assert "Samarbeid om flyktningguide" in review_mail.subject
    review_link = link_in(review_mail)

    # 6. The organisation reads the exact version and accepts.
    page = visitor.get(review_link)
    assert page.status_code == 200
    assert version_hash in page.get_data(as_text=True)
    response = visitor.post(
        review_link,
        data={
            "action": "accept",
            "accept-name": "Kari Nordmann",
            "accept-role": "styreleder",
            "accept-authority": "y",
            "accept-signature": "Kari Nordmann",
        },
        headers={"User-Agent": "TestBrowser/1.0"},
    )
    assert response.status_code == 302
    assert visitor.get(response.headers["Location"]).status_code == 200
    used = visitor.get(review_link)  # the link answered: it shows the answer, read-only
    assert used.status_code == 200 and 'name="action"' not in used.get_data(as_text=True)
    agreement = _one(app, select(Agreement))
    assert agreement.state == "accepted"
    org_signature = _one(app, select(Signature).where(Signature.party == "organization"))
    assert org_signature.version_sha256 == version_hash
    assert org_signature.user_agent == "TestBrowser/1.0"
    assert outbox(app)[-1].to_addr == admin  # the owner hears of the answer

    # 7. The administrator countersigns; the PDF is rendered once and stored.
    response = client.post(f"/agreements/{agreement.id}/countersign", data=countersign_form(app, agreement.id))
    assert response.status_code == 302
    agreement = _one(app, select(Agreement))
    assert agreement.state == "signed"
    document = _one(app, select(SignedDocument))
    assert document.sha256 == hashlib.sha256(document.pdf).hexdigest()
    # Created, the title and the fifteen sections saved, sent, the link opened, accepted, countersigned.
    assert [a for a, _, _ in _actions(app, "agreement", agreement.id)] == [
        "create", *["edit"] * 16, "send", "opened", "accept", "countersign",
    ]
    assert _actions(app, "agreement", agreement.id)[-1] == ("countersign", "accepted", "signed")

    # 8. Download: the bytes served are the bytes stored.
    response = client.get(f"/agreements/{agreement.id}/signed.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data == document.pdf
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    flat = " ".join(text.split())
    assert "Surnadal kommune" in flat
    assert "Surnadal Røde Kors" in flat
    assert version_hash in flat.replace(" ", "") or version_hash in text.replace("\n", "")
    assert "Kari Nordmann" in flat and "Anne Admin" in flat
    assert "Side 1 av" in flat
    assert "Europe/Oslo" in flat
    # The print view shows the same agreement.
    assert "Samarbeid om flyktningguide" in client.get(f"/agreements/{agreement.id}/print").get_data(as_text=True)
