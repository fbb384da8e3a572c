"""The scoring model (validation, YAML), the vectorised scoring, and the measures of the records."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from dealpilot.planning import scoring
from dealpilot.planning.scoring import (
    SpecError,
    default_spec,
    dump_yaml,
    level_points,
    measure,
    parse_spec,
    parse_yaml,
    quadrants,
    score_frame,
)
from tests.factories import add_contact_role, make_account, make_activity, make_contact, make_opportunity, make_user


def small_spec(**thresholds):
    return parse_spec({
        "name": "Test model",
        "thresholds": thresholds or {"current": "median", "future": "median"},
        "elements": [
            {"key": "revenue", "axis": "current", "name": "Revenue", "kind": "computed", "metric": "won_revenue", "weight": 3,
             "levels": [{"level": "high", "label": "High", "points": 100, "min": 1000},
                        {"level": "low", "label": "Low", "points": 0}]},
            {"key": "profit", "axis": "current", "name": "Profit", "kind": "rated", "weight": 1,
             "levels": [{"level": "high", "label": "High", "points": 100}, {"level": "medium", "label": "Medium", "points": 40},
                        {"level": "low", "label": "Low", "points": 0}]},
            {"key": "recency", "axis": "future", "name": "Recency", "kind": "computed", "metric": "days_since_activity",
             "weight": 1, "levels": [{"level": "high", "label": "High", "points": 100, "max": 30},
                                     {"level": "low", "label": "Low", "points": 0}]},
        ],
    })


def test_default_model_loads_and_round_trips_through_yaml():
    spec = default_spec()
    assert {e.axis for e in spec.elements} == {"current", "future"}
    assert {e.kind for e in spec.elements} == {"computed", "rated"}
    assert parse_yaml(dump_yaml(spec)) == spec
    assert spec.thresholds == {"current": "median", "future": "median"}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["elements"][0].update(metric="nope"), "metric must be one of"),
    (lambda d: d["elements"][1].update(key="revenue"), "two elements have the same key"),
    (lambda d: d["elements"][0]["levels"][-1].update(min=5), "last level must have no min/max"),
    (lambda d: d["elements"][1]["levels"][0].update(min=5), "rated element's levels have no min/max"),
    (lambda d: [e.update(weight=0) for e in d["elements"] if e["axis"] == "future"], "future revenue score needs"),
    (lambda d: d["thresholds"].update(current=150), "threshold current"),
    (lambda d: d.update(surprise=1), "surprise"),
])
def test_a_bad_model_is_refused_with_its_reason(change, message):
    data = small_spec().model_dump()
    change(data)
    with pytest.raises(SpecError, match=message):
        parse_spec(data)


def test_bad_yaml_is_a_spec_error():
    with pytest.raises(SpecError, match="not valid YAML"):
        parse_yaml("name: [unclosed")
    with pytest.raises(SpecError, match="a mapping"):
        parse_yaml("- just a list")


def test_levels_first_match_wins_and_missing_values_take_the_catch_all():
    levels = default_spec().element("relationship_recency").levels  # max 30, max 90, rest
    index, points = level_points(np.array([0, 30, 31, 90, 91, np.nan]), levels)
    assert index.tolist() == [0, 0, 1, 1, 2, 2]
    assert points.tolist() == [100, 100, 50, 50, 0, 0]


def test_scores_are_weighted_means_and_quadrants_split_at_the_medians():
    spec = small_spec()
    ids = np.array([1, 2, 3, 4])
    measures = {"won_revenue": pd.Series([5000.0, 5000.0, 10.0], index=[1, 2, 3]),  # 4 has no rows: 0
                "days_since_activity": pd.Series([5.0, 100.0, 2.0], index=[1, 2, 3])}  # 4 never contacted
    ratings = {"profit": pd.Series(["medium", "high"], index=[1, 3])}
    s = score_frame(spec, ids, measures, ratings, timezone.localdate())
    f = s.frame
    # current = (3 * revenue points + 1 * profit points) / 4; unrated profit counts at its lowest level (0)
    assert f["current"].tolist() == [(300 + 40) / 4, 300 / 4, 100 / 4, 0.0]
    assert f["future"].tolist() == [100.0, 0.0, 100.0, 0.0]
    assert s.current_threshold == pytest.approx((75 + 25) / 2)
    assert s.future_threshold == 50.0
    assert f["quadrant"].tolist() == ["A", "C", "B", "D"]
    assert f["profit.level"].tolist() == [1, -1, 0, -1]

    parts = scoring.contributions(spec, f.loc[1])
    assert [(p["key"], p["contribution"]) for p in parts] == [("revenue", 75.0), ("profit", 10.0), ("recency", 100.0)]
    assert sum(p["contribution"] for p in parts if p["axis"] == "current") == pytest.approx(f.loc[1, "current"])


def test_configured_thresholds_replace_the_medians():
    s = score_frame(small_spec(current=10, future=99), np.array([1, 2]),
                    {"won_revenue": pd.Series([5000.0], index=[1]), "days_since_activity": pd.Series(dtype="float64")},
                    {}, timezone.localdate())
    assert (s.current_threshold, s.future_threshold) == (10, 99)
    assert s.frame["quadrant"].tolist() == ["C", "D"]


def test_quadrant_ties_at_the_threshold_count_as_low():
    assert quadrants(np.array([50.0, 51.0]), np.array([50.0, 51.0]), 50.0, 50.0).tolist() == ["D", "A"]


@pytest.mark.django_db
def test_measures_of_the_records():
    today = timezone.localdate()
    rep = make_user("rep")
    acc, other = make_account(rep), make_account(rep)
    make_opportunity(rep, acc, amount=1000, status="won", close_date=today - timedelta(days=10))
    make_opportunity(rep, acc, amount=500, status="won", close_date=today - timedelta(days=400))  # outside the window
    make_opportunity(rep, acc, amount=200, status="lost", close_date=today - timedelta(days=5))
    open_opp = make_opportunity(rep, acc, amount=300)
    make_opportunity(rep, other, amount=70)
    c1, c2 = make_contact(acc), make_contact(acc)
    gone = make_contact(acc, has_left=True)
    for c in (c1, c2, gone):
        add_contact_role(open_opp, c)
    make_activity(rep, opportunity=open_opp, activity_date=today - timedelta(days=12))  # through its deal
    other_contact = make_contact(other)
    make_activity(rep, contact=other_contact, activity_date=today - timedelta(days=3))  # through its contact
    make_activity(rep, account=other, activity_date=today - timedelta(days=200))

    def m(name):
        return measure(name, today, 365).to_dict()

    assert m("won_revenue") == {acc.pk: 1000.0}
    assert m("won_deals") == {acc.pk: 1.0}
    assert m("open_pipeline") == {acc.pk: 300.0, other.pk: 70.0}
    assert m("open_deals") == {acc.pk: 1.0, other.pk: 1.0}
    assert m("contact_coverage") == {acc.pk: 2.0}
    assert m("contacts") == {acc.pk: 2.0, other.pk: 1.0}
    assert m("days_since_activity") == {acc.pk: 12.0, other.pk: 3.0}
    assert m("activities_90d") == {acc.pk: 1.0, other.pk: 1.0}
    assert measure("won_revenue", today, 500).to_dict() == {acc.pk: 1500.0}


@pytest.mark.django_db
def test_a_change_of_weights_reads_no_records_again():
    from dealpilot.planning import selectors, services
    from dealpilot.planning.scoring import measure_cache

    rep = make_user("rep")
    make_opportunity(rep, make_account(rep), amount=Decimal(100))
    selectors.account_scores()
    reads = measure_cache.queries
    spec = services.active_spec().model_dump()
    spec["elements"][0]["weight"] = 99
    selectors.account_scores(parse_spec(spec))
    assert measure_cache.queries == reads
