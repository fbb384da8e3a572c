"""The diagnosis rules: which rep is behind on activity, effectiveness or both, and small samples."""

import pytest

from dealpilot.performance import diagnosis as dx
from dealpilot.performance.pipeline import creation_grid, iso_week_label, weeks_between
from datetime import date


def rep(name, acts, new, closed, won, team="A"):
    return {"rep": name, "team": team, "activities_per_week": acts, "new_per_week": new, "closed": closed, "won": won}


def test_wilson_interval_known_values():
    low, high = dx.wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = dx.wilson_interval(0, 20)
    assert low == pytest.approx(0, abs=1e-12) and round(high, 4) == 0.1611
    assert dx.wilson_interval(0, 0) is None
    assert dx.wilson_interval(9, 10, 0.99)[0] < dx.wilson_interval(9, 10, 0.95)[0]


def test_verdicts():
    rows = {r["rep"]: r for r in dx.diagnose([
        rep("steady", 10, 2, 20, 8),
        rep("quiet", 4, 2, 20, 8),        # activities 40% of the median
        rep("unlucky", 10, 2, 20, 2),     # win rate 10% against 40%
        rep("both", 3, 0.5, 20, 2),
        rep("new", 10, 2, 4, 0),          # 4 closed: not judged on effectiveness
        rep("peer", 11, 2.2, 30, 12),
    ])}
    assert rows["steady"]["verdict"] == dx.ON_TRACK
    assert rows["quiet"]["verdict"] == dx.LOW_ACTIVITY
    assert rows["unlucky"]["verdict"] == dx.LOW_EFFECTIVENESS
    assert rows["both"]["verdict"] == dx.BOTH
    assert rows["new"]["verdict"] == dx.NOT_JUDGED and rows["new"]["small_sample"]
    assert rows["steady"]["team_win_rate"] == 0.4  # the median of the judged reps only
    assert rows["unlucky"]["reason"] == ("10.0 activities and 2.0 new opportunities a week against the team's 10.0 and 2.0, "
                                         "win rate 10% (95% interval 3%-30%) on 20 closed against the team's 40%: "
                                         "too low effectiveness.")
    assert "not judged" in rows["new"]["reason"]
    assert all(r["reason"].count(".") == r["reason"].count(". ") + 1 or r["reason"].endswith(".") for r in rows.values())


def test_thresholds_are_configurable_and_small_teams_use_everyone():
    reps = [rep("a", 10, 2, 20, 8), rep("b", 6, 2, 20, 8), rep("c", 10, 2, 20, 8), rep("solo", 1, 2, 20, 8, team="B")]
    rows = {r["rep"]: r for r in dx.diagnose(reps)}
    assert rows["b"]["verdict"] == dx.LOW_ACTIVITY  # 6 < 0.7 x 10
    assert rows["solo"]["team_activities_per_week"] == 8  # team B has 1 rep: compared with all four
    rows = {r["rep"]: r for r in dx.diagnose(reps, dx.Thresholds(activity_ratio=0.5))}
    assert rows["b"]["verdict"] == dx.ON_TRACK


def test_zero_medians_and_no_reps_judge_nobody():
    assert dx.diagnose([]) == []
    rows = dx.diagnose([rep("a", 0, 0, 0, 0), rep("b", 0, 0, 0, 0), rep("c", 0, 0, 0, 0)])
    assert {r["verdict"] for r in rows} == {dx.NOT_JUDGED}


def test_creation_grid_fills_empty_weeks():
    reps = [{"id": 1, "name": "Ann", "team": "T"}, {"id": 2, "name": "Bob", "team": "T"}]
    grid = creation_grid(reps, [{"owner_id": 1, "week": date(2024, 12, 30), "created": 3}], date(2025, 1, 1), date(2025, 1, 12))
    assert grid["weeks"] == ["2025-W01", "2025-W02"]
    assert [(r["rep"], r["week"], r["created"], r["team_median"]) for r in grid["rows"]] == [
        ("Ann", "2025-W01", 3, 1.5), ("Bob", "2025-W01", 0, 1.5), ("Ann", "2025-W02", 0, 0), ("Bob", "2025-W02", 0, 0)]
    assert grid["none"] == {"2025-W01": ["Bob"], "2025-W02": ["Ann", "Bob"]}
    assert iso_week_label(date(2020, 12, 28)) == "2020-W53" and weeks_between(date(2025, 1, 5), date(2025, 1, 5)) == [date(2024, 12, 30)]


def test_stage_conversion_is_shown_beside_the_win_rate():
    reps = [dict(rep(n, 10, 2, 20, 8), stage_entries=e, advanced=a) for n, e, a in
            [("a", 20, 10), ("b", 20, 4), ("c", 5, 5), ("d", 0, 0)]]
    rows = {r["rep"]: r for r in dx.diagnose(reps)}
    assert rows["b"]["stage_conversion"] == 0.2 and rows["d"]["stage_conversion"] is None
    assert rows["a"]["team_stage_conversion"] == pytest.approx(0.35)  # c has too few stage changes to count
    assert "20% of stage changes moved on against 35%" in rows["b"]["reason"]
    assert rows["b"]["verdict"] == dx.ON_TRACK  # shown, not judged


def test_a_rep_who_produces_is_not_diagnosed_and_the_reason_says_why():
    """Issue 18 §1, seed 002: activity management is micromanagement when a rep produces the deals they need."""
    quiet_but_producing = dict(rep("quiet", 4, 2, 20, 8), forecast=95000.0, target=100000.0, production_period="2026-Q4")
    quiet_and_short = dict(rep("short", 4, 2, 20, 8), forecast=50000.0, target=100000.0, production_period="2026-Q4")
    no_target = rep("untargeted", 4, 2, 20, 8)
    peers = [rep("steady", 10, 2, 20, 8), rep("peer", 11, 2.2, 30, 12), rep("peer2", 12, 2, 20, 8), rep("peer3", 10, 2.1, 20, 8)]
    rows = {r["rep"]: r for r in dx.diagnose([quiet_but_producing, quiet_and_short, no_target, *peers])}
    assert rows["quiet"]["verdict"] == dx.PRODUCING
    assert rows["quiet"]["reason"].startswith("Forecast 95% of target in 2026-Q4 (producing: 90% or more), so activity "
                                              "and effectiveness are left to them")
    assert rows["short"]["verdict"] == dx.LOW_ACTIVITY
    assert rows["short"]["reason"].startswith("Forecast 50% of target in 2026-Q4, short of the 90% that counts as producing.")
    assert rows["untargeted"]["verdict"] == dx.LOW_ACTIVITY  # without a target production is unknown: judged
    stricter = {r["rep"]: r for r in dx.diagnose([quiet_but_producing, *peers], dx.Thresholds(producing_share=1.0))}
    assert stricter["quiet"]["verdict"] == dx.LOW_ACTIVITY


@pytest.mark.django_db
def test_the_leader_edits_the_thresholds(org, client):
    from dealpilot.performance.models import DiagnosisSettings

    client.force_login(org.rep_dach)
    assert client.get("/team/diagnosis/settings/").status_code == 403
    client.force_login(org.leader)
    assert client.get("/team/diagnosis/settings/").status_code == 200
    bad = client.post("/team/diagnosis/settings/", {"producing_share": 5, "activity_ratio": 0.7, "win_rate_ratio": 0.7,
                                                    "min_closed": 10})
    assert bad.status_code == 400 and not DiagnosisSettings.objects.exists()
    ok = client.post("/team/diagnosis/settings/", {"producing_share": 1.1, "activity_ratio": 0.6, "win_rate_ratio": 0.7,
                                                   "min_closed": 8})
    assert ok.status_code == 302
    assert dx.settings_thresholds() == dx.Thresholds(producing_share=1.1, activity_ratio=0.6, min_closed=8)
