"""A real browser (Debian's chromium) on the opportunity page: the computed probability beside the
rep's, reasons, vulnerabilities and buying-group coverage; answering qualification with htmx
changes the reasons and keeps the history. No JavaScript errors on any page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.crm.models import ContactRole
from tests.browser import chromium_page, log_in
from tests.factories import (
    add_contact_role,
    build_showcase_org,
    make_activity,
    make_contact,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def showcase(transactional_db):
    data = build_showcase_org()
    deal = data["opportunity"]
    # a gatekeeper stall on the showcase deal: five follow-ups with the procurement manager
    gatekeeper = make_contact(deal.account, first_name="Sally", last_name="Stall", title="Procurement Manager")
    add_contact_role(deal, gatekeeper, ContactRole.EVALUATOR)
    today = timezone.localdate()
    for i in range(5):
        make_activity(deal.owner, kind="call", opportunity=deal, contact=gatekeeper, direction="outbound",
                      activity_date=today - timedelta(days=20 - 4 * i), subject=f"Follow-up {i + 1}")
    return data


@pytest.fixture
def page(showcase, live_server, monkeypatch):
    with chromium_page(monkeypatch, timeout_ms=20_000) as page:
        yield page




def test_the_opportunity_page_explains_the_deal_and_takes_qualification(page, live_server, showcase, tmp_path):
    from playwright.sync_api import expect

    deal = showcase["opportunity"]
    log_in(page, live_server, deal.owner.username)
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    panel = page.locator("[data-testid=deal-intelligence]")
    expect(panel.locator("[data-testid=model-probability]")).to_have_text(re.compile(r"^\d+%$"))
    expect(panel.locator("[data-testid=rep-probability]")).to_have_text("80%")
    expect(panel.locator("[data-testid=probability-method]")).to_have_text("Knowledge rules")
    expect(panel.locator("[data-testid=probability-note]")).to_contain_text("too little closed-deal history")
    expect(panel.locator("[data-testid=vulnerabilities]")).to_contain_text("Gatekeeper stall")
    expect(panel.locator("[data-testid=vulnerabilities]")).to_contain_text("5 follow-ups with Sally Stall")
    expect(panel.locator("[data-testid=vulnerabilities]")).to_contain_text("who decides")
    expect(panel.locator("[data-testid=buying-group] tr[data-group=decision_maker]")).to_contain_text("Olivia Chen")
    expect(panel.locator("[data-testid=reasons-down]")).to_contain_text("mid-level contact")
    page.screenshot(path=str(tmp_path / "deal-before.png"), full_page=True)

    # answer qualification with htmx: the panel is swapped in place, the reasons follow the answers
    page.evaluate("window.__sameDocument = true")
    page.select_option("#q-budget_confirmed", "yes")
    page.select_option("#q-org_change", "small")
    page.click("[data-testid=qualification-form] button[type=submit]")
    expect(panel.locator("[data-testid=reasons-up]")).to_contain_text("organisational change is small")
    expect(page.locator("[data-testid=qualification-history]")).to_contain_text("Answer history (2)")
    assert page.evaluate("window.__sameDocument") is True  # no full page load
    assert page.locator("#q-budget_confirmed").input_value() == "yes"

    page.reload()
    page.locator("[data-testid=qualification-history] summary").click()
    expect(page.locator("[data-testid=qualification-history]")).to_contain_text("Budget confirmed: not answered → yes")
    page.screenshot(path=str(tmp_path / "deal-after.png"), full_page=True)


def test_the_leader_reads_the_rules_and_the_model_page(page, live_server, showcase):
    from playwright.sync_api import expect

    log_in(page, live_server, showcase["leader"].username)
    page.goto(live_server.url + "/deals/rules/")
    expect(page.locator("[data-testid=rules-table]")).to_contain_text("budget says little here")
    expect(page.locator("#id_yaml")).to_contain_text("gatekeeper_followups: 4")
    page.goto(live_server.url + "/deals/model/")
    expect(page.locator("[data-testid=no-model]")).to_be_visible()
    page.click("[data-testid=train]")
    expect(page.locator("[data-testid=runs]")).to_contain_text("Too little history")


def test_call_plan_and_business_case_end_to_end(page, live_server, showcase, tmp_path):
    from playwright.sync_api import expect

    deal = showcase["opportunity"]
    log_in(page, live_server, deal.owner.username)
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    page.get_by_role("link", name="Call plans (0)").click()

    # before the call
    form = page.locator("[data-testid=call-plan-form]")
    form.locator("#id_objective").fill("Agree the pilot scope with the COO")
    form.locator("#id_our_outcomes").fill("Pilot scope, sponsor and success measures agreed")
    form.locator("#id_customer_outcomes").fill("A pilot that proves 20% faster order-to-delivery")
    form.locator("#id_customer_expected_value").fill("A benchmark of how peers cut delivery times")
    form.locator("#id_failure_risks").fill("The COO delegates to procurement")
    form.locator("#id_contact").select_option(label="Olivia Chen")
    form.get_by_role("button", name="Save plan").click()
    expect(page.get_by_role("heading", name="Agree the pilot scope with the COO")).to_be_visible()
    expect(page.locator("[data-testid=call-plan-before]")).to_contain_text("The COO delegates to procurement")

    # after the call
    review = page.locator("[data-testid=call-review-form]")
    review.locator("#id_outcome_met").select_option("yes")
    review.locator("#id_advanced").select_option("yes")
    review.locator("#id_next_step").fill("Send the business case")
    review.get_by_role("button", name="Save review").click()
    expect(page.locator("[data-testid=call-effective]")).to_have_text("Effective")
    page.goto(f"{live_server.url}/deals/call-plans/report/")
    expect(page.locator("[data-testid=call-plan-report]")).to_contain_text("Sofia Marino")

    # the business case, its chart and the customer's copy
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    page.get_by_role("link", name="Build a business case").click()
    case = page.locator("[data-testid=business-case-form]")
    case.locator("#id_investment").fill("120000")
    case.locator("#id_period").select_option("quarter")
    case.locator("#id_benefits").fill("0, 30000, 60000, 60000")
    case.locator("#id_risk_share").fill("20")
    case.locator("#id_leading_indicators").fill("Order-to-delivery time\nOn-time shipments")
    case.get_by_role("button", name="Save business case").click()
    expect(page.locator("[data-testid=roi]")).to_have_text("25%")
    expect(page.locator("[data-testid=payback]")).to_have_text("3.5 quarters")
    expect(page.locator("#cumulative-return.chart-ready")).to_be_visible(timeout=30_000)  # plotly drew the chart
    page.screenshot(path=str(tmp_path / "business-case.png"), full_page=True)
    page.locator("[data-testid=print-case]").click()
    expect(page.get_by_role("heading", name=f"Business case: {deal.name}")).to_be_visible()
    expect(page.locator("body")).to_contain_text("On-time shipments")
    expect(page.locator("#cumulative-return.chart-ready")).to_be_visible(timeout=30_000)
