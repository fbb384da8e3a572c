"""The API documentation (Swagger UI at /api/docs) comes from the app's own static files (ninja's, not a
public CDN) and, like the OpenAPI schema it shows, only to people who may use the API: a session or a
personal API token. In a real browser, under the Content-Security-Policy: tests/web/test_csp_browser.py."""

from __future__ import annotations

import json
import re

import pytest

from dealpilot.crm.services import create_api_token

pytestmark = pytest.mark.django_db


def test_without_a_login_the_docs_send_to_the_login_page_and_the_schema_answers_401(client):
    docs = client.get("/api/docs")
    assert docs.status_code == 302 and docs["Location"] == "/login/?next=/api/docs"
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 401 and "personal API token" in schema.json()["detail"]
    bad = client.get("/api/openapi.json", HTTP_AUTHORIZATION="Bearer dp_not-a-token")
    assert bad.status_code == 401


def test_a_session_or_a_token_reads_them(client, org):
    _, raw = create_api_token(org.rep_emea, "client generator")
    schema = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "dealpilot API"

    client.force_login(org.enablement)
    assert client.get("/api/openapi.json").status_code == 200
    docs = client.get("/api/docs")
    assert docs.status_code == 200


def test_swagger_ui_is_served_from_the_apps_own_static_files(client, org):
    client.force_login(org.rep_emea)
    html = client.get("/api/docs").content.decode()
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in sources and "/static/ninja/swagger-ui.css" in sources
    assert [s for s in sources if not s.startswith("/static/")] == []  # no CDN, no other host
    for source in sources:
        assert client.get(source).status_code == 200, source
    settings = json.loads(re.search(r'<script type="application/json" id="swagger-settings">(.*?)</script>', html, re.S).group(1))
    assert settings["url"] == "/api/openapi.json"
    assert settings["validatorUrl"] is None  # no badge fetched from the online validator with the schema's address
