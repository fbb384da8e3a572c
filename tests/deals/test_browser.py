"""A real browser (Debian's chromium) on the opportunity page: the computed probability beside the
rep's, reasons, vulnerabilities and buying-group coverage; answering qualification with htmx
changes the reasons and keeps the history. No JavaScript errors on any page."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from dealpilot.crm.models import ContactRole
from tests.factories import PASSWORD, add_contact_role, make_activity, make_contact, build_showcase_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


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
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield page
        browser.close()
        assert errors == [], errors


def log_in(page, live_server, username):
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/opportunities/$"))


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
