"""Bad meeting input over the API: a 4xx with the reason, nothing written. Found by tests/test_api_fuzz.py."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealpilot.cadence.models import Meeting
from dealpilot.crm.services import create_api_token

MEETING = {"kind": "forecast", "title": "Friday forecast", "frequency": "weekly", "weekday": 4, "start_time": "16:00:00",
           "duration_minutes": 30, "starts_on": "2026-01-02", "time_zone": "Europe/Berlin"}


@pytest.mark.parametrize("field", ["attendee_ids", "account_ids", "opportunity_ids"])
def test_an_id_larger_than_64_bits_is_a_422(org, emea_cadence, field):
    # SQLite cannot compare with such an integer: an OverflowError (500) before.
    _, raw = create_api_token(org.manager_emea, "tests")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = Meeting.objects.count()
    response = client.post(f"/api/cadence/teams/{org.teams['emea'].pk}/meetings", json.dumps({**MEETING, field: [-(2**65)]}),
                           content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == [field, 0]
    assert Meeting.objects.count() == before


def test_the_schema_says_start_times_have_no_offset(client, org):
    client.force_login(org.manager_emea)  # the schema is for people who may use the API (tests/test_api_docs.py)
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    for name in ("MeetingOut", "MeetingIn"):
        assert schema[name]["properties"]["start_time"]["format"] == "partial-time"
