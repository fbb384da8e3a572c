"""The Content-Security-Policy and the Permissions-Policy on every response (pages, the API, static files,
refusals, errors), and templates that need nothing the policy refuses. In a real browser:
tests/web/test_csp_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path

import dealpilot

SOURCE = Path(dealpilot.__file__).parent
COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.DOTALL)
NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=]{16,})'")
WANTED = {
    "default-src": "'self'",
    "script-src": "'self' 'nonce-*'",
    "style-src": "'self' 'nonce-*'",
    "style-src-elem": "'self' 'nonce-*'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
DENIED = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "display-capture")


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip())


def assert_policies(response, *, nonce: bool) -> None:
    found = directives(response)
    if nonce:
        assert len(set(NONCE.findall(response["Content-Security-Policy"]))) == 1  # one nonce, the same everywhere
    wanted = {k: v.replace(" 'nonce-*'", "") if not nonce else v for k, v in WANTED.items()}
    assert {k: NONCE.sub("'nonce-*'", v) for k, v in found.items()} == wanted
    permissions = response["Permissions-Policy"]
    for feature in DENIED:
        assert f"{feature}=()" in permissions


class FailingUrls:
    """A URL whose view fails, to see the policies on the 500 page."""

    def boom(request):
        raise RuntimeError("boom")

    urlpatterns = [path("boom/", boom)]


@pytest.mark.django_db
def test_every_kind_of_response_carries_both_policies(client, org, settings):
    page = client.get("/login/")
    assert page.status_code == 200
    assert_policies(page, nonce=True)
    nonce = NONCE.search(page["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in page.content.decode()  # the page's scripts carry the header's nonce

    client.force_login(org.rep_emea)
    for url, status, nonce in (("/opportunities/", 200, True), ("/api/health", 200, False),
                               ("/api/crm/opportunities/999999999", 404, False), ("/no-such-page/", 404, False),
                               ("/static/web/dealpilot.js", 200, False)):
        response = client.get(url)
        assert response.status_code == status, url
        assert_policies(response, nonce=nonce)

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(org.rep_emea)
    refused = strict.post("/account/tokens/", {"name": "no token"})
    assert refused.status_code == 403
    assert_policies(refused, nonce=False)

    settings.ROOT_URLCONF = FailingUrls
    failing = Client(raise_request_exception=False)
    error = failing.get("/boom/")
    assert error.status_code == 500
    assert_policies(error, nonce=False)


def test_no_template_needs_inline_script_or_style():
    """No inline script, event handler (onclick=...), javascript: URL, hx-on or <style> without the nonce in any
    template: the policy would refuse them in the browser (handlers only when they fire, so look here)."""
    found = []
    patterns = {
        "inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
        "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
        "hx-on": re.compile(r"\b(hx|data-hx)-on\b", re.IGNORECASE),
        "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE),
        "script without the nonce": re.compile(r"<script(?=[^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", re.IGNORECASE),
        "<style> without the nonce": re.compile(r"<style(?![^>]*\bnonce=)[^>]*>", re.IGNORECASE),
    }
    for template in sorted(SOURCE.rglob("templates/**/*.html")):
        # comments blanked (their lines kept): they may name what they are about
        text = COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), template.read_text(encoding="utf-8"))
        for what, pattern in patterns.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(SOURCE)}:{line}: {what}: {match.group(0)[:80]}")
    assert found == []
