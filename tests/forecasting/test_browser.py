"""The weekly forecast call in a real browser (Debian's chromium through Playwright) against a live server,
under the app's Content-Security-Policy: a rep submits their call and moves a deal to commit, their
manager overrides the rep's call and submits the team's, the sales leader submits the organisation's."""

import re

import pytest

from tests.browser import chromium_page
from tests.factories import PASSWORD, build_showcase_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def showcase(transactional_db):
    return build_showcase_org()


@pytest.fixture
def page(showcase, live_server, monkeypatch):
    # the first forecast page compiles the stage-weighted forecast (Ibis) and scores the deals: seconds on a busy machine
    with chromium_page(monkeypatch, navigation_timeout_ms=60_000) as page:
        yield page


def log_in(page, live_server, username):
    from playwright.sync_api import expect

    page.context.clear_cookies()
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forecast").click()


def test_rep_manager_and_leader_submit_and_the_manager_overrides(page, live_server, tmp_path):
    from playwright.sync_api import expect

    # the rep: a deal to commit, then the call the categories imply
    log_in(page, live_server, "sofia.rep")
    expect(page.get_by_role("heading", name="Forecast: Sofia Marino")).to_be_visible()
    expect(page.locator("#forecast-calls")).to_have_class(re.compile(r"chart-ready"), timeout=30_000)
    expect(page.locator("#forecast-calls .main-svg").first).to_be_visible()
    expect(page.get_by_test_id("rests-on")).to_contain_text("open")
    category = page.get_by_test_id("category-form").first
    if category.count():  # an open deal closing this quarter (the showcase's dates follow today)
        category.locator("select").select_option("commit")
        category.get_by_role("button", name="Set").click()
        expect(page.locator(".messages")).to_contain_text("is now commit")
    page.get_by_test_id("call-form").get_by_role("button", name="Submit my call").click()
    expect(page.locator(".messages")).to_contain_text("Your call for")
    expect(page.get_by_test_id("call-history")).to_contain_text("Sofia Marino")
    page.screenshot(path=str(tmp_path / "forecast-rep.png"), full_page=True)

    # the manager: Sofia's call in the roll-up; override it with a note; then the team's call
    log_in(page, live_server, "henrik.mgr")
    rollup = page.get_by_test_id("rollup")
    sofia = rollup.locator("[data-testid=rollup-row]", has_text="Sofia Marino")
    expect(sofia.locator(".badge-call")).to_be_visible()
    expect(rollup.locator("[data-testid=rollup-row]", has_text="Jonas Berg")).to_contain_text("no call")
    sofia.locator("summary", has_text="Override").click()
    form = sofia.locator("form")
    # (a refusal, e.g. without a note, answers 400 with the form as typed: tests/forecasting/test_pages.py)
    form.get_by_label("Commit").fill("1000")
    form.get_by_label("Best case").fill("5000")
    form.get_by_label("Note").fill("The pilot slipped to January")
    form.get_by_role("button", name="Override").click()
    expect(page.locator(".messages")).to_contain_text("Your override of Sofia Marino's call")
    sofia = page.get_by_test_id("rollup").locator("[data-testid=rollup-row]", has_text="Sofia Marino")
    expect(sofia).to_contain_text("override by Henrik Lund")
    expect(sofia).to_contain_text("1,000 / 5,000")
    page.get_by_test_id("call-form").get_by_role("button", name="Submit my call").click()
    expect(page.locator(".messages")).to_contain_text("Your call for")
    expect(page.get_by_test_id("kpi-call")).to_contain_text("Henrik Lund")
    page.screenshot(path=str(tmp_path / "forecast-manager.png"), full_page=True)

    # the leader: Henrik's team call in the roll-up; the organisation's call, adjusted with a note
    log_in(page, live_server, "claire.leader")
    henrik = page.get_by_test_id("rollup").locator("[data-testid=rollup-row]", has_text="Henrik Lund")
    expect(henrik.locator(".badge-call")).to_be_visible()
    form = page.get_by_test_id("call-form")
    commit = form.get_by_label("Commit").input_value()
    form.get_by_label("Commit").fill(str(int(float(commit)) + 500))
    form.get_by_label("Best case").fill(str(int(float(commit)) + 100000))
    form.get_by_label("Note").fill("Upside from the Americas renewal")
    form.get_by_role("button", name="Submit my call").click()
    expect(page.locator(".messages")).to_contain_text("Your call for")
    expect(page.get_by_test_id("call-history")).to_contain_text("Upside from the Americas renewal")
    expect(page.locator("#forecast-calls")).to_have_class(re.compile(r"chart-ready"), timeout=30_000)
    page.get_by_test_id("forecast-chart").get_by_text("Numbers").click()
    expect(page.locator("[data-testid=forecast-chart] .chart-numbers table")).to_contain_text("model_p90")
    page.screenshot(path=str(tmp_path / "forecast-leader.png"), full_page=True)
