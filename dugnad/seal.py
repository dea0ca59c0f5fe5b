"""The municipality's seal on signed agreements, and the public check of a sealed PDF.

A signed agreement is sealed once, at the end, with a PAdES signature (pyHanko) made
with the municipality's certificate: one an administrator uploaded as PKCS#12, or,
until then, one Dugnad made self-signed on first use. The PKCS#12 file lives in the
database; its password only as a Fernet token under a key derived from SEAL_KEY
(SECRET_KEY when that is not set).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import current_app
from flask_babel import lazy_gettext as _l
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import audit
from .extensions import db
from .models import Agreement, AuditEvent, Municipality, SealCertificate, SignedDocument
from .timeutil import format_oslo, now_utc

log = logging.getLogger(__name__)

#: The signature field's name in every sealed PDF.
FIELD_NAME = "Segl"
#: Largest PKCS#12 file accepted from an administrator (a certificate and its chain).
MAX_PKCS12_BYTES = 100 * 1024
#: A fixed label, so the key derived from SECRET_KEY serves this purpose only.
_HKDF_INFO = b"dugnad/seal-certificate-password/v1"
SELF_SIGNED_YEARS = 10


class SealError(Exception):
    """The municipality's certificate cannot be used to seal (e.g. it is corrupt, or
    SECRET_KEY changed since it was stored). Nothing is sealed."""


class CertificateProblem(ValueError):
    """An uploaded PKCS#12 file is refused; `message` says why, next to `field`
    ("file", or "password" when the password does not open the file)."""

    def __init__(self, message, field: str = "file"):
        super().__init__(str(message))
        self.message = message
        self.field = field


def _outside_event_loop(function, *args, **kwargs):
    """Call one of pyHanko's synchronous functions. They use asyncio.run(), which refuses
    to start inside a running event loop (an async server, or a test harness driving a
    browser in this thread); then the call runs in a worker thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


# --- Storing the certificate --------------------------------------------------------------


def _fernet_from(secret: str | bytes) -> Fernet:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet() -> MultiFernet:
    """Encrypts under SEAL_KEY when it is set (production requires it), else SECRET_KEY.
    Decrypts under either, so setting SEAL_KEY later keeps stored passwords readable."""
    config = current_app.config
    keys = [config["SEAL_KEY"]] if config.get("SEAL_KEY") else []
    keys.append(config["SECRET_KEY"])
    return MultiFernet([_fernet_from(secret) for secret in keys])


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def readable_name(name: x509.Name) -> str:
    """'CN=Surnadal kommune segl, O=Surnadal kommune, C=NO': for people, so unescaped."""
    return ", ".join(f"{attribute.rfc4514_attribute_name}={attribute.value}" for attribute in reversed(list(name)))


def _public_bytes(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _store(
    municipality_id: int, data: bytes, password: str, certificate: x509.Certificate, *,
    self_signed: bool, user_id: int | None,
) -> SealCertificate:
    record = db.session.scalar(select(SealCertificate).where(SealCertificate.municipality_id == municipality_id))
    if record is None:
        record = SealCertificate(municipality_id=municipality_id)
        db.session.add(record)
    record.pkcs12 = data
    record.password_encrypted = _fernet().encrypt(password.encode("utf-8")).decode("ascii")
    record.subject = readable_name(certificate.subject)[:400]
    record.fingerprint = _fingerprint(certificate)
    record.not_before = certificate.not_valid_before_utc
    record.not_after = certificate.not_valid_after_utc
    record.self_signed = self_signed
    record.uploaded_by_id = user_id
    record.created_at = now_utc()
    return record


def self_signed_pkcs12(name: str, password: str, valid_for: timedelta = timedelta(days=365 * SELF_SIGNED_YEARS)) -> bytes:
    """A new EC P-256 key and a self-signed seal certificate for `name`, as PKCS#12."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{name} (selvutstedt segl, Dugnad)"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64]),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
    ])
    start = now_utc() - timedelta(minutes=5)  # tolerate a clock a little behind
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        name.encode("utf-8"), key, certificate, None,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def current(municipality_id: int) -> SealCertificate | None:
    """The municipality's certificate, if it has one yet (reading only)."""
    return db.session.scalar(select(SealCertificate).where(SealCertificate.municipality_id == municipality_id))


def certificate_for(municipality_id: int) -> SealCertificate:
    """The municipality's seal certificate; a self-signed one is made on first use."""
    record = current(municipality_id)
    if record is not None:
        return record
    municipality = db.session.get(Municipality, municipality_id)
    password = secrets.token_urlsafe(32)
    data = self_signed_pkcs12(municipality.name, password)
    _key, certificate, _others = pkcs12.load_key_and_certificates(data, password.encode("utf-8"))
    try:
        # Two first signings at once: the unique municipality_id lets one win; the other uses it.
        with db.session.begin_nested():
            record = _store(municipality_id, data, password, certificate, self_signed=True, user_id=None)
            db.session.flush()
    except IntegrityError:
        record = current(municipality_id)
    return record


def read_pkcs12(data: bytes, password: str) -> x509.Certificate:
    """Check an uploaded PKCS#12 file: readable with `password`, a private key and its
    certificate, valid now. Returns the certificate; CertificateProblem says what is wrong."""
    if len(data) > MAX_PKCS12_BYTES:
        raise CertificateProblem(_l("Filen er for stor. Et segl-sertifikat (.p12 eller .pfx) er høyst 100 KB."))
    try:
        # Parsing the structure tells a file that is not PKCS#12 apart from a wrong password.
        asn1_pkcs12.Pfx.load(data, strict=True).native  # noqa: B018
    except Exception:
        raise CertificateProblem(_l("Filen er ikke et PKCS#12-sertifikat. Velg en .p12- eller .pfx-fil.")) from None
    # OpenSSL takes the password as a C string: a NUL in it makes cryptography panic (a
    # BaseException, past `except Exception`), and no PKCS#12 file can have such a password.
    if "\x00" in password:
        raise CertificateProblem(
            _l("Passordet er feil, eller filen er skadet. Sjekk passordet og prøv igjen."), field="password"
        )
    try:
        key, certificate, _others = pkcs12.load_key_and_certificates(data, password.encode("utf-8") or None)
    except Exception:
        raise CertificateProblem(
            _l("Passordet er feil, eller filen er skadet. Sjekk passordet og prøv igjen."), field="password"
        ) from None
    if key is None:
        raise CertificateProblem(_l("Filen har ingen privat nøkkel. Last opp en PKCS#12-fil med både sertifikat og nøkkel."))
    if certificate is None:
        raise CertificateProblem(_l("Filen har ikke noe sertifikat. Last opp en PKCS#12-fil med både sertifikat og nøkkel."))
    if _public_bytes(key.public_key()) != _public_bytes(certificate.public_key()):
        raise CertificateProblem(_l("Nøkkelen i filen hører ikke til sertifikatet."))
    now = now_utc()
    if certificate.not_valid_after_utc <= now:
        raise CertificateProblem(
            _l("Sertifikatet er utløpt (gyldig til %(date)s). Last opp et gyldig sertifikat.",
               date=format_oslo(certificate.not_valid_after_utc))
        )
    if certificate.not_valid_before_utc > now:
        raise CertificateProblem(
            _l("Sertifikatet er ikke gyldig ennå (gyldig fra %(date)s).", date=format_oslo(certificate.not_valid_before_utc))
        )
    return certificate


def upload(municipality_id: int, data: bytes, password: str, user_id: int, actor) -> SealCertificate:
    """Replace the municipality's seal certificate with an uploaded PKCS#12 file.

    The password is checked here and stored only encrypted; it is never logged nor audited."""
    certificate = read_pkcs12(data, password)
    record = _store(municipality_id, data, password, certificate, self_signed=False, user_id=user_id)
    db.session.flush()
    audit.record(
        municipality_id, actor, "upload_seal", "seal_certificate", record.id,
        details={"subject": record.subject, "fingerprint": record.fingerprint},
    )
    return record


# --- Sealing ------------------------------------------------------------------------------

#: Loaded signers, per process: loading a PKCS#12 costs tens of milliseconds.
_signers: dict[tuple, tuple[signers.SimpleSigner, int]] = {}
_signers_lock = threading.Lock()


def _signer(record: SealCertificate) -> tuple[signers.SimpleSigner, int]:
    """The signer for the stored certificate, and the bytes to reserve for its signature.

    Keyed by municipality and certificate fingerprint, and by the stored bytes too, so a
    replaced file (even with the same certificate) is loaded again."""
    stored = hashlib.sha256(record.pkcs12 + record.password_encrypted.encode("ascii")).hexdigest()
    cache_key = (record.municipality_id, record.fingerprint, stored)
    cached = _signers.get(cache_key)
    if cached is not None:
        return cached
    try:
        password = _fernet().decrypt(record.password_encrypted.encode("ascii"))
    except InvalidToken:
        raise SealError("the stored certificate password cannot be decrypted (has SEAL_KEY or SECRET_KEY changed?)") from None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(record.pkcs12, other_certs=(), passphrase=password)
    except ValueError:
        raise SealError("the stored PKCS#12 file cannot be read") from None
    # The CMS is written as hex: twice its DER size, with room for the signed attributes.
    certificates = [signer.signing_cert, *signer.cert_registry]
    reserved = 2 * (sum(len(certificate.dump()) for certificate in certificates) + 4096)
    with _signers_lock:
        # Only the newest file of a municipality stays loaded.
        for old in [key for key in _signers if key[0] == record.municipality_id]:
            del _signers[old]
        _signers[cache_key] = (signer, reserved)
    return signer, reserved


def seal(pdf: bytes, municipality_id: int) -> bytes:
    """The PDF sealed with a PAdES baseline B signature by the municipality's certificate.

    Invisible (the signature page is part of the document itself) and added as an
    incremental update, so the PDF/A identification of the rendered file stands."""
    record = certificate_for(municipality_id)
    signer, reserved = _signer(record)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    pdf_signer = signers.PdfSigner(
        metadata, signer=signer, new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD_NAME)
    )
    output = _outside_event_loop(pdf_signer.sign_pdf, writer, bytes_reserved=reserved)
    return output.getvalue()


# --- Verifying ------------------------------------------------------------------------------


@dataclass
class SignerLine:
    name: str
    role: str
    party: str
    signed_at: str


@dataclass
class Verification:
    """The answer of the public check. When not authentic, only `reason` is set."""

    authentic: bool
    reason: str = ""
    number: str = ""
    title: str = ""
    municipality: str = ""
    organization: str = ""
    organization_number: str = ""
    sealed_at: str = ""
    document_sha256: str = ""
    version_sha256: str = ""
    signers: list[SignerLine] = field(default_factory=list)
    certificate_subject: str = ""
    certificate_fingerprint: str = ""
    self_signed: bool = False


NOT_FOUND = _l("Dugnad har ikke utstedt denne filen, eller den er endret etter at den ble signert.")
BAD_SEAL = _l("Seglet i filen er ikke gyldig.")


def _sealed_with(document: SignedDocument) -> set[str]:
    """Certificate fingerprints this document may be sealed with: the one recorded when it
    was countersigned (a certificate replaced since still counts for it), and the current one."""
    fingerprints = set()
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.municipality_id == document.municipality_id,
            AuditEvent.object_type == "agreement",
            AuditEvent.object_id == document.agreement_id,
            AuditEvent.action == "countersign",
        ).order_by(AuditEvent.id.desc())
    )
    if event is not None and event.details.get("seal_certificate"):
        fingerprints.add(event.details["seal_certificate"])
    record = current(document.municipality_id)
    if record is not None:
        fingerprints.add(record.fingerprint)
    return fingerprints


@dataclass
class SealCheck:
    ok: bool
    subject: str = ""
    fingerprint: str = ""
    self_signed: bool = False


def check_seal(pdf: bytes, trusted_fingerprints: set[str]) -> SealCheck:
    """Validate the one embedded seal: intact, cryptographically valid, covering the whole
    file, and made by a certificate whose fingerprint is trusted (which is then the trust root)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except Exception:
        return SealCheck(False)
    if len(embedded) != 1 or embedded[0].field_name != FIELD_NAME:
        return SealCheck(False)
    signature = embedded[0]
    certificate = signature.signer_cert
    fingerprint = hashlib.sha256(certificate.dump()).hexdigest()
    result = SealCheck(
        False, subject=certificate.subject.human_friendly, fingerprint=fingerprint,
        self_signed=certificate.self_signed in ("maybe", "yes"),
    )
    if fingerprint not in trusted_fingerprints:
        return result
    try:
        context = ValidationContext(trust_roots=[certificate], allow_fetching=False)
        status = _outside_event_loop(validate_pdf_signature, signature, signer_validation_context=context)
    except Exception:
        log.info("sealed PDF failed validation", exc_info=True)
        return result
    result.ok = bool(
        status.intact and status.valid and status.trusted
        and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    )
    return result


def _authentic(document: SignedDocument, pdf: bytes) -> Verification:
    check = check_seal(pdf, _sealed_with(document))
    if not check.ok:
        return Verification(False, reason=str(BAD_SEAL))
    agreement = db.session.get(Agreement, document.agreement_id)
    version = agreement.accepted_version
    parties = version.content.get("parties", {})
    return Verification(
        True,
        number=agreement.number,
        title=version.content.get("title", agreement.title),
        municipality=parties.get("municipality", {}).get("name", ""),
        organization=parties.get("organization", {}).get("name", ""),
        organization_number=parties.get("organization", {}).get("org_number", ""),
        sealed_at=format_oslo(document.created_at),
        document_sha256=document.sha256,
        version_sha256=version.sha256,
        signers=[
            SignerLine(
                name=signature.name,
                role=signature.role,
                party=parties.get(signature.party, {}).get("name", ""),
                signed_at=format_oslo(signature.signed_at),
            )
            for signature in sorted(agreement.signatures, key=lambda s: s.signed_at)
        ],
        certificate_subject=check.subject,
        certificate_fingerprint=check.fingerprint,
        self_signed=check.self_signed,
    )


def verify(pdf: bytes) -> Verification:
    """Is this file a signed agreement Dugnad issued, unchanged? (Any municipality's:
    the check is public.) A file Dugnad never stored gets nothing but 'not found'."""
    digest = hashlib.sha256(pdf).hexdigest()
    document = db.session.scalar(select(SignedDocument).where(SignedDocument.sha256 == digest))
    if document is None:
        return Verification(False, reason=str(NOT_FOUND))
    return _authentic(document, pdf)


def verify_by_number(number: str, fingerprint: str) -> Verification:
    """The same check from an agreement number and the PDF's SHA-256 fingerprint."""
    fingerprint = "".join(fingerprint.split()).lower()
    document = db.session.scalar(
        select(SignedDocument)
        .join(Agreement, Agreement.id == SignedDocument.agreement_id)
        .where(Agreement.number == number.strip(), SignedDocument.sha256 == fingerprint)
    )
    if document is None:
        return Verification(False, reason=str(_l("Fant ingen signert avtale med dette nummeret og fingeravtrykket.")))
    return _authentic(document, document.pdf)
