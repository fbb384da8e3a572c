"""A real browser (Debian's chromium through Playwright) against a live server: log in, filter
the opportunities with htmx, open an opportunity and its account, sort the accounts, import.

The screenshot goes to pytest's tmp_path; with DEALPILOT_SCREENSHOT=1 it replaces
docs/screenshot.png (the one in the README)."""

import os
import re
from pathlib import Path

import pytest

from tests.browser import chromium_page
from tests.exports import small_salesforce_export, zip_folder
from tests.factories import PASSWORD, build_showcase_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"


@pytest.fixture
def showcase(transactional_db):
    return build_showcase_org()


@pytest.fixture
def page(showcase, live_server, monkeypatch):
    with chromium_page(monkeypatch) as page:
        yield page


def screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("DEALPILOT_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        return README_SCREENSHOT
    return tmp_path / "screenshot.png"


def test_log_in_filter_open_an_opportunity_and_its_account(page, live_server, showcase, tmp_path):
    from playwright.sync_api import expect

    # anonymous: the home page asks for a login, which lands on Today; the opportunity list is one click away
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.screenshot(path=str(tmp_path / "login.png"))
    page.fill("#id_username", showcase["leader"].username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/today/$"))
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Opportunities").click()
    expect(page).to_have_url(re.compile(r"/opportunities/$"))
    expect(page.get_by_role("heading", name="Opportunities")).to_be_visible()
    expect(page.locator(".usermenu")).to_contain_text("Claire Donovan")
    expect(page.locator(".usermenu")).to_contain_text("Sales leader")
    rows = page.locator("[data-testid=opportunity-table] tbody tr")
    expect(rows).to_have_count(25)  # 30 deals, 25 a page
    assert page.evaluate("typeof htmx") == "object"

    # filter with htmx: the results change and the address follows, without a page load
    page.evaluate("window.__sameDocument = true")
    page.select_option("#id_status", "open")
    expect(page).to_have_url(re.compile(r"status=open"))
    expect(page.locator("[data-testid=opportunity-totals]")).to_contain_text("Opportunities")
    open_count = rows.count()
    assert 0 < open_count < 25
    for i in range(open_count):
        expect(rows.nth(i).locator(".badge-open")).to_have_text("Open")
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(screenshot_path(tmp_path)), full_page=False)

    page.select_option("#id_stage", "Negotiation")
    expect(page).to_have_url(re.compile(r"stage=Negotiation"))
    expect(rows.first.locator(".badge-stage")).to_have_text("Negotiation")
    for i in range(rows.count()):
        expect(rows.nth(i).locator(".badge-stage")).to_have_text("Negotiation")

    # the pushed address is a real page: reloading it gives the same filtered list
    page.reload()
    expect(page.locator("#id_stage")).to_have_value("Negotiation")
    expect(rows.first.locator(".badge-stage")).to_have_text("Negotiation")

    # open the showcase deal
    deal = showcase["opportunity"]
    page.get_by_role("link", name=str(deal), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/opportunities/{deal.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(str(deal))
    expect(page.locator("#stage-history .timeline li")).to_have_count(5)
    expect(page.locator("#contact-roles")).to_contain_text("Decision maker")
    expect(page.locator("#line-items")).to_contain_text("Dealpilot Platform")
    page.screenshot(path=str(tmp_path / "opportunity.png"), full_page=True)

    # and its account
    page.locator(".page-header .subtitle a").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{showcase['account'].pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind Logistics")
    expect(page.locator("#contacts")).to_contain_text("Olivia Chen")
    expect(page.locator("#plan-units")).to_contain_text("Operations")
    expect(page.locator("#opportunities tbody tr")).to_have_count(3)
    page.screenshot(path=str(tmp_path / "account.png"), full_page=True)

    # the accounts list, sorted by pipeline through a column header
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    expect(page.locator("[data-testid=account-table] tbody tr")).to_have_count(10)
    page.get_by_role("link", name="Open pipeline").click()
    expect(page).to_have_url(re.compile(r"sort=pipeline"))
    page.screenshot(path=str(tmp_path / "accounts.png"), full_page=True)
    page.select_option("#id_region", "EMEA")  # a filter change keeps the sort chosen by the header
    expect(page).to_have_url(re.compile(r"region=EMEA.*sort=pipeline|sort=pipeline.*region=EMEA"))
    expect(page.locator("[data-testid=account-table] tbody tr")).to_have_count(4)

    # a leader imports a Salesforce export (the test settings run the task inline)
    export = zip_folder(small_salesforce_export(tmp_path / "sf"), tmp_path / "salesforce-export.zip")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    page.set_input_files("#id_export", str(export))
    page.get_by_role("button", name="Upload and import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    expect(page.locator("#run-status")).to_have_attribute("data-status", "done")
    expect(page.locator("#run-status")).to_contain_text("Opportunity.csv")
    page.screenshot(path=str(tmp_path / "import-run.png"), full_page=True)
