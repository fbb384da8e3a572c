"""Bad input that every API operation shares: refused with a 4xx and a message, nothing written.

Found by tests/test_api_fuzz.py (schemathesis); each case is pinned here so it stays fixed."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealpilot.crm.services import create_api_token
from dealpilot.enablement.models import ContentModule


@pytest.fixture
def rep_client(org):
    _, raw = create_api_token(org.rep_emea, "tests")
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def author_client(org):
    _, raw = create_api_token(org.enablement, "tests")
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_nul_character_in_a_json_body_is_a_400_and_nothing_is_written(author_client):
    # PostgreSQL text cannot hold NUL: this was a 500 there (and stored as sent on SQLite).
    body = {"title": "Battle card\u0000", "kind": "battle_card", "status": "draft"}
    response = author_client.post("/api/enablement/modules", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert not ContentModule.objects.exists()
    nested = {"title": "Battle card", "kind": "battle_card", "status": "draft", "tags": {"industry": ["Retail\u0000"]}}
    assert author_client.post("/api/enablement/modules", json.dumps(nested), content_type="application/json").status_code == 400
    assert not ContentModule.objects.exists()


def test_an_escaped_backslash_before_u0000_is_ordinary_text(author_client):
    body = {"title": "C:\\u0000 is not a NUL", "kind": "battle_card", "status": "draft"}
    response = author_client.post("/api/enablement/modules", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert ContentModule.objects.get().title == "C:\\u0000 is not a NUL"


def test_a_nul_character_in_a_query_is_a_400(rep_client):
    response = rep_client.get("/api/crm/accounts", {"q": "Acme\x00"})
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/crm/opportunities", "/api/enablement/modules", "/api/deals/scores"])
def test_a_page_number_past_any_list_is_a_422_with_the_reason(rep_client, path):
    # 10**30 became an SQL OFFSET SQLite cannot hold: a 500.
    response = rep_client.get(path, {"page": 10**30})
    assert response.status_code == 422
    assert any(error["loc"][-1] == "page" for error in response.json()["detail"])
    assert rep_client.get(path, {"page": 1_000_000}).status_code == 200  # far past the end: an empty page


def test_an_id_in_a_body_larger_than_64_bits_is_a_422(org, author_client):
    body = {"title": "Playbook", "kind": "playbook", "status": "draft", "author_ids": [2**65]}
    response = author_client.post("/api/enablement/modules", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == ["author_ids", 0]
    assert not ContentModule.objects.exists()
