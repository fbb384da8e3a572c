"""The browser of the browser tests: Debian's chromium driven by Playwright (never a downloaded
browser). `chromium_page(...)` opens a fresh profile and yields a page; on the way out it fails the
test if any page logged a JavaScript error."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# no background networking: this machine's network is closed, and chromium would keep trying
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


# chromium logs a page answered 4xx (a form sent back with its errors) as a console error
HTTP_4XX = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d ")


@contextmanager
def chromium_page(monkeypatch, *, timeout_ms: int = 15_000, navigation_timeout_ms: int | None = None,
                  allow_4xx_pages: bool = False, **context_options):
    """`allow_4xx_pages`: a test that submits a form the server refuses (400, 409) expects that answer."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    # Playwright's sync API keeps an event loop in this thread; the ORM work is done before it starts
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1, locale="en-US",
                                      **context_options)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        if navigation_timeout_ms:
            page.set_default_navigation_timeout(navigation_timeout_ms)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not (
            allow_4xx_pages and HTTP_4XX.match(msg.text)) else None)
        try:
            yield page
        finally:
            # ORM checks the test ran while Playwright's loop was current opened connections in it:
            # close them, or PostgreSQL cannot drop the test database afterwards
            connections.close_all()
            browser.close()
        assert errors == [], errors  # no JavaScript errors on any page


def log_in(page, live_server, username: str) -> None:
    """Sign in through the login form; the sales team lands on Today, enablement authors on the deals."""
    from tests.factories import PASSWORD

    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(today|opportunities)/$"))
