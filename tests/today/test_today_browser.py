"""Today in a real browser (Debian's chromium): a rep logs in and lands on it, sees why each item is there,
dismisses one with a reason, snoozes another, brings it back, and follows an action to the deal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.crm import activities
from tests.browser import chromium_page, log_in
from tests.factories import build_sample_org, make_opportunity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db):
    org = build_sample_org()
    today = timezone.localdate()
    deal = org.opportunities["rep_dach"][0]
    activities.create_next_step(org.rep_dach, subject="Send the pricing", opportunity_id=deal.pk, due_date=today - timedelta(days=3))
    activities.create_next_step(org.rep_dach, subject="Book the workshop room", opportunity_id=deal.pk, due_date=today)
    make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Late renewal", stage="Negotiation", amount=90000,
                     close_date=today - timedelta(days=4))
    return org


@pytest.fixture
def page(org, live_server, monkeypatch):
    with chromium_page(monkeypatch, allow_4xx_pages=True) as page:
        yield page


def test_a_rep_lands_on_today_and_works_through_it(page, live_server, org, tmp_path):
    from playwright.sync_api import expect

    log_in(page, live_server, "rep_dach")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    items = page.get_by_test_id("today-item")
    first = items.first
    expect(first).to_contain_text("Send the pricing")
    expect(first).to_contain_text("3 days overdue")
    expect(page.locator("[data-kind=deal_risk]", has_text="Late renewal")).to_contain_text("Close date passed")
    page.screenshot(path=str(tmp_path / "today.png"), full_page=True)
    count = items.count()

    # dismiss the overdue step: a reason is asked for, and the item leaves the list
    first.get_by_text("Not now…").click()
    first.get_by_placeholder("e.g. the buyer is on holiday").fill("Sent by e-mail yesterday, forgot to log it")
    first.get_by_role("button", name="Dismiss").click()
    expect(page.locator(".message-success")).to_contain_text("Dismissed")
    expect(items).to_have_count(count - 1)
    expect(page.get_by_test_id("today-list")).not_to_contain_text("Send the pricing")

    # snooze the next one for a week, then bring it back from "Set aside"
    step = page.locator("[data-testid=today-item]", has_text="Book the workshop room")
    step.get_by_text("Not now…").click()
    step.get_by_role("button", name="Snooze").click()
    expect(page.get_by_test_id("today-list")).not_to_contain_text("Book the workshop room")
    page.get_by_role("link", name="Show").click()
    page.locator("li", has_text="Book the workshop room").get_by_role("button", name="Bring back").click()
    expect(page.get_by_test_id("today-list")).to_contain_text("Book the workshop room")

    # the action leads where the work is done: the deal's log panel
    page.locator("[data-testid=today-item]", has_text="Book the workshop room").get_by_role("link", name="Do it and log the activity").click()
    expect(page.locator("#log")).to_be_visible()
    assert "/opportunities/" in page.url and page.url.endswith("#log")
