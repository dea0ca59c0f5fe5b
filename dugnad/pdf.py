"""PDF rendering with WeasyPrint, reaching nothing but the app's own static files.

User-controlled text could carry URLs (an <img src="file:///etc/passwd"> pasted into
a field would be escaped anyway, but a stylesheet or a future rich-text field must
not widen that): the fetcher serves files under `static/` and refuses everything
else: `file:`, `http(s):`, `data:` and any other scheme.
"""

from __future__ import annotations

import atexit
import gc
import json
import mimetypes
import threading
from pathlib import Path

from flask import current_app
from weasyprint import HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

#: Documents are rendered with this base URL, so `static/...` paths resolve under it.
STATIC_BASE = "https://dugnad.invalid/static/"


class RefusedURL(ValueError):
    pass


class StaticOnlyFetcher(URLFetcher):
    """Serves `STATIC_BASE` + path from the static folder; refuses all else."""

    def __init__(self, static_folder: str):
        super().__init__()
        self.root = Path(static_folder).resolve()

    def fetch(self, url, headers=None):
        if not url.startswith(STATIC_BASE):
            raise RefusedURL(f"refused URL in document: {url[:80]}")
        relative = url[len(STATIC_BASE):].split("?", 1)[0].split("#", 1)[0]
        path = (self.root / relative).resolve()
        if not path.is_file() or not path.is_relative_to(self.root):
            raise RefusedURL(f"no such static file: {relative[:80]}")
        mime, _ = mimetypes.guess_type(path.name)
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": mime or "application/octet-stream"}
        )


#: One font configuration for the process. A new one per render (WeasyPrint's default)
#: decompresses the six Inter WOFF2 files and registers them with Fontconfig every time:
#: more than half of a signed agreement's render, and memory that grew with each render.
#: Kept, the faces are loaded once (WeasyPrint skips a face it already holds). Pango's
#: font map is not safe to share between threads, so renders in one process take turns;
#: they are CPU-bound under the GIL anyway.
_font_config: FontConfiguration | None = None
_render_lock = threading.Lock()


@atexit.register
def _release_font_config() -> None:
    """Free the font configuration while Pango and Fontconfig are still loaded: left to
    the interpreter's final teardown, its finaliser can run after theirs and the process
    ends with a segmentation fault (every time, in a script that left a context pushed)."""
    global _font_config
    _font_config = None
    gc.collect()


def render_pdf(html: str, variant: str = "pdf/a-2a", attachments: list[Attachment] = ()) -> bytes:
    """Render a whole HTML document to PDF (PDF/A-2a: archivable and tagged).

    Files attached need PDF/A-3 (`variant="pdf/a-3a"`): PDF/A-2 drops all but PDFs."""
    global _font_config
    fetcher = StaticOnlyFetcher(current_app.static_folder)
    document = HTML(string=html, base_url=STATIC_BASE, url_fetcher=fetcher)
    with _render_lock:
        if _font_config is None:
            _font_config = FontConfiguration()
        return document.write_pdf(pdf_variant=variant, attachments=list(attachments), font_config=_font_config)


def json_attachment(data, name: str, description: str) -> Attachment:
    """Machine-readable data inside the PDF, related to it as its source data (PDF/A-3)."""
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    return Attachment(string=text.encode("utf-8"), name=name, description=description, relationship="Data")
