"""`dealpilot report forecast`, `dealpilot report deal-changes` and `dealpilot forecast snapshot` through the real
command-line parser (typer), in process, on the hand-worked quarter."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from typer.testing import CliRunner

from dealpilot.cli import app
from dealpilot.forecasting import services
from dealpilot.forecasting.reports import CHANGE_COLUMNS

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_report_forecast_json_has_rows_calls_model_range_target_and_gap(quarter):
    org, period = quarter.org, quarter.period
    services.submit_call(org.rep_emea, org.rep_emea.pk, period)
    services.submit_call(org.manager_emea, org.rep_dach.pk, period, commit=20000, best_case=30000, note="Legal")
    today = timezone.localdate().isoformat()
    out = run("report", "forecast", "--as", "manager_emea", "--from", today, "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["period"]["label"] == period.label and doc["person"]["name"] == "Emil Manager"
    # the metric's rows, as before: one per rep and period
    assert doc["rows"] and {"group", "period", "forecast", "target", "weighted_open"} <= set(doc["rows"][0])
    assert {r["group"] for r in doc["rows"] if r["current"]} >= {"Erik Rep", "Dora Rep"}
    assert doc["model"]["expected"] == 59500 and doc["model"]["p10"] <= doc["model"]["p50"] <= doc["model"]["p90"]
    assert doc["model"]["open_deals"] == 5 and doc["deals"] == 6 and doc["history"]["closed_deals"] >= 1
    assert doc["target"] == 100000 and doc["gap"] == {"to_call": None, "to_model": 40500}
    assert doc["stage_weighted"] == 88750
    calls = {c["label"]: c for c in doc["calls"]}
    assert set(calls) == {"Emil Manager", "Erik Rep", "Dora Rep", "Emil Manager (own deals)"}
    assert calls["Erik Rep"]["call"]["commit"] == 30000 and calls["Erik Rep"]["model_p90"] == 70000
    assert calls["Dora Rep"]["call"]["kind"] == "override" and calls["Dora Rep"]["overridden"]
    assert calls["Emil Manager"]["derived"]["commit"] == 30000 + 20000

    out = run("report", "forecast", "--from", today, "--format", "json")  # no --as: the sales leader's, everyone's
    doc = json.loads(out.stdout)
    assert doc["scope"] == "everyone" and doc["target"] == 150000 and len(doc["calls"]) == 7

    out = run("report", "forecast", "--as", "rep_emea", "--from", today, "--format", "csv")
    assert out.exit_code == 0 and list(csv.DictReader(io.StringIO(out.stdout)))[0]["group"] == "Erik Rep"
    out = run("report", "forecast", "--as", "rep_emea", "--from", today)
    assert out.exit_code == 0 and "P10" in out.stdout and "Erik Rep" in out.stdout
    out = run("report", "forecast", "--as", "enablement", "--format", "json")
    assert out.exit_code == 2 and "has no forecast" in out.output


def test_report_deal_changes_and_the_snapshot_command(quarter):
    services.take_snapshot(now=timezone.now() - timedelta(days=7))  # last week's
    deal = quarter.deals["emea commit"]
    deal.close_date = quarter.period.next().start + timedelta(days=1)
    deal.save()
    out = run("forecast", "snapshot", "--format", "json")
    assert out.exit_code == 0, out.output
    first = json.loads(out.stdout)
    assert first["taken"] and first["people"] == 6 and first["period"] == quarter.period.label
    out = run("forecast", "snapshot")
    assert out.exit_code == 0 and "taken already" in out.stdout
    out = run("report", "deal-changes", "--as", "manager_emea", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["report"] == "deal-changes" and doc["source"] == "snapshots" and doc["week"] == first["week"]
    assert [(r["kind"], r["deal"], r["change"]) for r in doc["rows"]] == [("pushed", "emea commit", -20000)]
    assert doc["counts"] == [{"kind": "pushed", "what": "Pushed out of the period", "deals": 1, "change": -20000}]
    out = run("report", "deal-changes", "--as", "rep_amer", "--format", "csv")
    assert out.exit_code == 0 and out.stdout.strip() == ",".join(CHANGE_COLUMNS)  # nothing of theirs changed: the header
    out = run("report", "deal-changes", "--as", "leader")
    assert out.exit_code == 0 and "pushed" in out.stdout
    assert run("forecast", "snapshot", "--format", "xml").exit_code == 2
