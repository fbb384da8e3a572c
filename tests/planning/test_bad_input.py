"""Bad plan input over the API: a 400 with the reason, the plan unchanged. Found by tests/test_api_fuzz.py."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealpilot.crm.models import Opportunity
from dealpilot.crm.services import create_api_token
from dealpilot.planning import services
from dealpilot.planning.models import AccountPlan


def _client(user) -> Client:
    _, raw = create_api_token(user, "tests")
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_null_plan_period_is_a_400_and_changes_nothing(org):
    account = org.accounts["rep_emea"]
    services.create_plan(org.rep_emea, account.pk, title="Plan")
    _, raw = create_api_token(org.rep_emea, "tests")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")
    for field in ("period_start", "period_end"):
        # was a TypeError comparing None with a date (500)
        response = client.patch(f"/api/planning/accounts/{account.pk}/plan", json.dumps({field: None, "title": "Renamed"}),
                                content_type="application/json")
        assert response.status_code == 400
        assert "period" in response.json()["detail"]
    plan = AccountPlan.objects.get(account=account)
    assert plan.title == "Plan" and plan.period_start and plan.period_end


@pytest.mark.parametrize("field, value", [("pipeline_goal", "1e17"), ("pipeline_goal", "-1"), ("pipeline_goal", "0.001")])
def test_an_amount_the_column_cannot_hold_is_a_422_and_the_plan_stays_readable(org, field, value):
    # 1e17 was a 500 on PostgreSQL, and on SQLite it was stored and every later read of the plan failed.
    account = org.accounts["rep_emea"]
    services.create_plan(org.rep_emea, account.pk, title="Plan")
    client = _client(org.rep_emea)
    response = client.patch(f"/api/planning/accounts/{account.pk}/plan", json.dumps({field: value}), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    assert client.get(f"/api/planning/accounts/{account.pk}/plan").status_code == 200
    assert AccountPlan.objects.get(account=account).pipeline_goal is None


def test_converting_a_lead_with_an_amount_too_large_is_a_422_and_creates_no_deal(org):
    account = org.accounts["rep_emea"]
    lead = services.create_lead(org.rep_emea, account.pk, title="Second plant")
    before = Opportunity.objects.count()
    response = _client(org.rep_emea).post(f"/api/planning/leads/{lead.pk}/convert", json.dumps({"amount": "1e20"}),
                                          content_type="application/json")
    assert response.status_code == 422
    assert Opportunity.objects.count() == before
