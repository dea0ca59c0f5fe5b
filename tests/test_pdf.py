"""The PDF renderer reaches only the app's own static files, and prints user text as text."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from dugnad.pdf import STATIC_BASE, RefusedURL, StaticOnlyFetcher, render_pdf


@pytest.fixture
def fetcher(app):
    return StaticOnlyFetcher(app.static_folder)


def test_fetcher_serves_the_apps_own_static_files(fetcher):
    response = fetcher.fetch(STATIC_BASE + "css/document.css")
    assert b"@page" in response.read()
    assert response.headers.get_content_type() == "text/css"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:5000/",
        "https://example.com/logo.png",
        "data:text/plain;base64,aGVp",
        "ftp://127.0.0.1/x",
        STATIC_BASE + "../app.py",
        STATIC_BASE + "css/../../app.py",
        STATIC_BASE + "no-such-file.css",
        "https://dugnad.invalid/other/x.css",
    ],
)
def test_fetcher_refuses_everything_else(fetcher, url):
    with pytest.raises(RefusedURL):
        fetcher.fetch(url)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_document_pointing_outside_renders_without_fetching_it(app, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPPHEMMELIG")
    html = (
        "<html><head><link rel='stylesheet' href='file:///etc/passwd'>"
        f"<link rel='stylesheet' href='file://{secret}'></head><body>"
        f"<p>Hei</p><img src='file://{secret}' alt='x'>"
        "<img src='http://127.0.0.1:9/x.png' alt='y'>"
        f"<object data='file://{secret}'></object>"
        "</body></html>"
    )
    with app.app_context():
        pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "Hei" in text
    assert "TOPPHEMMELIG" not in text


def test_pdf_is_pdf_a_and_names_the_page_count(app):
    with app.app_context():
        pdf = render_pdf(
            "<html lang='nb'><head><title>T</title><link rel='stylesheet' href='css/document.css'></head>"
            "<body><p>Første side</p></body></html>"
        )
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"pdfaid:part" in xmp  # the PDF/A identification in the XMP metadata
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged (PDF/A-2a)
    assert "Side 1 av 1" in _text(pdf)


def _font_names(pdf: bytes) -> set[str]:
    """The base names of the fonts the PDF's pages use, without the subset prefix."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            names.add(str(font.get_object()["/BaseFont"]).lstrip("/").split("+", 1)[-1])
    return names


def test_later_renders_in_the_process_still_embed_the_documents_font(app):
    """The font configuration is kept between renders (loading Inter's faces was most of
    a render's time): the second and later documents must still be set in Inter, never
    in a system fallback, bold included."""
    html = (
        "<html><head><link rel='stylesheet' href='vendor/inter/inter.css'>"
        "<link rel='stylesheet' href='css/document.css'></head>"
        "<body><h1>Samarbeidsavtale</h1><p>Blåbærsyltetøy og ærfugl.</p></body></html>"
    )
    with app.app_context():
        first, second, third = (render_pdf(html) for _ in range(3))
    for pdf in (first, second, third):
        names = _font_names(pdf)
        assert names and all(name.startswith("Inter") for name in names), names
        assert "Blåbærsyltetøy og ærfugl." in _text(pdf)
    assert _font_names(second) == _font_names(first)


def test_a_process_that_rendered_a_pdf_exits_cleanly(tmp_path):
    """The kept font configuration is freed before the interpreter tears Pango down:
    otherwise a command that rendered a PDF (cron jobs, workers) ends with a
    segmentation fault after doing its work."""
    # A context left pushed at module level, as a script may leave it: then the process's
    # final teardown frees the font configuration after Pango, unless it was freed first.
    script = (
        "from app import create_app\n"
        "from dugnad.pdf import render_pdf\n"
        f"app = create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/x.sqlite', 'SECRET_KEY': 'x'}})\n"
        "context = app.test_request_context()\n"
        "context.push()\n"
        "pdf = render_pdf(\"<link rel='stylesheet' href='vendor/inter/inter.css'><p>Hei</p>\")\n"
        "assert pdf.startswith(b'%PDF')\n"
    )
    root = Path(__file__).resolve().parent.parent
    for _ in range(3):  # without the fix it crashed on every exit
        result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
