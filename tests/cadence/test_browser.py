"""A manager's rhythm in a real browser (Debian's chromium through Playwright) against a live
server: set the default cadence, subscribe to the feed (fetched and parsed with icalendar), open
a generated pipeline-meeting agenda, record it as held with a note, log a coaching session, and
see adherence."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from tests.browser import chromium_page
from tests.factories import PASSWORD, build_showcase_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def showcase(transactional_db):
    return build_showcase_org()


@pytest.fixture
def page(showcase, live_server, monkeypatch):
    # an agenda compiles Team performance's meeting report (Ibis): seconds on a busy machine
    with chromium_page(monkeypatch, navigation_timeout_ms=60_000) as page:
        yield page


def test_manager_sets_a_cadence_subscribes_runs_a_meeting_and_coaches(page, live_server, tmp_path):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "henrik.mgr")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()

    # My week: no cadence yet, a link to set one up
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My week").click()
    expect(page.get_by_role("heading", name="My week", exact=True)).to_be_visible()
    expect(page.locator("[data-testid=week-meetings]")).to_contain_text("No cadence meetings this week")
    page.locator("[data-testid=week-meetings]").get_by_role("link", name="EMEA").click()

    # the default cadence, started three weeks ago, in Berlin time
    page.select_option("#default-tz", "Europe/Berlin")
    page.fill("#default-start", (timezone.localdate() - timedelta(days=21)).isoformat())
    page.get_by_test_id("default-cadence").click()
    expect(page.locator(".messages")).to_contain_text("The default cadence is set")
    meetings = page.locator("[data-testid=meetings]")
    expect(meetings).to_contain_text("Pipeline meeting")
    expect(meetings).to_contain_text("Weekly on Monday at 09:00 (Europe/Berlin), 60 min")
    expect(meetings).to_contain_text("1:1 coaching: Sofia Marino")
    # agree it with the team: tick the checklist, write the outcome
    page.get_by_label("Meet with the team to discuss", exact=False).check()
    page.fill("#id_outcome", "Twice the early-stage opportunities by Q3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("checklist saved")
    page.screenshot(path=str(tmp_path / "cadence-team.png"), full_page=True)

    # subscribe: make the feed address, fetch it as a calendar client would (no login) and parse it
    page.get_by_role("navigation", name="Cadence").get_by_role("link", name="Calendar feeds").click()
    page.get_by_test_id("make-feed").click()
    feed_url = page.get_by_test_id("feed-person").input_value()
    assert re.search(r"/cadence/feed/[\w-]{40,}/me\.ics$", feed_url)
    response = page.context.request.get(feed_url, headers={"Cookie": ""})
    assert response.ok and response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.body()).walk("VEVENT")
    summaries = {str(e["summary"]) for e in events}
    assert "Pipeline meeting (EMEA)" in summaries and "Forecast call (EMEA)" in summaries
    pipeline_times = {e.decoded("dtstart").astimezone(timezone.get_fixed_timezone(0)).strftime("%a") for e in events
                      if str(e["summary"]) == "Pipeline meeting (EMEA)"}
    assert pipeline_times == {"Mon"}

    # adherence lists last weeks' meetings as not recorded: open the last pipeline meeting's agenda
    page.get_by_role("navigation", name="Cadence").get_by_role("link", name="Adherence").click()
    slip = page.locator("[data-testid=slips] tbody tr", has_text="Pipeline meeting").first
    expect(slip).to_contain_text("Not recorded")
    slip.get_by_role("link", name="Open").click()
    agenda = page.get_by_test_id("agenda")
    expect(agenda.get_by_role("heading", name="New opportunities per rep")).to_be_visible()
    expect(agenda.locator("[data-section=new]")).to_contain_text("Sofia Marino")
    expect(agenda.get_by_role("heading", name="Stalled: same as last week")).to_be_visible()
    page.screenshot(path=str(tmp_path / "cadence-agenda.png"), full_page=True)

    # record it as held, with a note
    page.select_option("#id_status", "held")
    page.fill("#id_notes", "Sofia brings two new logos; Jonas to qualify the Umbrella renewal")
    page.get_by_test_id("record-form").get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Meeting recorded")
    expect(page.locator(".page-header")).to_contain_text("Held as planned")
    expect(page.locator("#id_notes")).to_have_value("Sofia brings two new logos; Jonas to qualify the Umbrella renewal")

    # log a coaching session
    page.get_by_role("navigation", name="Cadence").get_by_role("link", name="Coaching").click()
    expect(page.get_by_test_id("attention")).to_contain_text("Jonas Berg")
    page.select_option("#id_rep", label="Jonas Berg")
    page.select_option("#id_topic", "skill")
    page.fill("#id_skill", "Discovery questions")
    page.fill("#id_minutes", "45")
    page.get_by_role("button", name="Log it").click()
    expect(page.locator(".messages")).to_contain_text("45 minutes of coaching with Jonas Berg logged")
    expect(page.get_by_test_id("coaching-sessions")).to_contain_text("Discovery questions")
    expect(page.get_by_test_id("coaching-minutes").locator("tr", has_text="Jonas Berg")).to_contain_text("45 / 60")

    # and adherence: the held meeting is counted, the chart is drawn with its numbers one click away
    page.get_by_role("navigation", name="Cadence").get_by_role("link", name="Adherence").click()
    expect(page.locator("#cadence-adherence")).to_have_class(re.compile(r"chart-ready"), timeout=30_000)
    expect(page.locator("#cadence-adherence .main-svg").first).to_be_visible()
    table = page.get_by_test_id("adherence-table")
    held_total = sum(int(t.split()[0]) for t in table.locator("tbody tr td:nth-child(4)").all_inner_texts())
    assert held_total == 1
    page.get_by_text("Numbers").click()
    expect(page.locator(".chart-numbers table")).to_contain_text("held_share")
    page.screenshot(path=str(tmp_path / "cadence-adherence.png"), full_page=True)
