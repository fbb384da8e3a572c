"""Every metric on the real Maven dataset, against a hand computation over its CSV files; the same
metrics on PostgreSQL (when the suite runs there) give the same rows as on DuckDB."""

import math
from datetime import date

import pytest
from django.db import connection

from dealpilot.analytics import metrics as m
from dealpilot.analytics.frames import arrow_cache, frames_for
from dealpilot.crm.models import User

from .hand import Maven

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
on_postgres = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL engine: only when the suite runs on it")


@pytest.fixture(scope="module")
def hand(maven_files):
    return Maven(maven_files)


@pytest.fixture
def f(maven_db):
    return frames_for(None)


def close(got: list[dict], want: list[dict]) -> None:
    """Same rows; numbers equal to the engine's rounding (cents, 1e-4 days, 1e-6 rates)."""
    assert [(r["group"], r["period"]) for r in got] == [(r["group"], r["period"]) for r in want]
    for g, w in zip(got, want):
        assert set(g) == set(w)
        for k, v in w.items():
            if isinstance(v, float):
                assert g[k] == pytest.approx(v, abs=0.006), (g, w, k)
            else:
                assert g[k] == v, (g, w, k)


@pytest.mark.parametrize("group_by", [None, "owner", "team", "product"])
def test_velocity_matches_a_hand_count(f, hand, group_by):
    rows = m.velocity(f, group_by, "quarter")
    assert rows and all(tuple(r) == m.VELOCITY_COLUMNS for r in rows)
    close(rows, hand.velocity(group_by))


def test_velocity_window_and_other_groupings_add_up(f, hand):
    window = (date(2017, 4, 1), date(2017, 9, 30))
    close(m.velocity(f, "owner", "quarter", *window), hand.velocity("owner", *window))
    total = {r["period"]: r["opportunities"] for r in m.velocity(f, None, "year")}
    for by in ("region", "source"):
        summed: dict[str, int] = {}
        for r in m.velocity(f, by, "year"):
            summed[r["period"]] = summed.get(r["period"], 0) + r["opportunities"]
        assert summed == total
    assert {r["group"] for r in m.velocity(f, "source", "year")} == {"(none)"}  # Maven has no lead sources
    months = m.velocity(f, None, "month")
    assert sum(r["opportunities"] for r in months) == sum(total.values())
    assert all(len(r["period"]) == 7 for r in months)


def test_levers_split_each_change_exactly(f, hand):
    rows = m.levers(f, "team", "quarter")
    assert rows
    for r in rows:
        assert not r["note"]
        terms = [r[f"{k}_log"] for k in ("opportunities", "avg_deal_value", "win_rate", "cycle_days")]
        assert math.fsum(terms) == pytest.approx(math.log(r["velocity_after"] / r["velocity_before"]), abs=1e-4)
        money = [r[f"{k}_money"] for k in ("opportunities", "avg_deal_value", "win_rate", "cycle_days")]
        assert math.fsum(money) == pytest.approx(r["velocity_after"] - r["velocity_before"], abs=1e-6)
        assert r["what_if_win_rate"] == pytest.approx(r["velocity_after"] * 1.1)
        assert r["what_if_cycle_days"] == pytest.approx(r["velocity_after"] / 0.9)
    # by hand: the all-team split between the first two quarters
    q = hand.velocity(None)
    first = m.levers(f, None, "quarter")[0]
    assert first["opportunities_log"] == pytest.approx(math.log(q[1]["opportunities"] / q[0]["opportunities"]))
    assert first["win_rate_log"] == pytest.approx(math.log(q[1]["win_rate"] / q[0]["win_rate"]), abs=1e-5)
    assert first["cycle_days_log"] == pytest.approx(-math.log(q[1]["cycle_days"] / q[0]["cycle_days"]), abs=1e-5)


def test_pipeline_creation_per_rep_and_iso_week(f, hand):
    start, end = date(2017, 5, 29), date(2017, 7, 9)
    grid = m.pipeline_creation(f, start, end)
    counts = hand.created_per_week(start, end)
    assert grid["weeks"] == hand.weeks(start, end)
    assert len(grid["rows"]) == len(grid["weeks"]) * len(hand.team_of)
    for row in grid["rows"]:
        assert row["created"] == counts.get((row["rep"], row["week"]), 0)
        assert row["team_median"] == hand.team_median(counts, row["week"], row["team"])
    for week in grid["weeks"]:
        assert grid["none"][week] == sorted(a for a in hand.team_of if not counts.get((a, week)))
    assert any(grid["none"].values())  # Maven has reps who created nothing in a week


def test_diagnosis_counts_and_verdicts(f, hand):
    start, end = date(2017, 7, 1), date(2017, 9, 30)
    rows = m.diagnosis(f, start, end)
    want = hand.window_counts(start, end)
    assert {r["rep"] for r in rows} == set(want)
    weeks = ((end - start).days + 1) / 7
    for r in rows:
        w = want[r["rep"]]
        assert (r["created"], r["closed"], r["won"]) == (w["created"], w["closed"], w["won"])
        assert r["new_per_week"] == pytest.approx(w["created"] / weeks)
        assert r["activities"] == 0  # Maven has no activities
        if w["closed"]:
            assert r["win_rate"] == pytest.approx(w["won"] / w["closed"])
            assert r["win_rate_low"] < r["win_rate"] < r["win_rate_high"]
        else:  # Maven has reps with no deals at all
            assert r["win_rate"] is r["win_rate_low"] is None and r["small_sample"]
            assert r["verdict"] == ("too little activity" if not w["created"] else "not judged (small sample)")
        assert r["verdict"] in ("on track", "too little activity", "too low effectiveness", "both", "not judged (small sample)")
        assert r["reason"].endswith(".") and r["reason"].count(". ") == 0
    assert {r["verdict"] for r in rows} - {"on track"}  # somebody is behind


def test_meeting_report_of_a_week(f, hand):
    meeting = date(2017, 6, 12)
    report = m.meeting_report(f, meeting)
    since = date(2017, 6, 5)
    new = [r for r in hand.pipeline if r["engage"] and since <= r["engage"] < meeting]
    assert sorted(r["owner"] for r in report["new"]) == sorted(r["sales_agent"] for r in new)
    same = [r for r in hand.pipeline if r["deal_stage"] in ("Prospecting", "Engaging") and (not r["engage"] or r["engage"] < since)]
    assert len(report["same_as_last_week"]) == len(same)
    assert report["slipped"] == [] and report["pushed_back"] == []  # no stage history, open deals have no close date


def test_forecast_closed_won_per_rep_and_team(f, hand):
    for by in ("owner", "team"):
        rows = m.forecast(f, date(2017, 8, 15), "quarter", periods=2, group_by=by)
        current = {r["group"]: r for r in rows if r["current"]}
        want = hand.closed_won(by, date(2017, 7, 1), date(2017, 10, 1))
        assert {g: r["closed_won"] for g, r in current.items() if r["closed_won"]} == {g: float(v) for g, v in want.items() if v}
        assert all(r["period"] in ("2017-Q3", "2017-Q4") for r in rows)
        assert all(r["target"] is None and r["coverage"] is None for r in rows)  # Maven has no targets


def test_a_rep_sees_only_their_own_deals_and_a_manager_their_team(maven_db, hand):
    rep = User.objects.get(full_name="Anna Snelling")
    rows = m.velocity(frames_for(rep), "owner", "quarter")
    assert {r["group"] for r in rows} == {"Anna Snelling"}
    close(rows, [r for r in hand.velocity("owner") if r["group"] == "Anna Snelling"])
    assert {r["rep"] for r in m.diagnosis(frames_for(rep))} == {"Anna Snelling"}
    grid = m.pipeline_creation(frames_for(rep))
    assert {r["rep"] for r in grid["rows"]} == {"Anna Snelling"}

    manager = User.objects.get(full_name=hand.teams[0]["manager"])
    team = {r["sales_agent"] for r in hand.teams if r["manager"] == manager.full_name}
    assert {r["group"] for r in m.velocity(frames_for(manager), "owner", "year")} == team
    assert {r["group"] for r in m.velocity(frames_for(manager), "team", "year")} == {f"{manager.full_name}'s team"}

    enablement = User.objects.create(username="author", role="enablement")
    assert m.velocity(frames_for(enablement), "owner") == []


def test_a_warm_call_reads_nothing_again(maven_db):
    frames_for(None)
    loads = arrow_cache.loads
    f = frames_for(None)
    assert arrow_cache.loads == loads
    assert m.velocity(f, None, "year")


@on_postgres
def test_every_metric_gives_the_same_rows_on_postgres_as_on_duckdb(maven_db):
    rep = User.objects.get(full_name="Anna Snelling")
    for user in (None, rep):
        duck, pg = frames_for(user, "duckdb"), frames_for(user, "postgres")
        for by in (None, "owner", "team", "product", "region", "source"):
            assert m.velocity(duck, by, "quarter") == m.velocity(pg, by, "quarter")
        for period in ("month", "year"):
            assert m.velocity(duck, None, period) == m.velocity(pg, None, period)
        assert m.levers(duck, "owner", "quarter") == m.levers(pg, "owner", "quarter")
        assert m.pipeline_creation(duck) == m.pipeline_creation(pg)
        assert m.diagnosis(duck) == m.diagnosis(pg)
        assert m.meeting_report(duck, date(2017, 6, 12)) == m.meeting_report(pg, date(2017, 6, 12))
        for by in ("owner", "team", "product"):
            assert m.forecast(duck, date(2017, 8, 15), group_by=by) == m.forecast(pg, date(2017, 8, 15), group_by=by)
