"""Enablement in a real browser (Debian's chromium through Playwright) against a live server:
authoring a module with the value-proposition hints, suggestions with reasons on an opportunity
page, recording a use and rating it, and the rating refused for the author."""

from __future__ import annotations

import re

import pytest

from dealpilot.enablement.models import ContentModule, ContentRating
from tests.browser import chromium_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(library, live_server, monkeypatch):
    with chromium_page(monkeypatch) as page:
        yield page




def test_authoring_a_module_with_the_value_proposition_hints(page, live_server, org, tmp_path):
    from playwright.sync_api import expect

    log_in(page, live_server, "enablement")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Content").click()
    expect(page.get_by_role("heading", name="Content library")).to_be_visible()
    page.get_by_role("link", name="New module").click()
    page.fill("#id_title", "Close faster: a value message for finance leaders")
    page.select_option("#id_kind", "value_message")
    page.select_option("#id_status", "published")
    page.fill("#id_message_template", "{account} can close its books faster: {challenge} ends within one quarter.")
    page.get_by_label("Buying").check()
    page.get_by_label("Economic buyer").check()
    hints = page.locator("#vp-hints")
    # the hints follow the statement as the author types (htmx)
    page.fill("#id_value_proposition", "We make finance better.")
    expect(hints.locator("[data-question=measurable]")).to_contain_text("No number yet")
    expect(hints.locator("[data-question=time_bound]")).to_contain_text("No period yet")
    page.fill("#id_value_proposition", "Cut month-end close from 12 to 5 days within one quarter.")
    expect(hints.locator("[data-question=measurable]")).to_contain_text("Names a number and a metric.")
    expect(hints.locator("[data-question=time_bound]")).to_contain_text("Names a period.")
    expect(hints.locator("[data-question=memorable]")).to_have_class("hint-ok")
    page.fill("#id_vp_different", "The only one that reconciles all three ERPs.")
    page.screenshot(path=str(tmp_path / "authoring.png"), full_page=True)
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Close faster: a value message for finance leaders")
    expect(page.locator(".subtitle [data-testid=credit]")).to_have_text("By Eve Enablement")
    expect(page.locator("#vp-test")).to_contain_text("The only one that reconciles all three ERPs.")
    module = ContentModule.objects.get(title__startswith="Close faster")
    assert module.status == "published" and set(module.tags.values_list("value", flat=True)) == {"buying", "economic_buyer"}


def test_suggestions_on_the_deal_a_use_and_a_rating(page, live_server, org, library, tmp_path):
    from playwright.sync_api import expect

    deal = org.opportunities["rep_emea"][0]
    log_in(page, live_server, "rep_emea")
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    panel = page.locator("[data-testid=suggested-content]")
    expect(panel).to_be_visible()
    first = panel.locator("[data-testid=suggestion]").first
    expect(first.locator("h3")).to_have_text(library.value_message.title)
    expect(first.locator("[data-testid=reasons]")).to_contain_text("Speaks to the decision maker in the buying group")
    expect(first.locator("[data-testid=value-message]")).to_contain_text("Dana Decider, rep_emea account loses output")
    expect(first.locator("[data-testid=credit]")).to_have_text("By Eve Enablement")
    expect(panel).not_to_contain_text(library.retail.title)
    page.screenshot(path=str(tmp_path / "suggestions.png"), full_page=True)

    first.get_by_role("button", name="Used with this customer").click()
    expect(page.locator(".messages")).to_contain_text("Recorded: used with the customer.")
    expect(page).to_have_url(re.compile(rf"/opportunities/{deal.pk}/$"))

    page.locator("[data-testid=suggestion]").first.locator("h3 a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(library.value_message.title)
    page.select_option("#id_stars", "5")
    page.fill("input[name=comment]", "The COO asked for the numbers")
    page.get_by_role("button", name="Rate").click()
    expect(page.locator("[data-testid=rating-summary]")).to_have_text("5.0 / 5 from 1 rating that count")
    assert ContentRating.objects.get().user == org.rep_emea


def test_the_author_cannot_rate_their_own_module(page, live_server, org, library):
    from playwright.sync_api import expect

    log_in(page, live_server, "enablement")
    page.goto(f"{live_server.url}/enablement/modules/{library.case_study.pk}/")
    expect(page.locator("[data-testid=rating-refusal]")).to_have_text("Authors do not rate their own content.")
    expect(page.locator("[data-testid=rate-form]")).to_have_count(0)


def test_the_analytics_chart_draws(page, live_server, org, library):
    from playwright.sync_api import expect

    log_in(page, live_server, "manager_emea")
    page.goto(f"{live_server.url}/enablement/analytics/", timeout=60_000)  # plotly.js is 3.5 MB through the test server
    expect(page.locator("#usage-outcome-chart .main-svg").first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid=caveat]")).to_contain_text("Correlation, not causation")
