"""The metrics on small, hand-made records: every section of the meeting report, targets and stage
probabilities in the forecast, activities in the diagnosis, empty and tiny data, the cache; and the
same rows on PostgreSQL as on DuckDB when the suite runs there."""

import importlib.util
from datetime import date, datetime, timezone

import pytest
from django.db import connection

from dealpilot.analytics import metrics as m
from dealpilot.analytics.frames import EngineUnavailable, arrow_cache, frames_for
from dealpilot.analytics.report import ReportError, render, report_rows
from dealpilot.crm.models import Role, SalesTarget
from tests.factories import add_line_item, add_stage_change, make_account, make_activity, make_opportunity, make_product, make_team, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
ENGINES = ["duckdb", "postgres"] if connection.vendor == "postgresql" else ["duckdb"]
MEETING = date(2025, 3, 10)  # a Monday; the last meeting was on 3 March


def at(d: date, hour: int = 10) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=timezone.utc)


@pytest.fixture
def team():
    t = make_team("Benelux")
    manager = make_user(Role.MANAGER, team=t, username="mia", full_name="Mia Manager")
    ann = make_user(Role.REP, team=t, manager=manager, username="ann", full_name="Ann Rep")
    bob = make_user(Role.REP, team=t, manager=manager, username="bob", full_name="Bob Rep")
    cat = make_user(Role.REP, team=t, manager=manager, username="cat", full_name="Cat Rep")
    acc = make_account(ann, region="EMEA")
    widget = make_product("Widget")
    deals = {}
    # Ann: new this week, one that slipped, one pushed back, one untouched, one touched by a call
    deals["new"] = make_opportunity(ann, acc, name="new", created_date=date(2025, 3, 5), close_date=date(2025, 5, 1),
                                    stage="Prospecting", amount=1000)
    deals["slipped"] = make_opportunity(ann, acc, name="slipped", created_date=date(2025, 1, 6), close_date=date(2025, 4, 30),
                                        stage="Proposal/Price Quote", amount=40000)
    add_stage_change(deals["slipped"], "Proposal/Price Quote", at(date(2025, 2, 1)), probability=75)
    h = add_stage_change(deals["slipped"], "Proposal/Price Quote", at(date(2025, 3, 4)), probability=75)
    h.close_date = date(2025, 4, 30)
    h.save()
    first = deals["slipped"].stage_history.order_by("changed_at").first()
    first.close_date = date(2025, 3, 31)
    first.save()
    deals["back"] = make_opportunity(ann, acc, name="back", created_date=date(2025, 1, 6), close_date=date(2025, 3, 28),
                                     stage="Qualification", amount=20000)
    add_stage_change(deals["back"], "Negotiation/Review", at(date(2025, 2, 10)), probability=90)
    add_stage_change(deals["back"], "Qualification", at(date(2025, 3, 6)), probability=10)
    deals["quiet"] = make_opportunity(ann, acc, name="quiet", created_date=date(2025, 1, 6), close_date=date(2025, 3, 20),
                                      stage="Needs Analysis", amount=10000)
    deals["called"] = make_opportunity(ann, acc, name="called", created_date=date(2025, 1, 6), close_date=date(2025, 6, 20),
                                       stage="Needs Analysis", amount=5000, probability=25)
    make_activity(ann, opportunity=deals["called"], activity_date=date(2025, 3, 7))
    add_stage_change(deals["called"], "Qualification", at(date(2025, 2, 3)), probability=20)
    add_stage_change(deals["called"], "Needs Analysis", at(date(2025, 2, 17)), probability=25)
    deals["overdue"] = make_opportunity(ann, acc, name="overdue", created_date=date(2025, 1, 6), close_date=date(2025, 3, 1),
                                        stage="Value Proposition", amount=8000)
    make_activity(ann, opportunity=deals["overdue"], activity_date=date(2025, 3, 3))
    # closed deals in Q1: Ann 2 won of 3, Bob 1 won of 1; Cat nothing
    for owner, status, amount, created, closed in [(ann, "won", 30000, date(2024, 12, 1), date(2025, 2, 1)),
                                                   (ann, "won", 10000, date(2025, 1, 1), date(2025, 3, 2)),
                                                   (ann, "lost", 50000, date(2025, 1, 1), date(2025, 2, 15)),
                                                   (bob, "won", 12000, date(2025, 1, 10), date(2025, 2, 9)),
                                                   (bob, "won", 9000, date(2024, 10, 1), date(2024, 11, 30))]:
        d = make_opportunity(owner, acc, status=status, amount=amount, created_date=created, close_date=closed, stage=status)
        add_line_item(d, widget)
    for _ in range(6):
        make_activity(bob, activity_date=date(2025, 2, 20))
    SalesTarget.objects.create(owner=ann, period_start=date(2025, 1, 1), period_end=date(2025, 3, 31), amount=100000)
    SalesTarget.objects.create(owner=ann, period_start=date(2025, 4, 1), period_end=date(2025, 6, 30), amount=60000)
    SalesTarget.objects.create(owner=bob, period_start=date(2025, 1, 1), period_end=date(2025, 1, 31), amount=10000)
    return {"manager": manager, "ann": ann, "bob": bob, "cat": cat, "deals": deals}


@pytest.mark.parametrize("engine", ENGINES)
def test_meeting_report_sections(team, engine):
    r = m.meeting_report(frames_for(team["manager"], engine), MEETING)
    assert [d["name"] for d in r["new"]] == ["new"]
    assert {d["name"] for d in r["same_as_last_week"]} == {"quiet"}  # slipped and back moved, called/overdue touched
    assert sorted((d["name"], d["why"]) for d in r["slipped"]) == [("overdue", "close date passed, still open"),
                                                                   ("slipped", "close date moved later")]
    assert next(d for d in r["slipped"] if d["name"] == "slipped")["previous_close_date"] == date(2025, 3, 31)
    assert [(d["name"], d["from_stage"], d["to_stage"]) for d in r["pushed_back"]] == [("back", "Negotiation/Review", "Qualification")]
    # with an explicit stage order instead of probabilities
    order = ["Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]
    r = m.meeting_report(frames_for(team["manager"], engine), MEETING, stage_order=order)
    assert [d["name"] for d in r["pushed_back"]] == ["back"]


@pytest.mark.parametrize("engine", ENGINES)
def test_forecast_weighs_open_deals_against_target(team, engine):
    rows = m.forecast(frames_for(team["manager"], engine), date(2025, 2, 1), "quarter", periods=2)
    ann_q1 = next(r for r in rows if r["group"] == "Ann Rep" and r["period"] == "2025-Q1")
    # open in Q1: back 20000 @ 10% (Qualification), quiet 10000 @ 20%, overdue 8000 @ 50%
    assert ann_q1["closed_won"] == 40000.0
    assert ann_q1["weighted_open"] == pytest.approx(2000 + 2000 + 4000)
    assert ann_q1["target"] == 100000.0 and ann_q1["gap"] == 60000.0 and ann_q1["current"]
    assert ann_q1["forecast"] == pytest.approx(48000)
    ann_q2 = next(r for r in rows if r["group"] == "Ann Rep" and r["period"] == "2025-Q2")
    # open in Q2: new 1000, slipped 40000, called 5000 (own probability 25% as Needs Analysis is 20%)
    assert ann_q2["pipeline"] == 46000.0 and ann_q2["target"] == 60000.0
    assert ann_q2["coverage"] == pytest.approx(46000 / 60000, abs=1e-4)
    bob_q1 = next(r for r in rows if r["group"] == "Bob Rep" and r["period"] == "2025-Q1")
    assert bob_q1["target"] == 10000.0 and bob_q1["closed_won"] == 12000.0 and bob_q1["coverage"] is None
    # configured probabilities replace the defaults
    rows = m.forecast(frames_for(team["manager"], engine), date(2025, 2, 1), "quarter", periods=1,
                      stage_probabilities={"Qualification": 0.5})
    ann_q1 = next(r for r in rows if r["group"] == "Ann Rep")
    assert ann_q1["weighted_open"] == pytest.approx(10000)  # quiet and overdue have no own probability
    team_rows = m.forecast(frames_for(team["manager"], engine), date(2025, 2, 1), "quarter", periods=1, group_by="team")
    assert [(r["group"], r["target"], r["closed_won"]) for r in team_rows] == [("Benelux", 110000.0, 52000.0)]


@pytest.mark.parametrize("engine", ENGINES)
def test_diagnosis_counts_activities(team, engine):
    rows = {r["rep"]: r for r in m.diagnosis(frames_for(team["manager"], engine), date(2025, 1, 1), date(2025, 3, 9))}
    assert set(rows) == {"Ann Rep", "Bob Rep", "Cat Rep"}
    assert rows["Bob Rep"]["activities"] == 6 and rows["Ann Rep"]["activities"] == 2
    assert (rows["Ann Rep"]["closed"], rows["Ann Rep"]["won"]) == (3, 2)
    # Ann's deals entered 6 stages in the window; one (called: 20% -> 25%) moved on from it
    assert (rows["Ann Rep"]["stage_entries"], rows["Ann Rep"]["advanced"]) == (6, 1)
    assert rows["Ann Rep"]["stage_conversion"] == pytest.approx(1 / 6) and rows["Bob Rep"]["stage_conversion"] is None
    assert all(r["small_sample"] for r in rows.values())
    assert rows["Cat Rep"]["verdict"] == "too little activity"
    assert "not judged" in rows["Ann Rep"]["reason"] and rows["Ann Rep"]["reason"].startswith("Forecast 48% of target in 2025-Q1")
    # Bob's forecast (12,000) beats his 10,000 target: producing, so neither his activity nor his win rate is judged
    assert rows["Bob Rep"]["verdict"] == "producing" and rows["Bob Rep"]["reason"].startswith("Forecast 120% of target")


@pytest.mark.parametrize("engine", ENGINES)
def test_velocity_and_levers_on_tiny_data(team, engine):
    f = frames_for(team["manager"], engine)
    rows = m.velocity(f, "owner", "quarter")
    ann = [r for r in rows if r["group"] == "Ann Rep"]
    assert ann == [{"group": "Ann Rep", "period": "2025-Q1", "opportunities": 3, "won": 2, "win_rate": 0.666667,
                    "avg_deal_value": 20000.0, "cycle_days": 61.0, "velocity": pytest.approx(3 * 20000 * (2 / 3) / 61, abs=0.01)}]
    lev = m.levers(f, "owner", "quarter")
    assert [(r["group"], r["from_period"], r["to_period"]) for r in lev] == [("Bob Rep", "2024-Q4", "2025-Q1")]
    assert lev[0]["opportunities_log"] == 0 and lev[0]["win_rate_log"] == 0
    assert m.velocity(f, "product", "year")[1:] == [{"group": "Widget", "period": "2025", "opportunities": 4, "won": 3,
                                                 "win_rate": 0.75, "avg_deal_value": pytest.approx(17333.33),
                                                 "cycle_days": pytest.approx((62 + 60 + 30) / 3, abs=1e-4),
                                                 "velocity": pytest.approx(4 * 52000 / 3 * 0.75 / ((62 + 60 + 30) / 3), abs=0.01)}]
    assert {r["group"] for r in m.velocity(f, "region", "year")} == {"EMEA"}


def test_lever_split_of_a_period_without_wins_says_why(team):
    f = frames_for(team["manager"])
    make_opportunity(team["bob"], status="lost", created_date=date(2025, 4, 1), close_date=date(2025, 4, 10))
    lev = [r for r in m.levers(frames_for(team["manager"]), "owner", "quarter") if r["from_period"] == "2025-Q1"]
    assert len(lev) == 1 and lev[0]["velocity_after"] == 0.0 and lev[0]["opportunities_log"] is None
    assert lev[0]["note"].startswith("no split")
    assert f  # the earlier frames stay usable


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_data_gives_empty_reports(engine):
    f = frames_for(None, engine)
    assert m.velocity(f, "owner") == [] and m.levers(f) == []
    assert m.pipeline_creation(f, date(2025, 1, 1), date(2025, 1, 31))["rows"] == []
    assert m.pipeline_creation(f)["rows"] == []
    assert m.diagnosis(f) == []
    assert all(v == [] for k, v in m.meeting_report(f).items() if k != "meeting_day")
    assert m.forecast(f) == []
    for name in ("velocity", "levers", "pipeline-creation", "diagnosis", "meeting", "forecast"):
        rows = report_rows(name, engine=engine)
        assert rows == [] and render(rows, "json") == "[]" and "no rows" in render(rows, "table")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_rep_sees_only_their_own_records(team, engine):
    f = frames_for(team["bob"], engine)
    assert {r["group"] for r in m.velocity(f, "owner")} == {"Bob Rep"}
    assert {r["rep"] for r in m.diagnosis(f, date(2025, 1, 1), date(2025, 3, 9))} == {"Bob Rep"}
    assert all(v == [] for k, v in m.meeting_report(f, MEETING).items() if k != "meeting_day")
    assert {r["group"] for r in m.forecast(f, date(2025, 2, 1))} == {"Bob Rep"}


def test_the_cache_reloads_only_what_changed(team):
    frames_for(None)
    loads = arrow_cache.loads
    frames_for(None)
    assert arrow_cache.loads == loads
    make_opportunity(team["cat"], status="won", created_date=date(2025, 1, 1), close_date=date(2025, 1, 31))
    rows = m.velocity(frames_for(None), "owner")
    assert arrow_cache.loads == loads + 1  # the opportunities only
    assert "Cat Rep" in {r["group"] for r in rows}


def test_report_rows_and_formats(team):
    rows = report_rows("velocity", group_by="owner", as_user="bob")
    assert {r["group"] for r in rows} == {"Bob Rep"}
    assert render(rows, "csv").splitlines()[0] == ",".join(m.VELOCITY_COLUMNS)
    assert "Bob Rep" in render(rows, "table")
    rows = report_rows("meeting", end=MEETING, as_user="mia")
    assert [r["section"] for r in rows][0] == "new"
    with pytest.raises(ReportError):
        report_rows("velocity", as_user="nobody")
    with pytest.raises(ReportError):
        report_rows("velocity", group_by="colour")
    with pytest.raises(ReportError):
        report_rows("speed")


def test_engines_that_cannot_run_say_so():
    if connection.vendor != "postgresql":
        with pytest.raises(EngineUnavailable, match="PostgreSQL"):
            frames_for(None, "postgres")
    if importlib.util.find_spec("pyspark") is None:
        with pytest.raises(EngineUnavailable, match="spark"):
            frames_for(None, "spark")
    with pytest.raises(EngineUnavailable):
        frames_for(None, "oracle")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_every_metric_gives_the_same_rows_on_both_engines(team):
    for user in (team["manager"], team["ann"]):
        duck, pg = frames_for(user, "duckdb"), frames_for(user, "postgres")
        for by in (None, "product", "region"):
            assert m.velocity(duck, by, "month") == m.velocity(pg, by, "month")
        assert m.levers(duck, "owner", "month") == m.levers(pg, "owner", "month")
        assert m.pipeline_creation(duck) == m.pipeline_creation(pg)
        assert m.diagnosis(duck) == m.diagnosis(pg)
        assert m.meeting_report(duck, MEETING) == m.meeting_report(pg, MEETING)
        assert m.forecast(duck, date(2025, 2, 1)) == m.forecast(pg, date(2025, 2, 1))
