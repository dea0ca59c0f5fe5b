"""The organisation's PDFs behind its emailed link: the version it reviews (before and
after answering), and the signed agreement once the municipality has countersigned."""

from __future__ import annotations

import io
import re

import pytest
from helpers import link_in, login, outbox
from pypdf import PdfReader
from world import ACCEPT, countersign_form, write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement

ORG_EMAIL = "kari@rodekors.example.no"


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


@pytest.fixture
def sent(app, client, factory):
    """(admin client, agreement id, review link) of an agreement sent to Surnadal Røde Kors."""
    municipality = factory.municipality("Surnadal kommune")
    login(client, factory.user(municipality, "admin"))
    organization = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(client, agreement_id, "Leksehjelp på biblioteket")
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    return client, agreement_id, link_in(outbox(app, to=ORG_EMAIL)[-1])


def test_the_version_under_review_downloads_as_pdf_before_and_after_answering(app, sent):
    client, agreement_id, link = sent
    visitor = app.test_client()
    page = visitor.get(link).get_data(as_text=True)
    assert f'href="{link}/version.pdf"' in page

    response = visitor.get(f"{link}/version.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    with app.app_context():
        version = db.session.get(Agreement, agreement_id).latest_version
        sha256 = version.sha256
    assert response.headers["X-Content-SHA256"] == sha256
    text = _text(response.data)
    assert "Leksehjelp på biblioteket" in text and "Surnadal Røde Kors" in text and "Surnadal kommune" in text
    assert "ikke signert" in text
    assert sha256 in text.replace(" ", "")

    # After accepting, the used link still gives the version answered, from the receipt too.
    assert visitor.post(link, data=ACCEPT).status_code == 302
    receipt = visitor.get(f"{link}/done").get_data(as_text=True)
    assert f'href="{link}/version.pdf"' in receipt and "signed.pdf" not in receipt
    assert visitor.get(f"{link}/version.pdf").status_code == 200
    # Not signed yet: no signed PDF.
    assert visitor.get(f"{link}/signed.pdf").status_code == 404


def test_once_countersigned_the_link_offers_the_signed_pdf(app, sent):
    client, agreement_id, link = sent
    visitor = app.test_client()
    assert visitor.post(link, data=ACCEPT).status_code == 302
    assert client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id)).status_code == 302
    with app.app_context():
        document = db.session.get(Agreement, agreement_id).signed_document
        stored, sha256 = document.pdf, document.sha256

    receipt = visitor.get(f"{link}/done").get_data(as_text=True)
    assert f'href="{link}/signed.pdf"' in receipt and sha256 in receipt
    response = visitor.get(f"{link}/signed.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == stored  # the stored bytes, never rendered again
    assert response.headers["X-Content-SHA256"] == sha256


@pytest.mark.parametrize("suffix", ["version.pdf", "signed.pdf"])
def test_a_forged_or_withdrawn_link_gets_no_pdf(app, sent, suffix):
    client, agreement_id, link = sent
    visitor = app.test_client()
    forged = re.sub(r"/r/agreement/[^/]+", "/r/agreement/" + "x" * 43, link)
    response = visitor.get(f"{forged}/{suffix}")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.post(f"/agreements/{agreement_id}/withdraw", data={}).status_code == 302
    response = visitor.get(f"{link}/{suffix}")
    assert response.status_code == 410 and response.mimetype == "text/html"
    assert "Lenken er ikke lenger gyldig" in response.get_data(as_text=True)
