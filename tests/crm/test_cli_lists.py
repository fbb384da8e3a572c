"""The CLI reads what the web shows: every list with --format table|json|csv and --as USER."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from dealpilot.crm import activities
from dealpilot.deals.models import WinScore

pytestmark = pytest.mark.django_db


def run(*args):
    from dealpilot.cli import app

    return CliRunner().invoke(app, list(args))


def as_json(*args) -> dict:
    out = run(*args, "--format", "json")
    assert out.exit_code == 0, out.output
    document = json.loads(out.stdout)
    assert isinstance(document, dict) and isinstance(document["rows"], list) and document["count"] == len(document["rows"])
    return document


def test_deals_score_lists_every_open_deal_with_a_probability_and_its_reasons(org):
    document = as_json("deals", "score")
    from dealpilot.crm.models import Opportunity

    open_ids = set(Opportunity.objects.filter(is_closed=False).values_list("pk", flat=True))
    assert {r["id"] for r in document["rows"]} == open_ids
    for row in document["rows"]:
        assert 0 <= row["win_probability"] <= 100 and row["method"] in ("model", "rules")
        assert isinstance(row["reasons_for"], list) and isinstance(row["reasons_against"], list)
        assert row["reasons_for"] or row["reasons_against"]
    assert WinScore.objects.count() == len(open_ids)
    scoped = as_json("deals", "list", "--as", "rep_dach")
    assert {r["id"] for r in scoped["rows"]} == {org.opportunities["rep_dach"][0].pk} and scoped["as"] == "rep_dach"


def test_records_lists_follow_the_persons_scope_in_every_format(org):
    rep_amer_deals = as_json("records", "opportunities", "--as", "rep_amer", "--status", "all")
    assert {r["id"] for r in rep_amer_deals["rows"]} == {o.pk for o in org.opportunities["rep_amer"]}
    everyone = as_json("records", "opportunities")
    assert len(everyone["rows"]) == 6  # every open deal: three reps', the manager's, the cross-sell, the unowned one
    accounts = as_json("records", "accounts", "--as", "rep_amer")
    assert {r["account"] for r in accounts["rows"]} == {"rep_amer account", "rep_emea account"}
    assert all(r["quadrant"] in "ABCD" for r in accounts["rows"])
    out = run("records", "contacts", "--as", "rep_dach", "--format", "csv")
    assert [r["name"] for r in csv.DictReader(io.StringIO(out.stdout))] == [str(org.contacts["rep_dach"])]
    subjects = {r["subject"] for r in as_json("records", "activities", "--as", "manager_emea")["rows"]}
    assert "rep_dach discovery call" in subjects and "rep_amer discovery call" not in subjects
    table = run("records", "activities", "--as", "manager_emea")
    assert table.exit_code == 0 and "activities" in table.stdout and "discovery" in table.stdout


def test_next_steps_due_from_the_cli(org):
    from datetime import timedelta

    from django.utils import timezone

    deal = org.opportunities["rep_dach"][0]
    activities.create_next_step(org.rep_dach, subject="Chase the PO", opportunity_id=deal.pk,
                                due_date=timezone.localdate() - timedelta(days=3))
    mine = as_json("records", "next-steps", "--as", "rep_dach", "--when", "overdue")
    assert [(r["subject"], r["days_overdue"]) for r in mine["rows"]] == [("Chase the PO", 3)]
    assert as_json("records", "next-steps", "--as", "rep_amer")["rows"] == []


def test_bad_options_exit_with_2_and_a_reason(org):
    assert run("records", "opportunities", "--as", "nobody").exit_code == 2
    assert run("records", "opportunities", "--status", "maybe").exit_code == 2
    assert run("records", "next-steps", "--when", "someday").exit_code == 2
    assert run("deals", "list", "--format", "xml").exit_code == 2
