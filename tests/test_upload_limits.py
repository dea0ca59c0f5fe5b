"""Every upload has a size limit of its own, named next to its field with a 413 or 400, never a
500: the register import (IMPORT_MAX_BYTES, above the app's MAX_CONTENT_LENGTH), the seal
certificate (100 KB), the public check of a signed PDF (10 MB); any other post above the
app's limit is a 413 page. Nothing is stored from a refused upload."""

from __future__ import annotations

import io
import re
import sys
from urllib.parse import urlsplit

import pytest
from helpers import login
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart
from wtforms.fields import FileField
from wtforms.fields.core import UnboundField

from app import create_app
from dugnad import seal
from dugnad.extensions import db
from dugnad.models import Organization, RegistryImport, SealCertificate

MB = 1024 * 1024


def _upload(client, url: str, fields: dict, content: bytes, filename: str, csrf: bool = True):
    """A multipart post built in memory (the test client would spool a large file to a file
    it never closes)."""
    data = {**fields, "file": FileStorage(io.BytesIO(content), filename)}
    if csrf:
        data["csrf_token"] = client.csrf_token()
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}", csrf=False)


def _error(page: str, field: str = "file") -> str:
    match = re.search(rf'id="{field}-error">([^<]+)<', page)
    assert match, page[:3000]
    return match.group(1).strip()


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def town(app, factory):
    municipality = factory.municipality("Opplastvik kommune")
    return {
        "municipality": municipality,
        "admin": factory.user(municipality, "admin"),
        "staff": factory.user(municipality, "staff"),
        "operator": factory.user(None, "operator"),
    }


def _client(app, email: str | None):
    client = app.test_client()
    if email:
        login(client, email)
    return client


# --- Every upload is known ----------------------------------------------------------------------


def test_every_file_field_is_one_tested_here():
    """A new upload fails this test until it has a limit and a test below."""
    from blueprints.admin.forms import SealForm
    from blueprints.imports.forms import UploadForm
    from blueprints.verify.forms import PdfForm

    create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"})  # imports every blueprint
    with_files = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith("blueprints."):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name and any(
                isinstance(item, UnboundField) and issubclass(item.field_class, FileField)
                for item in vars(value).values()
            ):
                with_files.add(value)
    assert with_files == {SealForm, UploadForm, PdfForm}


# --- The register import ------------------------------------------------------------------------


def test_import_above_its_limit_is_413_with_the_message_at_the_field(app, town):
    app.config["IMPORT_MAX_BYTES"] = 3 * MB
    staff = _client(app, town["staff"])
    # Above the app's 2 MB, within the import's own limit: read (and refused for its content, not its size).
    response = _upload(staff, "/organizations/import/", {}, b"\x00\x01" * (MB + MB // 4), "stor.csv")
    assert response.status_code == 400 and "for stor" not in _error(response.get_data(as_text=True))
    response = _upload(staff, "/organizations/import/", {}, b"navn\n" + b"x" * (3 * MB), "for-stor.csv")
    assert response.status_code == 413
    assert _error(response.get_data(as_text=True)) == (
        "Filen er for stor. Største tillatte størrelse er 3 MB. Pakk den med gzip (.gz) eller del den opp."
    )
    assert _count(app, RegistryImport) == 0


@pytest.mark.parametrize("who", [None, "operator"])
def test_an_oversized_import_from_someone_not_allowed_is_no_500(app, town, who):
    """The size is refused before the view checks who posts: the answer must still be a plain
    413 (no upload page, which names the user's municipality), never a 500."""
    app.config["IMPORT_MAX_BYTES"] = 1 * MB
    client = _client(app, town["operator"] if who == "operator" else None)
    response = _upload(client, "/organizations/import/", {}, b"x" * (2 * MB), "lag.csv", csrf=who is not None)
    assert response.status_code in (413, 302)
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
    else:
        page = response.get_data(as_text=True)
        assert "Filen er for stor" in page and "Opplastvik" not in page
    assert _count(app, RegistryImport) == 0


# --- The seal certificate -----------------------------------------------------------------------


def _seal_count(app) -> int:
    return _count(app, SealCertificate)


def test_seal_certificate_above_100_kb_is_400_with_the_message_at_the_field(app, town):
    admin = _client(app, town["admin"])
    response = _upload(admin, "/admin/seal", {"password": "passord"}, b"0" * (seal.MAX_PKCS12_BYTES + 1), "segl.p12")
    assert response.status_code == 400
    assert _error(response.get_data(as_text=True)) == "Filen er for stor. Et segl-sertifikat (.p12 eller .pfx) er høyst 100 KB."
    assert _seal_count(app) == 0


def test_seal_certificate_above_the_request_limit_is_413_with_the_message_at_the_field(app, town):
    admin = _client(app, town["admin"])
    response = _upload(admin, "/admin/seal", {"password": "passord"}, b"0" * (3 * MB), "segl.p12")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert _error(page) == "Filen er for stor. Et segl-sertifikat (.p12 eller .pfx) er høyst 100 KB."
    assert 'href="#file"' in page  # the summary links to the field
    assert _seal_count(app) == 0


@pytest.mark.parametrize("who", [None, "staff", "operator"])
def test_an_oversized_seal_upload_from_someone_not_allowed_shows_nothing_of_the_seal(app, town, who):
    client = _client(app, town[who] if who else None)
    response = _upload(client, "/admin/seal", {"password": "x"}, b"0" * (3 * MB), "segl.p12", csrf=who is not None)
    assert response.status_code in (302, 403, 413)
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
    else:
        page = response.get_data(as_text=True)
        assert "Sertifikatet som brukes nå" not in page and "Last opp kommunens eget sertifikat" not in page
    assert _seal_count(app) == 0


# --- The public check of a signed PDF -----------------------------------------------------------


def test_verify_pdf_just_above_10_mb_is_400_with_the_message_at_the_field(app):
    visitor = app.test_client()
    response = _upload(visitor, "/verify", {"check": "file"}, b"%PDF-1.7\n" + b"0" * (10 * MB), "avtale.pdf")
    assert response.status_code == 400
    assert _error(response.get_data(as_text=True)) == "Filen er for stor. Største tillatte størrelse er 10 MB."


def test_verify_pdf_far_above_10_mb_is_413_with_the_message_at_the_field(app):
    visitor = app.test_client()
    response = _upload(visitor, "/verify", {"check": "file"}, b"%PDF-1.7\n" + b"0" * (11 * MB), "avtale.pdf")
    assert response.status_code == 413
    assert _error(response.get_data(as_text=True)) == "Filen er for stor. Største tillatte størrelse er 10 MB."


# --- Everything else: the app's own limit -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "who"),
    [("/login", None), ("/organizations/new", "staff"), ("/admin/users", "admin"), ("/verify", None)],
)
def test_any_post_above_the_apps_limit_is_413_not_500(app, town, url, who):
    client = _client(app, town[who] if who else None)
    limit = 11 * MB if url == "/verify" else 3 * MB
    response = client.post(url, data={"name": "x" * limit, "check": "number"})
    assert response.status_code == 413
    assert "Filen er for stor" in response.get_data(as_text=True)
    assert _count(app, Organization) == 0


def test_a_file_posted_to_a_form_without_uploads_is_413_above_the_limit(app, town):
    staff = _client(app, town["staff"])
    response = _upload(staff, "/organizations/new", {"name": "Lag"}, b"x" * (3 * MB), "lag.csv")
    assert response.status_code == 413
    assert _count(app, Organization) == 0


def test_too_many_form_parts_is_413_not_500(app, town):
    staff = _client(app, town["staff"])
    fields = {f"felt{n}": "x" for n in range(2000)}
    response = _upload(staff, "/organizations/new", {"name": "Lag", **fields}, b"x", "lag.csv")
    assert response.status_code == 413
    assert _count(app, Organization) == 0
