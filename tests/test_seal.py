"""The sealed PDF (PAdES by pyHanko over a PDF/A-3a file from WeasyPrint), the seal
certificate (self-signed on first use, or uploaded as PKCS#12), and the public check."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from helpers import link_in, login, outbox
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart
from world import ACCEPT, countersign_form, snapshot, write_agreement

from dugnad import seal
from dugnad.extensions import db
from dugnad.models import Agreement, AuditEvent, SealCertificate, Signature, SignedDocument
from dugnad.timeutil import now_utc

ORG_EMAIL = "kari@rodekors.example.no"
PASSWORD = "Hemmelig segl-passord 42"


# --- Building blocks --------------------------------------------------------------------------


def _accepted_agreement(
    app, client, factory, municipality: int, title: str = "Samarbeid om leksehjelp", org_number: str | None = "991000003"
) -> int:
    """An agreement written, sent and accepted through the pages; `client` is logged in as admin."""
    organization = factory.organization(municipality, name=f"Røde Kors {title}", email=ORG_EMAIL, org_number=org_number)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    assert response.status_code == 302
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, title)
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    link = link_in(outbox(app, to=ORG_EMAIL)[-1])
    visitor = app.test_client()
    response = visitor.post(link, data=ACCEPT, headers={"User-Agent": "Mozilla/5.0 (Telefon) Testleser/1.0"})
    assert response.status_code == 302
    return agreement_id


def _countersign(app, client, agreement_id: int):
    return client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))


def _document(app, agreement_id: int) -> SignedDocument | None:
    with app.app_context():
        document = db.session.scalar(select(SignedDocument).where(SignedDocument.agreement_id == agreement_id))
        db.session.expunge_all()
        return document


def _stored_certificate(app, municipality: int) -> SealCertificate | None:
    with app.app_context():
        record = db.session.scalar(select(SealCertificate).where(SealCertificate.municipality_id == municipality))
        db.session.expunge_all()
        return record


def _certificate_in(app, record: SealCertificate) -> asn1_x509.Certificate:
    """The certificate inside the stored PKCS#12, opened with the stored (encrypted) password."""
    with app.app_context():
        password = seal._fernet().decrypt(record.password_encrypted.encode())
    _key, certificate, _others = pkcs12.load_key_and_certificates(record.pkcs12, password)
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _validate(pdf: bytes, trust_root: asn1_x509.Certificate):
    reader = PdfFileReader(io.BytesIO(pdf))
    assert len(reader.embedded_signatures) == 1  # one seal at the end, never one per signer
    signature = reader.embedded_signatures[0]
    assert signature.field_name == "Segl"
    context = ValidationContext(trust_roots=[trust_root], allow_fetching=False)
    return validate_pdf_signature(signature, signer_validation_context=context)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Surnadal kommune"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
    ])


def issued_pkcs12(password: str = PASSWORD, *, valid_from=None, valid_for=timedelta(days=365), with_key=True) -> tuple[bytes, str]:
    """A seal certificate issued by a (test) CA, as an enterprise certificate would be,
    packed as PKCS#12 with its chain. Returns the file and the certificate's fingerprint."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Test-CA for virksomhetssertifikater")
    start = valid_from or now_utc() - timedelta(days=1)
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start - timedelta(days=1))
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder().subject_name(_name("Surnadal kommune segl")).issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"segl", key if with_key else None, leaf, [ca],
        serialization.BestAvailableEncryption(password.encode()),
    )
    return data, leaf.fingerprint(hashes.SHA256()).hex()


def _upload(client, data: bytes, password: str = PASSWORD, filename: str = "segl.p12"):
    return client.post(
        "/admin/seal", data={"file": (io.BytesIO(data), filename), "password": password},
        content_type="multipart/form-data",
    )


@pytest.fixture
def surnadal(app, client, factory):
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    login(client, admin)
    return municipality


# --- The sealed document ----------------------------------------------------------------------


def test_sealed_pdf_is_valid_pdfa3a_with_content_attached_and_audit_trail(app, client, factory, surnadal):
    agreement_id = _accepted_agreement(app, client, factory, surnadal)
    response = _countersign(app, client, agreement_id)
    assert response.status_code == 302
    document = _document(app, agreement_id)
    assert document.sha256 == hashlib.sha256(document.pdf).hexdigest()
    pdf = document.pdf

    # The seal: intact, valid, and trusted against the municipality's own certificate.
    record = _stored_certificate(app, surnadal)
    status = _validate(pdf, _certificate_in(app, record))
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.sha256.hex() == record.fingerprint

    # PDF/A-3a, tagged; the incremental update of the seal keeps the identification.
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    # As attributes or as elements: both are valid XMP.
    assert re.search(r'pdfaid:part(="3"|>3<)', xmp) and re.search(r'pdfaid:conformance(="A"|>A<)', xmp), xmp
    assert "/StructTreeRoot" in root
    assert "/OutputIntents" in root

    # The version's content, machine-readable, attached as its data.
    with app.app_context():
        version = db.session.get(Agreement, agreement_id).accepted_version
        content, version_sha256 = version.content, version.sha256
    assert json.loads(reader.attachments["avtale.json"][0]) == content
    filespec = root["/AF"][0].get_object()
    assert filespec["/AFRelationship"] == "/Data"

    # Both parties, the signature page and the audit trail as text.
    text = _text(pdf)
    for expected in ("Surnadal kommune", "Røde Kors Samarbeid om leksehjelp", "Kari Nordmann", "Anne Admin",
                     "Europe/Oslo", "127.0.0.1", "Testleser/1.0", version_sha256[:16], ORG_EMAIL):
        assert expected in text.replace("\n", ""), expected


def test_both_parties_get_the_sealed_pdf_by_email(app, client, factory, surnadal):
    agreement_id = _accepted_agreement(app, client, factory, surnadal)
    assert _countersign(app, client, agreement_id).status_code == 302
    document = _document(app, agreement_id)
    with app.app_context():
        owner_email = db.session.get(Agreement, agreement_id).owner.email
    for address in (ORG_EMAIL, owner_email):
        message = outbox(app, to=address)[-1]
        assert message.subject.startswith("Avtalen er signert")
        [attachment] = message.attachments
        assert attachment.content_type == "application/pdf"
        assert attachment.data == document.pdf
        assert document.sha256 in message.body_text
        assert "/verify" in message.body_text


def test_self_signed_certificate_is_made_once_and_reused(app, client, factory, surnadal):
    assert "ikke noe segl-sertifikat ennå" in client.get("/admin/seal").get_data(as_text=True)
    first = _accepted_agreement(app, client, factory, surnadal, "Første avtale")
    second = _accepted_agreement(app, client, factory, surnadal, "Andre avtale", org_number=None)
    assert _countersign(app, client, first).status_code == 302
    record = _stored_certificate(app, surnadal)
    assert record.self_signed
    assert "selvutstedt segl, Dugnad" in record.subject and "O=Surnadal kommune" in record.subject
    assert timedelta(days=3640) < record.not_after - record.not_before < timedelta(days=3660)
    assert _countersign(app, client, second).status_code == 302
    again = _stored_certificate(app, surnadal)
    assert (again.id, again.fingerprint, again.pkcs12) == (record.id, record.fingerprint, record.pkcs12)
    with app.app_context():
        assert len(db.session.scalars(select(SealCertificate)).all()) == 1
    for agreement_id in (first, second):
        status = _validate(_document(app, agreement_id).pdf, _certificate_in(app, record))
        assert status.trusted and status.signing_cert.sha256.hex() == record.fingerprint

    # Said plainly where it matters: the administration page and the agreement.
    page = client.get("/admin/seal").get_data(as_text=True)
    assert "Segl-sertifikatet er selvutstedt av Dugnad." in page
    assert record.fingerprint in page
    assert "selvutstedt sertifikat" in client.get(f"/agreements/{first}").get_data(as_text=True)

    # The generated password is kept only encrypted.
    with app.app_context():
        password = seal._fernet().decrypt(record.password_encrypted.encode()).decode()
    assert password not in record.password_encrypted
    _assert_nowhere(app, password)


def _assert_nowhere(app, secret: str) -> None:
    """Not in any column of any row (audit events included), in any encoding we store text in."""
    for table, rows in snapshot(app).items():
        for row in rows:
            for value in row:
                if isinstance(value, bytes):
                    assert secret.encode() not in value, table
                else:
                    assert secret not in json.dumps(value, default=str, ensure_ascii=False), table


# --- Uploading the municipality's own certificate ---------------------------------------------


def test_uploaded_pkcs12_is_used_for_sealing(app, client, factory, surnadal):
    data, fingerprint = issued_pkcs12()
    response = _upload(client, data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    record = _stored_certificate(app, surnadal)
    assert (record.fingerprint, record.self_signed) == (fingerprint, False)
    assert "CN=Surnadal kommune segl" in record.subject
    page = client.get("/admin/seal").get_data(as_text=True)
    assert fingerprint in page and "Surnadal kommune segl" in page
    assert "selvutstedt av Dugnad" not in page

    agreement_id = _accepted_agreement(app, client, factory, surnadal)
    assert _countersign(app, client, agreement_id).status_code == 302
    status = _validate(_document(app, agreement_id).pdf, _certificate_in(app, record))
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.sha256.hex() == fingerprint
    assert "selvutstedt sertifikat" not in client.get(f"/agreements/{agreement_id}").get_data(as_text=True)

    # The password: only encrypted in the database, never in the audit trail.
    _assert_nowhere(app, PASSWORD)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "upload_seal"))
        assert event.details["fingerprint"] == fingerprint


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong password", "Passordet er feil"),
        ("garbage", "Filen er ikke et PKCS#12-sertifikat"),
        ("a PDF", "Filen er ikke et PKCS#12-sertifikat"),
        ("expired", "Sertifikatet er utløpt"),
        ("not yet valid", "Sertifikatet er ikke gyldig ennå"),
        ("no key", "Filen har ingen privat nøkkel"),
        ("too large", "Filen er for stor"),
        ("no file", "Velg sertifikatfilen."),
    ],
)
def test_bad_uploads_are_refused_with_a_message_and_change_nothing(app, client, factory, surnadal, case, message):
    data, _fingerprint = issued_pkcs12()
    password = PASSWORD
    if case == "wrong password":
        password = "ikke passordet"
    elif case == "garbage":
        data = b"\x00\x01 dette er ikke et sertifikat" * 10
    elif case == "a PDF":
        data = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    elif case == "expired":
        data, _ = issued_pkcs12(valid_from=now_utc() - timedelta(days=400), valid_for=timedelta(days=30))
    elif case == "not yet valid":
        data, _ = issued_pkcs12(valid_from=now_utc() + timedelta(days=30))
    elif case == "no key":
        data, _ = issued_pkcs12(with_key=False)
    elif case == "too large":
        data = data + b"\x00" * (100 * 1024)
    before = snapshot(app)
    if case == "no file":
        response = client.post("/admin/seal", data={"password": password}, content_type="multipart/form-data")
    else:
        response = _upload(client, data, password)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'class="ds-error-summary"' in page and 'class="ds-validation-message"' in page
    assert snapshot(app) == before
    assert PASSWORD not in page


# --- A failure halfway through sealing --------------------------------------------------------


def test_sealing_failure_leaves_the_agreement_accepted_and_retryable(app, client, factory, surnadal):
    agreement_id = _accepted_agreement(app, client, factory, surnadal)
    with app.app_context():
        record = seal.certificate_for(surnadal)
        record.pkcs12 = record.pkcs12[:200] + b"skadet" + record.pkcs12[206:]  # a corrupt stored file
        db.session.commit()
    mails_before = len(outbox(app))

    response = _countersign(app, client, agreement_id)
    assert response.status_code == 503
    assert "segl-sertifikat ikke kunne brukes" in response.get_data(as_text=True)
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        assert agreement.state == "accepted"
        assert db.session.scalar(select(SignedDocument).where(SignedDocument.agreement_id == agreement_id)) is None
        assert db.session.scalar(
            select(Signature).where(Signature.agreement_id == agreement_id, Signature.party == "municipality")
        ) is None
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "countersign")) is None
    assert len(outbox(app)) == mails_before

    # Fixed by uploading a certificate; signing again works.
    data, fingerprint = issued_pkcs12()
    assert _upload(client, data).status_code == 302
    assert _countersign(app, client, agreement_id).status_code == 302
    document = _document(app, agreement_id)
    assert _validate(document.pdf, _certificate_in(app, _stored_certificate(app, surnadal))).trusted


# --- The public check -------------------------------------------------------------------------


@pytest.fixture
def signed(app, client, factory, surnadal) -> SignedDocument:
    agreement_id = _accepted_agreement(app, client, factory, surnadal)
    assert _countersign(app, client, agreement_id).status_code == 302
    return _document(app, agreement_id)


def _check_file(visitor, data: bytes, filename: str = "avtale.pdf"):
    # Encoded here: the test client would spool a large file to a file it never closes.
    boundary, body = encode_multipart(
        {"csrf_token": visitor.csrf_token(), "check": "file", "file": FileStorage(io.BytesIO(data), filename)}
    )
    return visitor.post("/verify", data=body, content_type=f"multipart/form-data; boundary={boundary}", csrf=False)


def test_verify_page_needs_no_login(app):
    page = app.test_client().get("/verify")
    assert page.status_code == 200
    assert "Sjekk en signert avtale" in page.get_data(as_text=True)


def test_the_stored_pdf_is_authentic(app, signed):
    visitor = app.test_client()
    response = _check_file(visitor, signed.pdf)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Ekte og uendret" in page
    with app.app_context():
        agreement = db.session.get(Agreement, signed.agreement_id)
        number = agreement.number
    for expected in (number, "Surnadal kommune", "Røde Kors Samarbeid om leksehjelp", "Kari Nordmann", "Anne Admin",
                     "Europe/Oslo", "selvutstedt segl, Dugnad", "Selvutstedt:", signed.sha256):
        assert expected in page, expected


def test_a_one_byte_change_is_not_authentic(app, signed):
    pdf = bytearray(signed.pdf)
    middle = len(pdf) // 3
    pdf[middle] = (pdf[middle] + 1) % 256
    changed = bytes(pdf)
    response = _check_file(app.test_client(), changed)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Ikke et ekte, uendret dokument fra Dugnad" in page
    assert "Ekte og uendret" not in page
    # Nothing about the agreement it nearly is.
    assert "Surnadal kommune" not in page and "Kari Nordmann" not in page
    # The signature check alone catches it too, not only the hash.
    with app.app_context():
        assert seal.check_seal(signed.pdf, {_stored_certificate(app, signed.municipality_id).fingerprint}).ok
        assert not seal.check_seal(changed, {_stored_certificate(app, signed.municipality_id).fingerprint}).ok


def test_a_pdf_dugnad_did_not_issue_is_not_found(app, signed):
    with app.app_context():
        from dugnad.pdf import render_pdf

        other = render_pdf("<html lang='nb'><head><title>T</title></head><body><p>Falsk avtale</p></body></html>")
    page = _check_file(app.test_client(), other).get_data(as_text=True)
    assert "Ikke et ekte, uendret dokument fra Dugnad" in page
    assert "Dugnad har ikke utstedt denne filen" in page


def test_a_pdf_sealed_by_another_certificate_is_not_authentic(app, signed):
    """Stored, but sealed by a key Dugnad does not know for it (e.g. a row written past the
    app): the hash alone is not enough."""
    unknown = "0" * 64
    with app.app_context():
        seal.current(signed.municipality_id).fingerprint = unknown
        # The audit trail is append-only: a later countersign event names the unknown key.
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "countersign"))
        db.session.add(AuditEvent(**{
            column.key: getattr(event, column.key) for column in AuditEvent.__table__.columns if column.key != "id"
        } | {"details": {**event.details, "seal_certificate": unknown}}))
        db.session.commit()
    page = _check_file(app.test_client(), signed.pdf).get_data(as_text=True)
    assert "Ikke et ekte, uendret dokument fra Dugnad" in page
    assert "Seglet i filen er ikke gyldig." in page


@pytest.mark.parametrize(
    ("data", "filename"),
    [(b"navn;e-post\nLag;lag@example.no\n", "avtale.pdf"), (b"", "tom.pdf"), (b"\x89PNG\r\n\x1a\n" + b"0" * 50, "bilde.pdf")],
)
def test_a_non_pdf_upload_is_400_with_a_message(app, signed, data, filename):
    response = _check_file(app.test_client(), data, filename)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Filen er ikke en PDF" in page or "Velg PDF-filen" in page
    assert 'class="ds-validation-message"' in page
    assert "Ekte og uendret" not in page


def test_a_too_large_upload_is_413_with_a_message(app, signed):
    response = _check_file(app.test_client(), b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024 + 100 * 1024))
    assert response.status_code == 413
    assert "Filen er for stor. Største tillatte størrelse er 10 MB." in response.get_data(as_text=True)


def test_check_by_number_and_fingerprint(app, signed):
    with app.app_context():
        number = db.session.get(Agreement, signed.agreement_id).number
    visitor = app.test_client()

    def check(number, fingerprint):
        return visitor.post("/verify", data={"check": "number", "number": number, "fingerprint": fingerprint})

    right = check(number, signed.sha256.upper())
    assert right.status_code == 200 and "Ekte og uendret" in right.get_data(as_text=True)
    wrong_fingerprint = check(number, hashlib.sha256(b"noe annet").hexdigest()).get_data(as_text=True)
    assert "Ikke et ekte, uendret dokument fra Dugnad" in wrong_fingerprint
    assert "Surnadal kommune" not in wrong_fingerprint
    wrong_number = check("1999-001", signed.sha256).get_data(as_text=True)
    assert "Ikke et ekte, uendret dokument fra Dugnad" in wrong_number
    malformed = check(number, "abc")
    assert malformed.status_code == 400
    assert "Fingeravtrykket har 64 tegn" in malformed.get_data(as_text=True)
    empty = check("", "")
    assert empty.status_code == 400 and "Skriv avtalenummeret." in empty.get_data(as_text=True)


def test_sealing_and_verifying_work_inside_a_running_event_loop(app, signed):
    # pyHanko's synchronous calls use asyncio.run(); a running loop in the same thread (an
    # async server, or Playwright's sync API in the browser tests) must not break sealing.
    from dugnad import seal
    from dugnad.pdf import render_pdf

    with app.app_context():
        unsealed = render_pdf("<!doctype html><html lang='nb'><title>Prøve</title><p>Prøve</p></html>")

    async def inside_a_loop():
        with app.app_context():
            return seal.seal(unsealed, signed.municipality_id), seal.verify(signed.pdf)

    sealed, verification = asyncio.run(inside_a_loop())
    assert sealed.startswith(unsealed) and len(sealed) > len(unsealed)  # an incremental update
    assert verification.authentic
