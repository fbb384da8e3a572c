"""A rep records a day's work in a real browser (Debian's chromium): creates an account, a contact and an
opportunity, logs a call with a next step, moves the deal a stage past its exit checklist with a reason, and
closes it lost with a reason."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser import chromium_page
from tests.factories import PASSWORD, build_sample_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db):
    return build_sample_org()


@pytest.fixture
def page(org, live_server, monkeypatch):
    with chromium_page(monkeypatch, allow_4xx_pages=True) as page:  # a refused stage move is a real 400
        yield page


def test_a_rep_records_a_deal_from_first_call_to_a_lost_close(page, live_server, org, tmp_path):
    from playwright.sync_api import expect

    from dealpilot.crm.models import Activity, NextStep, Opportunity

    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "rep_dach")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    # a new account, from the accounts list
    page.goto(live_server.url + "/accounts/")
    page.get_by_role("link", name="New account").click()
    page.fill("#id_name", "Brauerei Adler")
    page.fill("#id_industry", "Food & Beverage")
    page.fill("#id_employees", "340")
    page.fill("#id_currency", "EUR")
    page.keyboard.press("Enter")  # keyboard-friendly: Enter saves
    expect(page.get_by_role("heading", name="Brauerei Adler")).to_be_visible()

    # a contact at it
    page.get_by_role("link", name="New contact").click()
    page.fill("#id_first_name", "Anna")
    page.fill("#id_last_name", "Adler")
    page.fill("#id_title", "Head of Operations")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Anna Adler")).to_be_visible()
    page.get_by_role("link", name="Brauerei Adler").first.click()

    # an opportunity at it, with a line of a product
    page.get_by_role("link", name="New opportunity").click()
    page.fill("#id_name", "Brewhouse monitoring")
    page.fill("#id_stage", "Qualification")
    page.fill("#id_amount", "48000")
    page.fill("#id_close_date", (timezone.localdate() + timedelta(days=45)).isoformat())
    page.get_by_role("button", name="Create the opportunity").click()
    expect(page.get_by_role("heading", name="Brewhouse monitoring")).to_be_visible()
    deal = Opportunity.objects.get(name="Brewhouse monitoring")
    assert (deal.owner.username, deal.currency, deal.stage) == ("rep_dach", "EUR", "Qualification")

    # Anna into the buying group, then a call with her and the next step it agreed
    page.select_option("#role-contact", label="Anna Adler · Head of Operations")
    page.select_option("[data-testid=add-contact-role] select[name=role]", "decision_maker")
    page.get_by_role("button", name="Add to the buying group").click()
    expect(page.locator("#contact-roles")).to_contain_text("Decision maker")
    log = page.locator("[data-testid=log-activity]")
    log.get_by_label("Call").check()
    log.get_by_label(re.compile("Anna Adler")).check()
    log.locator("[name=outcome]").fill("Connected")
    log.locator("[name=notes]").fill("Two plants, budget approved in March")
    log.locator("[name=next_step]").fill("Send the plant survey")
    log.get_by_role("button", name="Log").click()
    expect(page.locator(".message-success")).to_contain_text("Next step “Send the plant survey”")
    expect(page.locator("#next-steps")).to_contain_text("Send the plant survey")
    expect(page.locator("#activities")).to_contain_text("Connected")
    call = Activity.objects.get(opportunity=deal)
    assert (call.kind, call.contact.last_name, call.outcome) == ("call", "Adler", "Connected")

    # the next step is done in one click
    page.locator("#next-steps").get_by_role("button", name="Mark “Send the plant survey” done").click()
    expect(page.locator("#next-steps .step-closed")).to_contain_text("Send the plant survey")
    assert NextStep.objects.get(opportunity=deal).status == "done"

    # move it on: the stage's exit checklist says what is still open, the move asks for a reason, then goes through
    checklist = page.locator("[data-testid=stage-checklist]")
    expect(checklist).to_contain_text("Exit criteria: Qualification")
    page.locator("#edit summary").click()
    page.fill("#id_stage", "Needs Analysis")
    page.locator("[data-testid=opportunity-edit] button[type=submit]").click()
    expect(page.locator("[data-testid=opportunity-edit] [role=alert]")).to_contain_text("Give a reason")
    page.fill("#id_stage_reason", "Budget approved in March, the decision maker is on the next call")
    page.locator("[data-testid=opportunity-edit] button[type=submit]").click()
    expect(checklist).to_contain_text("Exit criteria: Needs Analysis")
    deal.refresh_from_db()
    assert deal.stage == "Needs Analysis"

    # close it lost: without a comment it is refused and says why; with one it closes
    page.locator("#close summary", has_text="Lost").click()
    form = page.locator("[data-testid=close-lost]")
    form.locator("select[name=lost_reason]").select_option("Lost to a competitor")
    form.locator("[name=competitor]").fill("Hopfen Systems")
    form.get_by_role("button", name="Close as lost").click()
    expect(page.locator(".message-error")).to_contain_text("needs a comment")
    deal.refresh_from_db()
    assert not deal.is_closed
    page.locator("#close summary", has_text="Lost").click()
    form.locator("select[name=lost_reason]").select_option("Lost to a competitor")
    form.locator("[name=competitor]").fill("Hopfen Systems")
    form.locator("[name=close_comment]").fill("They bundled the sensors with the brewhouse upgrade")
    form.get_by_role("button", name="Close as lost").click()
    expect(page.locator(".message-success")).to_contain_text("Closed the deal as lost")
    page.screenshot(path=str(tmp_path / "closed.png"), full_page=True)
    deal.refresh_from_db()
    assert (deal.is_closed, deal.is_won, deal.lost_reason, deal.competitor) == (True, False, "Lost to a competitor", "Hopfen Systems")
