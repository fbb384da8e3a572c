"""A real browser (Debian's chromium) on guided selling: a rep moves a deal forward past open exit
criteria, sees what is open, gives a reason (kept on the deal), and adds a step to the deal's
mutual action plan; the sales leader reads the stages page. No JavaScript errors on any page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.crm.models import Opportunity
from dealpilot.deals.models import MutualPlanStep, StageOverride
from tests.browser import chromium_page
from tests.deals.test_browser import log_in
from tests.factories import build_showcase_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def showcase(transactional_db):
    data = build_showcase_org()
    data["qualifying"] = Opportunity.objects.filter(stage="Qualification", is_closed=False).select_related("owner", "account") \
        .order_by("pk").first()
    return data


@pytest.fixture
def page(showcase, live_server, monkeypatch):
    with chromium_page(monkeypatch, timeout_ms=20_000, allow_4xx_pages=True) as page:  # the refused move is a 400
        yield page


def test_a_rep_moves_a_deal_on_with_a_reason_and_adds_a_mutual_plan_step(page, live_server, showcase, tmp_path):
    from playwright.sync_api import expect

    deal = showcase["qualifying"]
    log_in(page, live_server, deal.owner.username)
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    checklist = page.locator("[data-testid=stage-checklist]")
    expect(checklist).to_contain_text("Exit criteria: Qualification")
    expect(checklist.locator("[data-testid=criteria-count]")).to_have_text("0 of 3 met")
    # answering qualification (htmx) checks the criterion at once
    page.select_option("#q-budget_confirmed", "yes")
    page.click("[data-testid=qualification-form] button[type=submit]")
    expect(checklist.locator("[data-testid=criteria-count]")).to_have_text("1 of 3 met")

    # move it forward: refused, with what is open, and a reason asked for
    page.locator("#edit summary").click()
    page.fill("#id_stage", "Needs Analysis")
    page.locator("[data-testid=opportunity-edit] button[type=submit]").click()
    alert = page.locator("[data-testid=opportunity-edit] [role=alert]")
    expect(alert).to_contain_text("with exit criteria open: Decision maker identified, Compelling event. Give a reason")
    expect(page.locator("#id_stage")).to_have_value("Needs Analysis")
    expect(checklist.locator("li[data-done=no]")).to_have_count(2)
    page.screenshot(path=str(tmp_path / "move-refused.png"), full_page=True)

    page.fill("#id_stage_reason", "The COO confirmed budget and timing on today's call; notes follow")
    page.locator("[data-testid=opportunity-edit] button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("Saved the opportunity.")
    expect(checklist).to_contain_text("Exit criteria: Needs Analysis")
    overrides = checklist.locator("[data-testid=stage-overrides]")
    overrides.locator("summary").click()
    expect(overrides).to_contain_text("Qualification → Needs Analysis")
    expect(overrides).to_contain_text("reason: “The COO confirmed budget and timing on today's call; notes follow”")

    # a step of the mutual plan, owned by the buyer
    plan = page.locator("[data-testid=mutual-plan]")
    expect(plan).to_contain_text("No steps yet")
    add = plan.locator("[data-testid=add-step]")
    add.locator("#new-step-title").fill("Security review with IT")
    add.locator("#new-step-side").select_option("buyer")
    add.locator("#new-step-buyer").select_option(label="Mia Schneider (Director of IT)")
    due = timezone.localdate() + timedelta(days=14)
    add.locator("#new-step-due").fill(due.isoformat())
    add.get_by_role("button", name="Add step").click()
    expect(page.locator(".messages")).to_contain_text("Mutual plan saved.")
    row = plan.locator("tr[data-step]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Security review with IT")
    expect(row).to_contain_text("Buyer's side: Mia Schneider")
    expect(plan.locator("[data-testid=plan-exports]")).to_contain_text("PDF")
    page.screenshot(path=str(tmp_path / "mutual-plan.png"), full_page=True)

    assert StageOverride.objects.get(opportunity=deal).overridden_by == deal.owner
    assert MutualPlanStep.objects.get(plan__opportunity=deal).buyer.last_name == "Schneider"


def test_the_leader_enforces_a_stage_on_the_stages_page(page, live_server, showcase, tmp_path):
    from playwright.sync_api import expect

    log_in(page, live_server, showcase["leader"].username)
    page.goto(live_server.url + "/deals/stages/")
    stage = page.locator("[data-testid=stage][data-stage=Qualification]")
    expect(stage.locator("input[value='Budget confirmed']")).to_be_visible()
    stage.locator("input[type=checkbox][name$=enforce]").check()
    stage.get_by_role("button", name="Save Qualification").click()
    expect(page.locator(".messages")).to_contain_text("Saved Qualification.")
    expect(page.locator("[data-testid=stage][data-stage=Qualification] .badge")).to_have_text("Enforced")
    page.screenshot(path=str(tmp_path / "stages.png"), full_page=True)
