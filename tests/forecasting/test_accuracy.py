"""Forecast accuracy over closed periods: each call, the model and the stage-weighted forecast from the
weekly snapshots against what was won, per person; who sandbags; the same on the page, API and CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.forecasting.accuracy import accuracy
from dealpilot.forecasting.models import ForecastSnapshot
from dealpilot.forecasting.rollup import period_of
from tests.factories import make_opportunity

pytestmark = pytest.mark.django_db


def quarters_back(n: int):
    day = period_of(timezone.localdate()).start
    for _ in range(n):
        day = period_of(day - timedelta(days=1)).start
    return period_of(day)


def snap(person, period, week, *, call, model, p10, p90, stage):
    return ForecastSnapshot.objects.create(
        week=week, person=person, period_kind="quarter", period_start=period.start, period_end=period.end,
        call_commit=call, call_best_case=call, derived_commit=0, derived_best_case=0, won=0, model_expected=model,
        model_p10=p10, model_p50=model, model_p90=p90, stage_weighted=stage, open_deals=4, taken_at=timezone.now())


def won(rep, amount, on: date, org):
    return make_opportunity(rep, org.accounts[rep.username], stage="Closed Won", status="won", amount=amount, close_date=on)


@pytest.fixture
def history(org):
    """rep_dach over two closed quarters: a call 40% and 50% under what she won (sandbagging); the model close."""
    older, last = quarters_back(2), quarters_back(1)
    for period, call, model, actual in ((older, 60000, 95000, 100000), (last, 40000, 85000, 80000)):
        snap(org.rep_dach, period, period.start, call=call, model=model, p10=model * 0.7, p90=model * 1.3, stage=model * 1.4)
        snap(org.rep_dach, period, period.start + timedelta(days=49), call=actual, model=actual, p10=actual, p90=actual,
             stage=actual)  # a late week: read only when asked for the end
        won(org.rep_dach, actual, period.start + timedelta(days=30), org)
    # this quarter is not closed: never counted
    snap(org.rep_dach, period_of(timezone.localdate()), period_of(timezone.localdate()).start, call=1, model=1, p10=0, p90=2, stage=1)
    return org


def test_each_closed_period_against_what_was_won(history):
    org = history
    result = accuracy(org.rep_dach)
    assert len(result.rows) == 2
    last = result.rows[0]  # newest first
    assert last.period == quarters_back(1) and last.actual == 80000
    assert (last.call, last.model) == (40000, 85000)
    assert last.error("call") == -40000 and last.error_pct("call") == -50.0
    assert last.error_pct("model") == 6.2 and last.in_range and last.model_beats_call is True
    assert last.error_pct("stage_weighted") == 48.8
    summary = result.summaries[0]
    assert summary.bias_pct["call"] == -45.0 and summary.mean_abs_error_pct["call"] == 45.0
    assert summary.habit.startswith("sandbags: calls 45% under")
    assert summary.model_beats_call == 2 and summary.compared == 2
    assert "closer than the call in 2 of 2" in result.verdict
    late = accuracy(org.rep_dach, at="end")
    assert all(r.error("call") == 0 for r in late.rows)  # the late snapshot, read when asked for


def test_only_the_people_one_may_open(history):
    org = history
    assert accuracy(org.rep_emea).rows == []
    assert {r.person for r in accuracy(org.manager_emea).rows} == {org.rep_dach}
    assert accuracy(org.manager_amer).rows == []
    assert len(accuracy(org.leader).rows) == 2


def test_one_period_is_too_few_to_call_a_habit(org):
    period = quarters_back(1)
    snap(org.rep_emea, period, period.start, call=10000, model=12000, p10=5000, p90=20000, stage=9000)
    won(org.rep_emea, 20000, period.start + timedelta(days=3), org)
    summary = accuracy(org.rep_emea).summaries[0]
    assert summary.habit.startswith("one period only: too few to tell")


def test_the_page_api_and_cli_show_the_same(history):
    from typer.testing import CliRunner

    from dealpilot.cli import app

    org = history
    client = Client()
    client.force_login(org.manager_emea)
    page = client.get(f"/forecast/accuracy/?person={org.rep_dach.pk}")
    assert page.status_code == 200
    assert b"sandbags" in page.content and b"forecast-accuracy" in page.content
    assert client.get("/forecast/accuracy/?at=bogus").status_code == 200  # an unknown choice falls back
    api = client.get("/api/forecast/accuracy?at=start").json()
    assert [r["call_error_pct"] for r in api["rows"]] == [-50.0, -40.0]
    assert api["people"][0]["habit"].startswith("sandbags")
    assert client.get("/api/forecast/accuracy?at=later").status_code == 422
    enablement = Client()
    enablement.force_login(org.enablement)
    assert enablement.get("/forecast/accuracy/").status_code == 404
    assert enablement.get("/api/forecast/accuracy").status_code == 404
    out = CliRunner().invoke(app, ["report", "forecast-accuracy", "--as", "manager_emea", "--format", "json"])
    assert out.exit_code == 0, out.output
    document = json.loads(out.output)
    assert document["rows"] == api["rows"] and "closer than the call" in document["verdict"]
    table = CliRunner().invoke(app, ["report", "forecast-accuracy", "--as", "rep_dach"])
    assert table.exit_code == 0 and "call_error_pct" in table.output
