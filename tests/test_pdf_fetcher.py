"""WeasyPrint's URL fetcher against user-controlled text, in every place that reaches a PDF.

A real HTTP server on loopback records every request it gets; it must get none. The text
people type (organisation names, agreement sections, signature names, the meeting on the
attendance list, evaluation answers in the council report) is escaped, so each attempt must
show in the PDF as the text it is. Under that, the fetcher itself refuses every URL that is
not one of the app's static files, even in HTML that is not escaped: `file:`, `http:` to
loopback (also behind a redirect from a harmless-looking address), `data:` (which could
carry an SVG or a stylesheet that points onwards), and CSS `url()` and `@import`.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import Factory, empty_database, link_in, login, make_app, outbox
from pypdf import PdfReader
from world import ACCEPT, countersign_form, meeting_form, write_agreement

from dugnad import evaluations
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import Agreement
from dugnad.pdf import STATIC_BASE, RefusedURL, StaticOnlyFetcher, render_pdf
from dugnad.timeutil import today_oslo

ORG_EMAIL = "leder@fetcher-lag.example.no"

# --- A server that must never be asked --------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).hits.append(self.path)
        if self.path.startswith(("/static/", "/redirect")):
            # A harmless-looking address that sends the fetcher on to somewhere else.
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/landed")
            self.end_headers()
            return
        body = b"body { background: red }" if self.path.endswith(".css") else b"GIF89a"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def server():
    Recorder.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _svg(port: int) -> str:
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://127.0.0.1:{port}/svg.png"/></svg>'
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def attempts(port: int) -> dict[str, str]:
    """HTML a person could type into a field, each a way to make the renderer fetch something."""
    return {
        "file": '<img src="file:///etc/passwd">',
        "http": f'<img src="http://127.0.0.1:{port}/img.png">',
        "redirect": f'<img src="http://127.0.0.1:{port}/static/logo.png">',
        "link": f'<link rel="stylesheet" href="http://127.0.0.1:{port}/s.css">',
        "import": f'<style>@import url("http://127.0.0.1:{port}/i.css");</style>',
        "css-url": f'<p style="background:url(http://127.0.0.1:{port}/bg.png)">x</p>',
        "data": f'<img src="{_svg(port)}">',
        "data-css": f'<link rel="stylesheet" href="data:text/css,@import url(http://127.0.0.1:{port}/d.css);">',
    }


def _flat(text: str) -> str:
    """Text compared without its line breaks and spacing (the PDF wraps long words anywhere)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pdf_text(pdf: bytes) -> str:
    return _flat("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def assert_shown_as_text(pdf: bytes, *texts: str) -> None:
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for typed in texts:
        assert _flat(typed) in text, f"{typed!r} is not in the PDF as text"


# --- The fetcher, asked directly --------------------------------------------------------------


@pytest.fixture
def fetcher(app):
    return StaticOnlyFetcher(app.static_folder)


def urls(port: int) -> list[str]:
    return [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "FILE:///etc/passwd",
        f"http://127.0.0.1:{port}/img.png",
        f"http://localhost:{port}/img.png",
        f"http://[::1]:{port}/img.png",
        f"https://127.0.0.1:{port}/img.png",
        f"http://127.0.0.1:{port}/redirect",
        f"http://127.0.0.1:{port}/static/css/document.css",  # a static-looking path elsewhere
        f"//127.0.0.1:{port}/img.png",
        _svg(port),
        "data:text/plain;base64,aGVp",
        f"data:text/css,@import url(http://127.0.0.1:{port}/d.css);",
        # Addresses that look like the static base but are not files under static/.
        STATIC_BASE + "../../redirect",
        STATIC_BASE + "%2e%2e/%2e%2e/app.py",
        STATIC_BASE.replace("https", "http") + "css/document.css",
        "https://dugnad.invalid.example.com/static/css/document.css",
        f"https://dugnad.invalid/static@127.0.0.1:{port}/img.png",
        "https://dugnad.invalid:443/static/css/document.css",
    ]


def test_the_fetcher_refuses_every_kind_of_url_and_asks_no_server(app, fetcher, server):
    before = list(Recorder.hits)
    for url in urls(server.server_port):
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)
        with pytest.raises(RefusedURL):
            fetcher(url)  # how WeasyPrint calls it
    assert Recorder.hits == before
    # The server is real: asked directly, it answers (and records).
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/probe.png") as response:
        assert response.status == 200
    assert Recorder.hits == [*before, "/probe.png"]
    Recorder.hits.remove("/probe.png")


def test_the_fetcher_has_no_other_way_out(app, fetcher, server):
    """WeasyPrint's fetcher is a urllib opener; every way in goes through `fetch`."""
    with pytest.raises(RefusedURL):
        fetcher.open(f"http://127.0.0.1:{server.server_port}/img.png")
    import urllib.request

    with pytest.raises(RefusedURL):
        fetcher.open(urllib.request.Request(f"http://127.0.0.1:{server.server_port}/img.png"))
    assert Recorder.hits == []


def test_unescaped_html_fetches_nothing_either(app, server):
    """Should a template ever print a field unescaped, the renderer still reaches nothing."""
    html = "<html><head>" + "".join(attempts(server.server_port).values()) + "</head><body><p>Synlig tekst</p>" + "".join(
        attempts(server.server_port).values()
    ) + "<object data='file:///etc/passwd'></object><iframe src='file:///etc/passwd'></iframe></body></html>"
    with app.app_context():
        pdf = render_pdf(html)
    text = pdf_text(pdf)
    assert "Synligtekst" in text and "root:" not in text
    assert Recorder.hits == []


# --- Every place in the app where typed text reaches a PDF ------------------------------------


@dataclass
class Built:
    app: object
    admin: object
    typed: dict[str, str] = field(default_factory=dict)
    pdfs: dict[str, bytes] = field(default_factory=dict)


@pytest.fixture(scope="module")
def built(database_url, server):
    """A municipality whose every PDF carries the attempts, each typed into a real form."""
    app = make_app(database_url)
    factory = Factory(app)
    port = server.server_port
    a = attempts(port)
    municipality = factory.municipality("Fetchervik kommune")
    admin = app.test_client()
    login(admin, factory.user(municipality, "admin"))
    typed = {
        "organization": f'Lag {a["http"]}',
        "meeting_title": f'Møte {a["import"]}',
        "meeting_place": a["file"],
        "meeting_room": a["css-url"],
        "participants": f'{a["redirect"]}\n{a["link"]}',
        "section": "\n\n".join(a.values()),
        "activity": a["data"],
        "organization_signatory": a["css-url"],
        "accept_name": a["http"],
        "accept_role": a["file"],
        "countersign_role": a["import"][:120],
        "went_well": a["http"],
        "went_badly": a["file"],
        "wishes": a["css-url"],
    }
    # The organisation, named by the attempt (registered through its form).
    response = admin.post("/organizations/new", data={
        "name": typed["organization"], "contacts-0-name": "Kari Leder", "contacts-0-email": ORG_EMAIL,
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    organization_id = int(re.search(r"/organizations/(\d+)", response.headers["Location"]).group(1))

    # The attendance list: the meeting, and an answer naming who comes.
    response = admin.post("/meetings/new", data=meeting_form(
        typed["meeting_title"], place=typed["meeting_place"], room=typed["meeting_room"], agenda=typed["section"],
    ))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    meeting_url = response.headers["Location"]
    assert admin.post(f"{meeting_url}/invite", data={"organizations": [str(organization_id)]}).status_code == 302
    visitor = app.test_client()
    answer = {"answer": "attending", "participants": "2", "participant_names": typed["participants"]}
    assert visitor.post(link_in(outbox(app, to=ORG_EMAIL)[-1]), data=answer).status_code == 302
    pdfs = {"attendance": admin.get(f"{meeting_url}/attendance.pdf")}

    # The agreement: every section's text, the parties, the signatures.
    response = admin.post("/agreements/new", data={"organization_id": str(organization_id)})
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", response.headers["Location"]).group(1))
    write_agreement(
        admin, agreement_id, "Avtale med forsøk",
        purpose={"text": typed["section"]},
        activities={"rows-0-what": typed["activity"], "text": typed["section"]},
        parties={"organization_signatory": typed["organization_signatory"]},
    )
    assert admin.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    review_link = link_in(outbox(app, to=ORG_EMAIL)[-1])
    pdfs["version"] = visitor.get(f"{review_link}/version.pdf")
    accept = {**ACCEPT, "accept-name": typed["accept_name"], "accept-signature": typed["accept_name"],
              "accept-role": typed["accept_role"]}
    response = visitor.post(review_link, data=accept)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    response = admin.post(
        f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id, role=typed["countersign_role"])
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    pdfs["signed"] = admin.get(f"/agreements/{agreement_id}/signed.pdf")

    # The evaluation, answered through its emailed link, in this year's council report.
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        evaluations.request_evaluation(agreement, today_oslo(), Actor(label="Dugnad"))
        db.session.commit()
    evaluation = {"went_well": typed["went_well"], "went_badly": typed["went_badly"], "wishes": typed["wishes"],
                  "volunteers": "3", "participants": "10", "name": "Kari Leder"}
    response = visitor.post(link_in(outbox(app, to=ORG_EMAIL)[-1]), data=evaluation)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    pdfs["council"] = admin.get("/reports/council.pdf", query_string={"year": str(today_oslo().year)})

    for name, response in pdfs.items():
        assert response.status_code == 200 and response.mimetype == "application/pdf", name
    yield Built(app=app, admin=admin, typed=typed, pdfs={name: response.data for name, response in pdfs.items()})
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    empty_database(database_url)


def test_no_pdf_made_a_request(built):
    assert Recorder.hits == []


def test_attendance_list_shows_the_meeting_and_names_as_text(built):
    t = built.typed
    assert_shown_as_text(built.pdfs["attendance"], t["organization"], t["meeting_title"], t["meeting_place"],
                         t["meeting_room"], *t["participants"].splitlines())


def test_version_under_review_shows_the_sections_as_text(built):
    t = built.typed
    assert_shown_as_text(built.pdfs["version"], t["organization"], t["activity"], t["organization_signatory"],
                         *t["section"].split("\n\n"))


def test_signed_agreement_shows_the_signatures_as_text(built):
    t = built.typed
    assert_shown_as_text(built.pdfs["signed"], t["organization"], t["accept_name"], t["accept_role"],
                         t["countersign_role"], *t["section"].split("\n\n"))


def test_council_report_shows_the_evaluation_as_text(built):
    t = built.typed
    assert_shown_as_text(built.pdfs["council"], t["organization"], t["went_well"], t["went_badly"], t["wishes"])
