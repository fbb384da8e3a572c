"""Bad input that every API operation shares: refused with a 4xx and a message, nothing written.

Found by tests/test_api_fuzz.py (schemathesis); each case is pinned here so it stays fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from django.test import Client

from dealpilot.crm.services import create_api_token
from dealpilot.enablement.models import ContentModule


@pytest.fixture
def rep_client(org):
    _, raw = create_api_token(org.rep_emea, "tests")
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def author_client(org):
    _, raw = create_api_token(org.enablement, "tests")
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_nul_character_in_a_json_body_is_a_400_and_nothing_is_written(author_client):
    # PostgreSQL text cannot hold NUL: this was a 500 there (and stored as sent on SQLite).
    body = {"title": "Battle card\u0000", "kind": "battle_card", "status": "draft"}
    response = author_client.post("/api/enablement/modules", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert not ContentModule.objects.exists()
    nested = {"title": "Battle card", "kind": "battle_card", "status": "draft", "tags": {"industry": ["Retail\u0000"]}}
    assert author_client.post("/api/enablement/modules", json.dumps(nested), content_type="application/json").status_code == 400
    assert not ContentModule.objects.exists()


def test_an_escaped_backslash_before_u0000_is_ordinary_text(author_client):
    body = {"title": "C:\\u0000 is not a NUL", "kind": "battle_card", "status": "draft"}
    response = author_client.post("/api/enablement/modules", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert ContentModule.objects.get().title == "C:\\u0000 is not a NUL"


def test_a_nul_character_in_a_query_is_a_400(rep_client):
    response = rep_client.get("/api/crm/accounts", {"q": "Acme\x00"})
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/crm/opportunities", "/api/enablement/modules", "/api/deals/scores"])
def test_a_page_number_past_any_list_is_a_422_with_the_reason(rep_client, path):
    # 10**30 became an SQL OFFSET SQLite cannot hold: a 500.
    response = rep_client.get(path, {"page": 10**30})
    assert response.status_code == 422
    assert any(error["loc"][-1] == "page" for error in response.json()["detail"])
    assert rep_client.get(path, {"page": 1_000_000}).status_code == 200  # far past the end: an empty page


def test_an_id_in_a_body_larger_than_64_bits_is_a_422(org, author_client):
    body = {"title": "Playbook", "kind": "playbook", "status": "draft", "author_ids": [2**65]}
    response = author_client.post("/api/enablement/modules", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == ["author_ids", 0]
    assert not ContentModule.objects.exists()


# ---- ids and days at the edges (issue 14: an attacker's scan found these 500s) -------------------------

BEYOND_64_BITS = "99999999999999999999999"


@pytest.fixture
def leader_client(org):
    _, raw = create_api_token(org.leader, "tests")
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.mark.parametrize("path, param", [
    ("/api/crm/opportunities", "owner"), ("/api/crm/opportunities", "account"), ("/api/crm/accounts", "owner"),
    ("/api/crm/activities", "owner"), ("/api/crm/activities", "account"), ("/api/crm/activities", "opportunity"),
    ("/api/crm/contacts", "account"), ("/api/planning/priorities", "owner"), ("/api/cadence/coaching", "rep"),
    ("/api/cadence/adherence", "team"),
])
def test_a_filter_id_past_64_bits_is_a_422_naming_the_filter(leader_client, path, param):
    # SQLite cannot compare with such an integer: an OverflowError, a 500.
    for value in (BEYOND_64_BITS, str(2**63), "0", "-1"):
        response = leader_client.get(path, {param: value})
        assert response.status_code == 422, (value, response.content)
        errors = response.json()["detail"]
        assert [e["loc"] for e in errors] == [["query", param]] and errors[0]["msg"]
    assert leader_client.get(path, {param: str(2**63 - 1)}).status_code in (200, 404)  # the largest id: no such record


@pytest.fixture
def meeting(org):
    from dealpilot.cadence.services import create_default_cadence

    cadence = create_default_cadence(org.teams["emea"], by=org.manager_emea, starts_on=date.today() - timedelta(days=35),
                                     time_zone="Europe/Berlin")
    return cadence.meetings.order_by("pk").first()


@pytest.mark.parametrize("path, param", [
    ("/api/cadence/week", "day"), ("/api/cadence/meetings/{meeting}/occurrences", "start"),
    ("/api/performance/forecast", "from"), ("/api/performance/meeting", "to"), ("/api/performance/velocity", "from"),
    ("/api/performance/levers", "to"), ("/api/performance/pipeline-creation", "to"), ("/api/performance/diagnosis", "to"),
    ("/api/crm/opportunities", "close_from"), ("/api/crm/activities", "date_to"), ("/api/deals/call-plans/report", "start"),
])
def test_a_day_past_the_calendar_s_supported_range_is_a_422_and_its_edges_answer(leader_client, meeting, path, param):
    # 9999-12-31 plus a week, or 0001-01-01 minus one, leaves Python's calendar: 500s before
    path = path.format(meeting=meeting.pk)
    others = {"start": "2024-01-01", "end": "2024-12-31"} if "call-plans" in path else {}
    for day in ("9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"):
        response = leader_client.get(path, {**others, param: day})
        assert response.status_code == 422, (day, response.content)
        error = response.json()["detail"][0]
        assert error["loc"] == ["query", param] and ("1900-01-01" in error["msg"] or "2999-12-31" in error["msg"])
    for day in ("1900-01-01", "2999-12-31"):  # the edges themselves: a week, a period or a year away still computes
        if "pipeline-creation" in path:
            continue  # the window from the latest created date to either edge is longer than the report shows
        response = leader_client.get(path, {"start": day, "end": day} if others else {param: day})
        assert response.status_code == 200, (day, response.content)


def test_an_occurrence_key_outside_the_supported_days_is_a_404(leader_client, meeting):
    # the minute before 0001-01-01T00:00 and after 9999-12-31T23:59 do not exist: 500s before
    for key in ("00010101T000000Z", "99991231T235959Z", "18991231T090000Z"):
        response = leader_client.get(f"/api/cadence/meetings/{meeting.pk}/occurrences/{key}")
        assert response.status_code == 404 and response.json()["detail"]


def test_pipeline_creation_over_more_than_ten_years_is_a_400_with_the_reason(leader_client):
    # a row per rep and week: 1900..2999 answered 21 MB in 5 s for three reps
    response = leader_client.get("/api/performance/pipeline-creation", {"from": "1900-01-01", "to": "2999-12-31"})
    assert response.status_code == 400 and "at most 520 weeks" in response.json()["detail"]
    assert leader_client.get("/api/performance/pipeline-creation", {"from": "2016-01-01", "to": "2024-12-31"}).status_code == 200


def test_the_team_page_says_why_a_day_is_out_of_range_and_its_csv_exports_answer_400(org, client):
    from dealpilot.analytics.report import TEAM_REPORTS

    client.force_login(org.leader)
    for query in ({"from": "9999-12-31"}, {"to": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "0001-01-01"}):
        page = client.get("/team/", query)
        assert page.status_code == 200 and "Give a day from 1900-01-01 to 2999-12-31." in page.content.decode(), query
        for name in TEAM_REPORTS:
            export = client.get(f"/team/csv/{name}/", query)
            assert export.status_code == 400 and b"a day from 1900-01-01 to 2999-12-31" in export.content, (name, query)


def test_pages_with_an_id_or_day_filter_past_the_bounds_say_why_or_ignore_it(org, client):
    client.force_login(org.leader)
    for path, query in (("/opportunities/", {"close_from": "9999-12-31"}), ("/deals/call-plans/report/", {"start": "0001-01-01"})):
        page = client.get(path, query)
        assert page.status_code == 200 and "Give a day from 1900-01-01 to 2999-12-31." in page.content.decode(), path
    for path, param in (("/opportunities/", "owner"), ("/accounts/", "owner"), ("/planning/", "owner"),
                        ("/cadence/adherence/", "team"), ("/cadence/coaching/", "rep")):
        for value in (BEYOND_64_BITS, "²"):  # "²" is a digit to str.isdigit() but not to int(): a 500 before
            assert client.get(path, {param: value}).status_code == 200, (path, value)


def test_the_plan_page_refuses_a_day_or_an_amount_it_cannot_store_with_the_reason(org, client):
    from dealpilot.planning import services as plans

    account = org.accounts["rep_emea"]
    plans.create_plan(org.rep_emea, account.pk, title="Plan")
    client.force_login(org.rep_emea)
    for field, value, reason in (("review_date", "9999-12-31", "out of range"), ("pipeline_goal", "1e30", "below"),
                                 ("pipeline_goal", "NaN", "below")):
        response = client.post(f"/planning/accounts/{account.pk}/plan/edit/", {"op": "update_plan", "title": "Plan", field: value})
        assert response.status_code == 400 and reason in response.content.decode(), (field, value)


def test_the_cli_refuses_a_day_past_the_calendar_with_exit_2_and_the_reason(cli_env):
    # `dealpilot report forecast --from 9999-12-31` ended in a traceback
    for args in (["forecast", "--from", "9999-12-31"], ["meeting", "--to", "0001-01-01"], ["velocity", "--from", "1899-12-31"]):
        done = subprocess.run([sys.executable, "-m", "dealpilot.cli", "report", *args], env=cli_env, capture_output=True,
                              text=True, timeout=120)
        said = " ".join(done.stderr.replace("│", " ").split())
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "is out of range: give a day from 1900-01-01 to 2999-12-31" in said, said


def test_a_nul_character_in_a_page_s_query_or_form_is_a_400_and_nothing_is_written(org, client):
    # the knowledge list's ?q= went to the database as it was: a 500 on PostgreSQL; so did the plan page's posts
    from dealpilot.planning import services as plans
    from dealpilot.planning.models import PlanComment

    client.force_login(org.rep_emea)
    response = client.get("/enablement/knowledge/", {"q": "win\x00"})
    assert response.status_code == 400 and b"NUL" in response.content
    account = org.accounts["rep_emea"]
    plans.create_plan(org.rep_emea, account.pk, title="Plan")
    response = client.post(f"/planning/accounts/{account.pk}/plan/comment/", {"text": "Looks good\x00"})
    assert response.status_code == 400 and b"NUL" in response.content
    assert not PlanComment.objects.exists()
