"""Real-browser fixtures: the test app on a live server, Debian's Chromium through Playwright, axe-core.

The `app`, `client` and `factory` fixtures come from tests/conftest.py; the live
server serves that same `app` (same database), so data made with the factories or
the test client is what the browser sees.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Playwright's default for locator expectations is 5 s; pages here answer in milliseconds.
TIMEOUT_MS = 10_000


@dataclass
class LiveServer:
    url: str
    errors: list[BaseException] = field(default_factory=list)


@pytest.fixture(scope="session")
def playwright_browser():
    """One headless Chromium for the whole run; each test gets fresh contexts."""
    if not CHROMIUM.exists():
        reason = "Chromium not installed: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The test app served over HTTP on a free port, in a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    # Emails carry absolute links (url_for(_external=True)): they must point here.
    app.config["SERVER_NAME"] = f"127.0.0.1:{port}"
    live = LiveServer(url=f"http://127.0.0.1:{port}")

    def record(sender, exception, **extra):
        live.errors.append(exception)

    got_request_exception.connect(record, app)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
    # A server error the page may have hidden (a 500 page) still fails the test.
    assert not live.errors, f"the live server raised: {live.errors!r}"


@pytest.fixture
def new_context(playwright_browser, live_server):
    """Makes browser contexts on the live server (separate cookies: separate people).

    Uncaught JavaScript errors on any page fail the test; every context is closed
    before the live server stops.
    """
    contexts = []
    page_errors: list[str] = []

    def make(**options):
        context = playwright_browser.new_context(base_url=live_server.url, locale="nb-NO", **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", lambda page: page.on("pageerror", lambda error: page_errors.append(str(error))))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not page_errors, f"JavaScript errors: {page_errors}"


@pytest.fixture
def page(new_context):
    """A page in a fresh JavaScript-enabled context."""
    return new_context().new_page()


@pytest.fixture(autouse=True)
def _expect_timeout():
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


def axe_violations(page) -> list[dict]:
    """Runs axe-core (WCAG 2.1 A and AA rules) on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script> element: the pages' Content-Security-Policy
        # forbids inline scripts, and Playwright's evaluation is not subject to it.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags}})
            .then(result => result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")),
            })))""",
        WCAG_TAGS,
    )


@pytest.fixture
def assert_accessible():
    """`assert_accessible(page, "name")`: no WCAG 2.1 A/AA violations axe-core finds on the page."""

    def check(page, name: str) -> None:
        violations = axe_violations(page)
        report = "\n".join(
            f"  {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
        )
        assert not violations, f"axe found {len(violations)} violation(s) on {name} ({page.url}):\n{report}"

    return check
