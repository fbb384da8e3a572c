"""Call plans (before / after a call, the share planned and effective by rep) and the business case
(ROI, time to first return, payback, fees at risk, export), over the API and the pages, per role."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealpilot.deals.business_case import BenefitsError, figures, parse_benefits
from dealpilot.deals.models import BusinessCase, CallPlan
from dealpilot.deals.selectors import call_plan_report
from tests.factories import make_activity

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def test_business_case_figures():
    f = figures(Decimal(100000), [Decimal(0), Decimal(20000), Decimal(50000), Decimal(60000)], risk_share=Decimal(20),
                fees=Decimal(80000))
    assert f.cumulative == [Decimal(-100000), Decimal(-80000), Decimal(-30000), Decimal(30000)]
    assert f.first_return_period == 2 and f.payback_periods == Decimal("3.5")
    assert f.roi == Decimal("0.3") and f.net_return == Decimal(30000) and f.fees_at_risk == Decimal("16000.00")
    never = figures(Decimal(100000), [Decimal(10000)] * 4)
    assert never.payback_periods is None and never.roi == Decimal("-0.6")
    assert figures(Decimal(0), [Decimal(5)]).roi is None


@pytest.mark.parametrize("text, ok", [("0, 20000, 45000.50", True), ("1 2\n3", True), ("", False), ("12k", False),
                                      ("1e20", False), ("NaN", False), (", ".join(["1"] * 121), False)])
def test_benefits_are_parsed_strictly(text, ok):
    if ok:
        assert all(isinstance(b, Decimal) for b in parse_benefits(text))
    else:
        with pytest.raises(BenefitsError):
            parse_benefits(text)


def plan_payload(**extra):
    return {"call_date": str(TODAY + timedelta(days=2)), "objective": "Agree the pilot scope",
            "our_outcomes": "Pilot scope and sponsor agreed", "customer_outcomes": "A pilot that proves 20% faster delivery",
            "customer_expected_value": "A benchmark of peers", "failure_risks": "The CFO is not in the room",
            "questions": "Who signs?", "insight": "Peers cut order-to-delivery by 18%", "content": "Case study", **extra}


def test_call_plans_over_the_api_and_the_report(client, org):
    deal = org.opportunities["rep_emea"][0]
    client.force_login(org.rep_emea)
    url = f"/api/deals/opportunities/{deal.pk}/call-plans"
    r = client.post(url, json.dumps(plan_payload(contact_id=org.contacts["rep_emea"].pk)), content_type="application/json")
    assert r.status_code == 201, r.content
    plan = r.json()
    assert plan["planned_ahead"] is True and plan["effective"] is None and plan["contact_id"] == org.contacts["rep_emea"].pk
    assert client.post(url, json.dumps(plan_payload(objective="")), content_type="application/json").status_code == 422
    # a contact the rep may not see is refused, not leaked
    hidden = org.contacts["rep_amer"].pk
    assert client.post(url, json.dumps(plan_payload(contact_id=hidden)), content_type="application/json").status_code == 400
    review = client.post(f"/api/deals/call-plans/{plan['id']}/review",
                         json.dumps({"outcome_met": "yes", "advanced": True, "next_step": "Workshop with the CFO"}),
                         content_type="application/json")
    assert review.status_code == 200 and review.json()["effective"] is True
    # a second plan, reviewed as not effective; and calls logged on the deal
    second = client.post(url, json.dumps(plan_payload()), content_type="application/json").json()
    client.post(f"/api/deals/call-plans/{second['id']}/review", json.dumps({"outcome_met": "partly", "advanced": False}),
                content_type="application/json")
    for _ in range(3):
        make_activity(org.rep_emea, kind="call", opportunity=deal, activity_date=TODAY + timedelta(days=2))
    report = client.get("/api/deals/call-plans/report", {"start": str(TODAY + timedelta(days=1)), "end": str(TODAY + timedelta(days=7))}).json()
    mine = next(r for r in report if r["owner_id"] == org.rep_emea.pk)
    assert (mine["calls"], mine["plans"], mine["planned_ahead"], mine["reviewed"], mine["effective"]) == (3, 2, 2, 2, 1)
    assert mine["share_planned"] == pytest.approx(2 / 3) and mine["share_effective"] == 0.5
    assert {r["owner_id"] for r in report} == {org.rep_emea.pk}
    # others: a rep of another team gets 404 on the plan; the EMEA manager sees it in the report
    client.force_login(org.rep_amer)
    assert client.get(f"/api/deals/call-plans/{plan['id']}").status_code == 404
    assert client.get(url).status_code == 404
    assert client.get("/api/deals/call-plans/report", {"start": str(TODAY + timedelta(days=1)), "end": str(TODAY + timedelta(days=7))}).json() == []
    client.force_login(org.manager_emea)
    rows = client.get("/api/deals/call-plans/report", {"start": str(TODAY + timedelta(days=1)), "end": str(TODAY + timedelta(days=7))}).json()
    assert [r["owner_id"] for r in rows] == [org.rep_emea.pk]
    assert client.get("/api/deals/call-plans/report", {"start": "2026-02-01", "end": "2026-01-01"}).status_code == 400


def test_business_case_over_the_api(client, org):
    deal = org.opportunities["rep_dach"][0]
    client.force_login(org.rep_dach)
    url = f"/api/deals/opportunities/{deal.pk}/business-case"
    assert client.get(url).status_code == 404
    body = {"investment": "50000", "period": "quarter", "benefits": ["0", "15000", "30000", "30000"], "risk_share": "25",
            "leading_indicators": ["Pick rate per hour", "Order cycle time"]}
    r = client.put(url, json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.content
    case = r.json()
    assert Decimal(case["roi"]) == Decimal("0.5") and Decimal(case["payback_periods"]) == Decimal("3.2")
    assert Decimal(case["fees_at_risk"]) == Decimal("12500.00")  # 25% of the deal's 50,000
    assert case["leading_indicators"] == ["Pick rate per hour", "Order cycle time"] and case["currency"] == "USD"
    assert client.put(url, json.dumps({**body, "risk_share": "150"}), content_type="application/json").status_code == 422
    assert client.put(url, json.dumps({**body, "benefits": []}), content_type="application/json").status_code == 422
    assert BusinessCase.objects.get(opportunity=deal).risk_share == Decimal(25)
    client.force_login(org.rep_emea)
    assert client.get(url).status_code == 404
    assert client.put(url, json.dumps(body), content_type="application/json").status_code == 404


def test_business_case_page_export_and_print(client, org):
    deal = org.opportunities["rep_dach"][0]
    client.force_login(org.rep_dach)
    url = f"/deals/opportunities/{deal.pk}/business-case/"
    assert client.get(url).status_code == 200
    bad = client.post(url, {"investment": "100", "period": "quarter", "benefits": "12k"})
    assert bad.status_code == 400 and "is not a number" in bad.content.decode()
    assert not BusinessCase.objects.exists()
    r = client.post(url, {"investment": "100000", "period": "month", "benefits": "0, 40000, 40000, 40000",
                          "risk_share": "10", "leading_indicators": "Fewer stock-outs"})
    assert r.status_code == 302
    page = client.get(url).content.decode()
    assert "cumulative-return" in page and 'data-testid="roi">20%' in page and "3.5 months" in page
    csv_text = client.get(url + "export.csv").content.decode()
    assert "Payback (months),3.5" in csv_text and "Month 4,40000.00,20000.00" in csv_text
    printed = client.get(url + "print/").content.decode()
    assert "Fewer stock-outs" in printed and "mainnav" not in printed
    client.force_login(org.rep_amer)
    assert client.get(url + "export.csv").status_code == 404 and client.get(url + "print/").status_code == 404


def test_call_plan_pages(client, org):
    deal = org.opportunities["rep_amer"][0]
    client.force_login(org.rep_amer)
    url = f"/deals/opportunities/{deal.pk}/call-plans/"
    r = client.post(url, {"call_date": str(TODAY), "objective": "", "our_outcomes": ""})
    assert r.status_code == 400 and not CallPlan.objects.exists()
    r = client.post(url, {"call_date": str(TODAY), "objective": "Meet the CFO", "our_outcomes": "Budget confirmed"})
    assert r.status_code == 302
    plan = CallPlan.objects.get()
    r = client.post(f"/deals/call-plans/{plan.pk}/", {"action": "review", "outcome_met": "yes", "advanced": "yes",
                                                        "next_step": "Send the business case"})
    assert r.status_code == 302
    plan.refresh_from_db()
    assert plan.effective and plan.next_step == "Send the business case"
    report = client.get("/deals/call-plans/report/").content.decode()
    assert "Andy Rep" in report and "100%" in report
    client.force_login(org.rep_dach)
    assert client.get(f"/deals/call-plans/{plan.pk}/").status_code == 404
    assert client.get(url).status_code == 404
    client.force_login(org.enablement)
    assert client.get("/deals/call-plans/report/").status_code == 404


def test_the_report_counts_in_a_fixed_number_of_queries(org, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        rows = call_plan_report(org.leader, TODAY - timedelta(days=90), TODAY)
    assert {r.name for r in rows} == {"Erik Rep", "Dora Rep", "Andy Rep"}  # their calls in the sample org
