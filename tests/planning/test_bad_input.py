"""Bad plan input over the API: a 400 with the reason, the plan unchanged. Found by tests/test_api_fuzz.py."""

from __future__ import annotations

import json

from django.test import Client

from dealpilot.crm.services import create_api_token
from dealpilot.planning import services
from dealpilot.planning.models import AccountPlan


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
