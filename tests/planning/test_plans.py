"""Account plans: building one (units, research, goals, objectives, strategies, actions), its
completeness and scorecard, pages and API per role (404 for plans of accounts not visible)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from dealpilot.planning import selectors, services
from dealpilot.planning.models import AccountPlan, PlanEvent
from tests.factories import add_contact_role, make_contact, make_opportunity, make_plan_unit

pytestmark = pytest.mark.django_db

from .test_priorities import SEES  # noqa: E402


def jpost(client, url, data):
    return client.post(url, data=data, content_type="application/json")


def jpatch(client, url, data):
    return client.patch(url, data=data, content_type="application/json")


@pytest.fixture
def planned(org):
    """rep_emea's account with two plan units and a plan."""
    account = org.accounts["rep_emea"]
    ops, it = make_plan_unit(account, "Operations"), make_plan_unit(account, "IT")
    plan = services.create_plan(org.rep_emea, account.pk)
    return {"account": account, "plan": plan, "ops": ops, "it": it}


def test_building_a_plan_through_the_api_moves_completeness_to_100(client, org, planned):
    account, ops, it = planned["account"], planned["ops"], planned["it"]
    base = f"/api/planning/accounts/{account.pk}/plan"
    client.force_login(org.rep_emea)
    start = client.get(base).json()
    assert start["completeness"]["percent"] < 20
    assert "No plan unit chosen" in start["completeness"]["missing"]

    body = jpost(client, base + "/units", {"plan_unit_id": ops.pk, "strategic": True}).json()
    unit_id = body["units"][0]["id"]
    body = jpatch(client, f"{base}/units/{unit_id}", {"goals": "Cut delivery time 20%", "pressures": "Peak season",
                                                      "initiatives": "New warehouse system", "obstacles": "IT backlog"}).json()
    assert body["completeness"]["percent"] > start["completeness"]["percent"]
    for area in ("customer", "competitor", "company"):
        assert jpost(client, base + "/research", {"area": area, "text": f"What we know: {area}"}).status_code == 200
    body = jpost(client, base + "/objectives", {"kind": "revenue", "title": "Grow operations", "unit_id": unit_id,
                                                "target_amount": "120000"}).json()
    body = jpost(client, base + "/objectives", {"kind": "account", "title": "Become the reference partner"}).json()
    for objective in body["objectives"]:
        body = jpost(client, f"{base}/objectives/{objective['id']}/strategies", {"text": f"Strategy for {objective['title']}"}).json()
    strategies = [s for o in body["objectives"] for s in o["strategies"]]
    for s in strategies:
        body = jpost(client, f"{base}/strategies/{s['id']}/actions",
                     {"title": "Workshop with the COO", "owner_id": org.rep_emea.pk,
                      "due_date": (timezone.localdate() + timedelta(days=14)).isoformat()}).json()
    body = jpatch(client, base, {"review_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
                                 "pipeline_goal": "200000"}).json()
    assert body["completeness"]["missing"] == []
    assert body["completeness"]["percent"] == 100
    assert body["scorecard"]["target_revenue"] == "120000.00" or Decimal(body["scorecard"]["target_revenue"]) == 120000
    # adding a second unit brings new things to fill in
    body = jpost(client, base + "/units", {"plan_unit_id": it.pk}).json()
    assert body["completeness"]["percent"] < 100
    assert "IT: no goals" in body["completeness"]["missing"]
    assert PlanEvent.objects.filter(plan=planned["plan"]).count() >= 10


def test_bad_plan_input_is_a_400_and_writes_nothing(client, org, planned):
    account = planned["account"]
    base = f"/api/planning/accounts/{account.pk}/plan"
    client.force_login(org.rep_emea)
    other_unit = make_plan_unit(org.accounts["rep_dach"], "Finance")
    events = PlanEvent.objects.count()
    assert jpost(client, base + "/units", {"plan_unit_id": other_unit.pk}).status_code == 400
    assert jpost(client, base + "/objectives", {"kind": "revenue", "title": "No unit", "target_amount": "5"}).status_code == 400
    assert jpost(client, base + "/objectives", {"kind": "account", "title": ""}).status_code == 400
    assert jpost(client, base + "/objectives", {"kind": "bogus", "title": "x"}).status_code == 422
    assert jpatch(client, base, {"period_start": "2030-01-01", "period_end": "2029-01-01"}).status_code == 400
    assert jpost(client, base, {}).status_code == 400  # a second plan
    assert PlanEvent.objects.count() == events
    assert AccountPlan.objects.get(pk=planned["plan"].pk).period_start == planned["plan"].period_start


@pytest.mark.parametrize("viewer", sorted(SEES) + ["enablement"])
def test_plans_are_visible_and_editable_with_their_account_only(client, org, planned, viewer):
    account = planned["account"]
    client.force_login(org.user(viewer))
    sees = viewer in SEES and "rep_emea" in SEES[viewer]
    wanted = 200 if sees else 404
    assert client.get(f"/api/planning/accounts/{account.pk}/plan").status_code == wanted
    assert client.get(reverse("planning:plan", args=[account.pk])).status_code == wanted
    response = jpost(client, f"/api/planning/accounts/{account.pk}/plan/research", {"area": "customer", "text": "Hello"})
    assert response.status_code == wanted
    response = client.post(reverse("planning:plan_edit", args=[account.pk]), {"op": "add_research", "area": "company", "text": "Hi"})
    assert response.status_code == (302 if sees else 404)
    # child records of a plan the caller cannot see are 404 too
    unit = services.add_unit(org.rep_emea, account.pk, planned["ops"].pk)
    response = client.post(reverse("planning:plan_edit", args=[org.accounts["rep_dach"].pk]),
                           {"op": "update_unit", "unit": unit.pk, "goals": "x"})
    assert response.status_code == 404  # rep_dach's account has no plan; and many callers cannot see it at all


def test_no_plan_yet_is_404_in_the_api_and_the_page_offers_to_create_one(client, org):
    account = org.accounts["rep_dach"]
    client.force_login(org.rep_dach)
    assert client.get(f"/api/planning/accounts/{account.pk}/plan").status_code == 404
    assert client.get(reverse("planning:plan", args=[account.pk])).status_code == 302
    page = client.get(reverse("planning:account", args=[account.pk]))
    assert b'data-testid="create-plan"' in page.content
    response = client.post(reverse("planning:plan_edit", args=[account.pk]), {"op": "create"})
    assert response.status_code == 302
    plan = AccountPlan.objects.get(account=account)
    assert plan.created_by == org.rep_dach and plan.title == "rep_dach account account plan"
    assert b'data-testid="open-plan"' in client.get(reverse("planning:account", args=[account.pk])).content


def test_building_a_plan_through_the_page(client, org, planned):
    account = planned["account"]
    url = reverse("planning:plan_edit", args=[account.pk])
    client.force_login(org.manager_emea)
    assert client.post(url, {"op": "add_unit", "plan_unit": planned["ops"].pk, "strategic": "on"}).status_code == 302
    unit = planned["plan"].units.get()
    assert client.post(url, {"op": "update_unit", "unit": unit.pk, "strategic": "on", "goals": "Grow", "pressures": "Cost",
                             "initiatives": "ERP", "obstacles": "Budget"}).status_code == 302
    assert client.post(url, {"op": "add_objective", "kind": "revenue", "unit": unit.pk, "title": "Ops revenue",
                             "target_amount": "50,000"}).status_code == 302
    objective = planned["plan"].objectives.get()
    assert objective.target_amount == Decimal("50000")
    assert client.post(url, {"op": "add_strategy", "objective": objective.pk, "text": "Land the pilot"}).status_code == 302
    strategy = objective.strategies.get()
    assert client.post(url, {"op": "add_action", "strategy": strategy.pk, "title": "Call the COO", "owner": org.rep_emea.pk,
                             "due_date": "2020-01-01"}).status_code == 302
    action = strategy.actions.get()
    page = client.get(reverse("planning:plan", args=[account.pk]))
    assert page.status_code == 200
    assert page.context["scorecard"]["actions_overdue"] == 1
    assert client.post(url, {"op": "update_action", "action": action.pk, "status": "done"}).status_code == 302
    assert client.get(reverse("planning:plan", args=[account.pk])).context["scorecard"]["actions_overdue"] == 0
    bad = client.post(url, {"op": "add_action", "strategy": strategy.pk, "title": "x", "due_date": "tomorrow"})
    assert bad.status_code == 400 and b"is not a date" in bad.content
    assert client.post(url, {"op": "nonsense"}).status_code == 400
    assert client.post(url, {"op": "delete", "kind": "action", "id": action.pk}).status_code == 302
    assert not strategy.actions.exists()


def test_scorecard_counts_won_and_open_revenue_per_unit(org, planned):
    account, plan, ops, it = planned["account"], planned["plan"], planned["ops"], planned["it"]
    rep = org.rep_emea
    in_period = plan.period_start + timedelta(days=30)
    ops_contact, it_contact = make_contact(account, plan_unit=ops), make_contact(account, plan_unit=it)
    won = make_opportunity(rep, account, amount=40000, status="won", close_date=in_period)
    add_contact_role(won, ops_contact, is_primary=True)
    add_contact_role(won, it_contact)
    open_ops = make_opportunity(rep, account, amount=25000, close_date=in_period)
    add_contact_role(open_ops, ops_contact)
    old = make_opportunity(rep, account, amount=99000, status="won", close_date=plan.period_start - timedelta(days=1))
    add_contact_role(old, it_contact, is_primary=True)
    scope_ops = services.add_unit(rep, account.pk, ops.pk, strategic=True)
    services.add_unit(rep, account.pk, it.pk, strategic=True)
    services.add_objective(rep, account.pk, "revenue", "Ops", unit_id=scope_ops.pk, target_amount=100000)
    services.update_plan(rep, account.pk, pipeline_goal=Decimal(150000))
    card = selectors.plan_scorecard(selectors.load_plan(plan.pk))
    # the sample org adds a won deal (closed 10 days ago) and open deals on this account
    sample_won = sum(o.amount for o in account.opportunities.filter(is_won=True, close_date__gte=plan.period_start,
                                                                     close_date__lte=plan.period_end))
    assert card["won_revenue"] == sample_won
    assert Decimal(40000) <= sample_won
    assert card["target_revenue"] == 100000
    assert card["open_pipeline"] == sum(o.amount for o in account.opportunities.filter(is_closed=False))
    assert card["revenue_objectives"][0]["current"] == Decimal(65000)  # won 40k + open 25k for Operations
    assert (card["strategic_units"], card["strategic_units_penetrated"]) == (2, 1)  # IT's only deal closed before the period
    assert card["penetration"] == 0.5
    assert selectors.opportunity_units(account.pk)[won.pk] == ops.pk


def test_plan_page_renders_in_a_fixed_number_of_queries(client, org, planned, django_assert_max_num_queries):
    account = planned["account"]
    for i in range(5):
        unit = services.add_unit(org.rep_emea, account.pk, make_plan_unit(account, f"Unit {i}").pk)
        objective = services.add_objective(org.rep_emea, account.pk, "revenue", f"Objective {i}", unit_id=unit.pk, target_amount=1)
        strategy = services.add_strategy(org.rep_emea, objective.pk, "Strategy")
        services.add_action(org.rep_emea, strategy.pk, "Action", owner_id=org.rep_emea.pk, due_date=date(2030, 1, 1))
    client.force_login(org.rep_emea)
    with django_assert_max_num_queries(60):
        assert client.get(reverse("planning:plan", args=[account.pk])).status_code == 200


def test_priorities_link_the_plans(client, org, planned):
    client.force_login(org.leader)
    rows = {r["account_id"]: r for r in client.get("/api/planning/priorities").json()["items"]}
    assert rows[planned["account"].pk]["has_plan"] is True
    assert rows[org.accounts["rep_dach"].pk]["has_plan"] is False
    page = client.get(reverse("planning:priorities"))
    assert reverse("planning:plan", args=[planned["account"].pk]).encode() in page.content
