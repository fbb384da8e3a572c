"""The bell in a real browser (Debian's chromium): a manager sees the unread count after a deal in the
team closes lost, opens the alerts, follows one to the deal, marks them read and the count goes."""

import pytest
from django.utils import timezone

from dealpilot.crm import services as crm_services
from dealpilot.notifications import alerts
from tests.browser import chromium_page, log_in
from tests.factories import build_sample_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db):
    org = build_sample_org()
    alerts.scan()  # the baseline
    for name in ("rep_dach", "rep_emea"):
        deal = org.opportunities[name][0]
        crm_services.update_opportunity(org.user(name), deal.pk, expected_version=None, stage="Closed Lost",
                                        lost_reason="Price", close_comment="They went with the cheaper offer.")
    alerts.scan(timezone.now() + timezone.timedelta(minutes=5))
    return org


def test_a_manager_reads_the_bell(org, live_server, monkeypatch, tmp_path):
    from playwright.sync_api import expect

    with chromium_page(monkeypatch) as page:
        log_in(page, live_server, "manager_emea")
        bell = page.get_by_role("link", name="Alerts: 2 unread")
        expect(bell).to_be_visible()
        expect(page.get_by_test_id("unread-alerts")).to_have_text("2")
        bell.click()
        expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
        expect(page.locator(".alert-item.is-unread")).to_have_count(2)
        page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
        page.locator(".alert-item", has_text="rep_dach open deal").get_by_role("button", name="Mark read").click()
        expect(page.get_by_test_id("unread-alerts")).to_have_text("1")
        page.locator(".alert-item", has_text="rep_emea open deal").get_by_role("link").first.click()
        assert "/opportunities/" in page.url
        page.goto(live_server.url + "/notifications/")
        page.get_by_role("button", name="Mark all 1 read").click()
        expect(page.get_by_test_id("unread-alerts")).to_have_count(0)
        expect(page.get_by_role("link", name="Alerts", exact=True)).to_be_visible()
