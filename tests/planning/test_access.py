"""Every planning page and API route, called on an account the caller may not see: always 404,
and nothing is written. (Per-role visibility of each feature is tested beside the feature.)"""

import pytest
from django.urls import reverse

from dealpilot.planning import services
from dealpilot.planning.models import AccountLead, AccountPlan, PlanEvent
from tests.factories import make_contact, make_plan_unit, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign(org):
    """rep_emea's account with everything on it; rep_dach and enablement may not see it."""
    account = org.accounts["rep_emea"]
    unit = make_plan_unit(account, "Operations")
    product = make_product("Platform")
    other = make_contact(account, first_name="Ola")
    services.create_plan(org.rep_emea, account.pk)
    scope = services.add_unit(org.rep_emea, account.pk, unit.pk)
    objective = services.add_objective(org.rep_emea, account.pk, "revenue", "Grow", unit_id=scope.pk, target_amount=1)
    strategy = services.add_strategy(org.rep_emea, objective.pk, "Pilot")
    action = services.add_action(org.rep_emea, strategy.pk, "Call")
    note = services.add_research(org.rep_emea, account.pk, "customer", "Note")
    influence = services.add_influence(org.rep_emea, account.pk, other.pk, org.contacts["rep_emea"].pk)
    lead = services.create_lead(org.rep_emea, account.pk, plan_unit_id=unit.pk, product_id=product.pk)
    return {"a": account.pk, "unit": unit.pk, "scope": scope.pk, "objective": objective.pk, "strategy": strategy.pk,
            "action": action.pk, "note": note.pk, "contact": other.pk, "influence": influence.pk, "lead": lead.pk,
            "product": product.pk}


def api_calls(f):
    a = f["a"]
    base = f"/api/planning/accounts/{a}"
    return [
        ("get", f"{base}/score", None), ("put", f"{base}/ratings/profitability", {"level": "high"}),
        ("delete", f"{base}/ratings/profitability", None),
        ("get", f"{base}/plan", None), ("post", f"{base}/plan", {}), ("patch", f"{base}/plan", {"title": "x"}),
        ("post", f"{base}/plan/units", {"plan_unit_id": f["unit"]}),
        ("patch", f"{base}/plan/units/{f['scope']}", {"goals": "x"}),
        ("post", f"{base}/plan/research", {"area": "customer", "text": "x"}),
        ("post", f"{base}/plan/objectives", {"kind": "account", "title": "x"}),
        ("post", f"{base}/plan/objectives/{f['objective']}/strategies", {"text": "x"}),
        ("post", f"{base}/plan/strategies/{f['strategy']}/actions", {"title": "x"}),
        ("patch", f"{base}/plan/actions/{f['action']}", {"status": "done"}),
        ("delete", f"{base}/plan/action/{f['action']}", None), ("delete", f"{base}/plan/research/{f['note']}", None),
        ("get", f"{base}/plan/comments", None), ("post", f"{base}/plan/comments", {"text": "x"}),
        ("get", f"{base}/plan/history", None),
        ("get", f"{base}/people", None), ("put", f"{base}/people/{f['contact']}", {"power": "high"}),
        ("post", f"{base}/influences", {"source_id": f["contact"], "target_id": f["contact"]}),
        ("delete", f"{base}/influences/{f['influence']}", None),
        ("get", f"{base}/white-space", None),
        ("put", f"{base}/white-space", {"plan_unit_id": f["unit"], "product_id": f["product"], "status": "potential"}),
        ("post", f"{base}/leads", {"title": "x"}), ("post", f"/api/planning/leads/{f['lead']}/convert", {}),
        ("delete", f"{base}/plan/units/{f['scope']}", None),  # last: its objectives go with it
    ]


def page_calls(f):
    a = f["a"]
    return [
        ("get", reverse("planning:account", args=[a]), None),
        ("post", reverse("planning:rate", args=[a]), {"element": "profitability", "level": "high"}),
        ("get", reverse("planning:plan", args=[a]), None),
        ("post", reverse("planning:plan_edit", args=[a]), {"op": "add_research", "area": "customer", "text": "x"}),
        ("post", reverse("planning:plan_edit", args=[a]), {"op": "create"}),
        ("post", reverse("planning:plan_comment", args=[a]), {"text": "x"}),
        ("get", reverse("planning:plan_export", args=[a, "pdf"]), None),
        ("get", reverse("planning:plan_export", args=[a, "xlsx"]), None),
        ("get", reverse("planning:people", args=[a]), None),
        ("post", reverse("planning:people_edit", args=[a]), {"op": "profile", "contact": f["contact"], "power": "high"}),
        ("get", reverse("planning:white_space", args=[a]), None),
        ("post", reverse("planning:white_space_edit", args=[a]), {"op": "convert_lead", "lead": f["lead"]}),
    ]


@pytest.mark.parametrize("viewer", ["rep_dach", "manager_amer_without", "enablement"])
def test_every_route_is_404_for_an_account_out_of_sight(client, org, foreign, viewer):
    if viewer == "manager_amer_without":
        # manager_amer sees rep_emea's account only through rep_amer's cross-sell deal: take it away
        org.opportunities["rep_amer"][-1].delete()
        viewer = "manager_amer"
    client.force_login(org.user(viewer))
    events, leads = PlanEvent.objects.count(), AccountLead.objects.count()
    for method, url, body in api_calls(foreign):
        kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
        response = getattr(client, method)(url, **kwargs)
        assert response.status_code == 404, (method, url, response.status_code)
    for method, url, body in page_calls(foreign):
        response = getattr(client, method)(url, body or {})
        assert response.status_code == 404, (method, url, response.status_code)
    assert (PlanEvent.objects.count(), AccountLead.objects.count()) == (events, leads)
    assert AccountPlan.objects.count() == 1


def test_the_owner_reaches_every_route(client, org, foreign):
    client.force_login(org.rep_emea)
    for method, url, body in api_calls(foreign):
        kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
        response = getattr(client, method)(url, **kwargs)
        assert response.status_code < 500 and response.status_code != 404, (method, url, response.status_code)
