"""Account planning in a real browser (Debian's chromium through Playwright): the quadrant chart
is drawn, rating an element moves the account to another quadrant, and a plan is built step by
step while its completeness rises. No JavaScript errors are allowed (see the `page` fixture)."""

import re

import pytest

from tests.browser import log_in
from tests.web.test_browser import page, showcase  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def low_future_account():
    from dealpilot.planning.selectors import priority_rows
    from dealpilot.planning.scoring import measure_cache

    measure_cache.clear()
    return next(r for r in priority_rows(None) if r["quadrant"] in ("C", "D"))


def test_priorities_chart_and_rating_moves_the_quadrant(page, live_server, showcase):  # noqa: F811
    from playwright.sync_api import expect

    target = low_future_account()
    log_in(page, live_server, showcase["leader"].username)
    page.click("nav.mainnav >> text=Priorities")
    expect(page).to_have_url(re.compile(r"/planning/$"))
    expect(page.locator("#quadrants.chart-plot.chart-ready")).to_be_visible(timeout=60_000)  # plotly.js on a busy machine
    expect(page.locator("#quadrants .scatterlayer .point")).to_have_count(10)
    expect(page.locator("[data-testid=priority-table] tbody tr")).to_have_count(10)

    page.click(f"[data-testid=priority-table] >> text={target['account']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(target["account"])
    expect(page.locator("[data-testid=quadrant]")).to_have_text(target["quadrant"])
    before = float(page.locator("[data-testid=future-score]").inner_text())
    for key in ("business_profile", "solution_fit", "strategic_value"):
        page.select_option(f"[data-testid=rate-{key}]", "high")
        with page.expect_navigation():
            page.locator(f"#element-{key} button[type=submit]").click()
        expect(page.locator(f"[data-testid=rate-{key}]")).to_have_value("high")
    after = float(page.locator("[data-testid=future-score]").inner_text())
    assert after == pytest.approx(before + 40, abs=0.1)  # weights 15 + 15 + 10 of 100, each now 100 points
    wanted = {"C": "A", "D": "B"}[target["quadrant"]]
    expect(page.locator("[data-testid=quadrant]")).to_have_text(wanted)
    expect(page.locator("#element-solution_fit")).to_contain_text("Claire Donovan")


def test_building_a_plan_raises_its_completeness(page, live_server, showcase):  # noqa: F811
    from playwright.sync_api import expect

    account = showcase["account"]
    log_in(page, live_server, "sofia.rep")  # Northwind's owner
    page.goto(f"{live_server.url}/planning/accounts/{account.pk}/")
    page.click("[data-testid=create-plan]")
    expect(page).to_have_url(re.compile(rf"/planning/accounts/{account.pk}/plan/"))
    completeness = page.locator("[data-testid=completeness]")

    def percent() -> int:
        return int(completeness.inner_text().rstrip("%"))

    steps = [percent()]
    page.select_option("#add-unit", label="Operations")
    page.check("#units form.filters input[name=strategic]")
    with page.expect_navigation():
        page.click("text=Add unit")
    expect(page.locator("[data-unit=Operations]")).to_be_visible()
    steps.append(percent())

    unit = page.locator("[data-unit=Operations]")
    unit.locator("textarea[name=goals]").fill("Cut order-to-delivery time by 20%")
    unit.locator("textarea[name=pressures]").fill("Peak season")
    with page.expect_navigation():
        unit.locator("button[type=submit]").click()
    expect(page.locator("[data-unit=Operations] textarea[name=goals]")).to_have_value("Cut order-to-delivery time by 20%")
    steps.append(percent())

    page.select_option("#o-kind", "revenue")
    page.select_option("#o-unit", label="Operations")
    page.fill("#o-title", "Grow operations")
    page.fill("#o-target", "150000")
    with page.expect_navigation():
        page.click("text=Add objective")
    expect(page.locator("#objectives")).to_contain_text("Grow operations")
    steps.append(percent())

    page.fill("input[aria-label='New strategy for Grow operations']", "Land the pilot with the COO")
    with page.expect_navigation():
        page.click("text=Add strategy")
    expect(page.locator("#objectives")).to_contain_text("Land the pilot with the COO")
    page.fill("input[aria-label='New action for Land the pilot with the COO']", "Workshop on delivery times")
    page.fill("input[aria-label='Due date']", "2030-01-15")
    with page.expect_navigation():
        page.click("text=Add action")
    expect(page.locator("#objectives")).to_contain_text("Workshop on delivery times")
    steps.append(percent())
    assert steps == sorted(steps) and steps[-1] > steps[0], steps
    assert len(set(steps)) == len(steps), steps  # every step moved it
    expect(page.locator("[data-testid=missing]")).not_to_contain_text("No plan unit chosen")
    expect(page.locator("[data-testid=scorecard]")).to_contain_text("150,000")

    # the people map of the same account: its org chart is drawn, and a white-space click makes a lead
    page.click("nav.account-tabs >> text=People & relationships")
    expect(page.locator("#org-chart.chart-plot.chart-ready")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=people-table] tbody tr")).to_have_count(5)
    page.click("nav.account-tabs >> text=White space")
    first_lead = page.locator("[data-testid^=lead-]").first
    with page.expect_navigation():
        first_lead.click()
    expect(page.locator("[data-testid=leads] tbody tr")).to_have_count(1)
    expect(page.locator("[data-testid=leads]")).to_contain_text("Open")
