"""The forecast's arithmetic without a database: the range of the model's forecast (a Poisson-binomial
sum over amounts), periods, categories from the CRM and the call they imply."""

from __future__ import annotations

import itertools
import random
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealpilot.forecasting.rollup import (
    Derived,
    crm_category,
    derive,
    outcome_range,
    parse_period,
    period_of,
    week_of,
)


def test_two_deals_at_one_half_hand_computed():
    # outcomes 0, 100, 200, 300, each with probability 1/4: cumulative 0.25, 0.5, 0.75, 1
    r = outcome_range([(0.5, 100), (0.5, 200)])
    assert (r.expected, r.p10, r.p50, r.p90) == (150.0, 0.0, 100.0, 300.0)
    assert r.method == "exact" and r.deals == 2


def test_the_grid_gives_the_same_answer_when_forced():
    r = outcome_range([(0.5, 100), (0.5, 200)], max_exact_states=2)
    assert r.method == "grid" and r.resolution == 0.02
    assert (r.p10, r.p50, r.p90) == (0.0, 100.0, 300.0)


def test_a_sure_deal_and_a_long_shot():
    # 1000 for sure; 5000 with p=0.05: P(S=1000)=0.95 -> P10, P50 and P90 are 1000; the mean is 1250
    r = outcome_range([(1.0, 1000), (0.05, 5000)])
    assert (r.expected, r.p10, r.p50, r.p90) == (1250.0, 1000.0, 1000.0, 1000.0)
    # at p=0.2 the long shot moves P90: P(S <= 1000) = 0.8 < 0.9
    assert outcome_range([(1.0, 1000), (0.2, 5000)]).p90 == 6000.0


def test_three_equal_deals_are_a_binomial():
    # Binomial(3, 0.3) x 10: P(0)=.343, P(1)=.441 (cum .784), P(2)=.189 (cum .973)
    r = outcome_range([(0.3, 10)] * 3)
    assert (r.p10, r.p50, r.p90, r.expected) == (0.0, 10.0, 20.0, 9.0)


def test_nothing_open_and_odd_inputs():
    assert outcome_range([]).p90 == 0.0
    r = outcome_range([(0.7, None), (0.0, 500), (float("nan"), 100), (1.5, 10), (-1, 10)])
    assert (r.expected, r.p10, r.p90) == (10.0, 10.0, 10.0)  # only the p>1 deal (clipped to 1) brings anything
    assert r.deals == 5


def _brute(deals):
    outcomes = {}
    for won in itertools.product((0, 1), repeat=len(deals)):
        p = 1.0
        total = 0
        for (pi, a), w in zip(deals, won):
            p *= pi if w else 1 - pi
            total += a * w
        outcomes[total] = outcomes.get(total, 0) + p
    values = sorted(outcomes)
    cum, out = 0.0, {}
    for q in (0.1, 0.5, 0.9):
        cum = 0.0
        for v in values:
            cum += outcomes[v]
            if cum >= q - 1e-9:
                out[q] = v
                break
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 50_000)), min_size=1, max_size=8))
def test_exact_matches_brute_force_enumeration(deals):
    want = _brute(deals)
    r = outcome_range(deals)
    assert r.method == "exact"
    assert (r.p10, r.p50, r.p90) == (want[0.1], want[0.5], want[0.9])
    assert r.p10 <= r.p50 <= r.p90


def test_many_deals_on_the_grid_agree_with_a_simulation():
    import numpy as np

    rng = random.Random(4)
    deals = [(rng.random(), round(rng.lognormvariate(10, 1), 2)) for _ in range(250)]
    r = outcome_range(deals)
    assert r.method == "grid" and r.resolution > 0
    p = np.array([d[0] for d in deals])
    a = np.array([d[1] for d in deals])
    sims = (np.random.default_rng(0).random((40_000, len(deals))) < p) @ a
    for got, want in zip((r.p10, r.p50, r.p90), np.percentile(sims, [10, 50, 90])):
        assert abs(got - want) / want < 0.01
    assert r.expected == pytest.approx(float((p * a).sum()), abs=0.01)


def test_periods():
    assert parse_period("2026-Q4", date(2026, 1, 1)).end == date(2026, 12, 31)
    assert parse_period("2026-q1", date(2026, 1, 1)).label == "2026-Q1"
    assert parse_period("2024-02", date(2026, 1, 1)).end == date(2024, 2, 29)
    assert parse_period("2026", date(2026, 1, 1)).kind == "year"
    assert parse_period("", date(2026, 12, 4)).label == "2026-Q4"
    assert period_of(date(2026, 12, 4)).next().label == "2027-Q1"
    assert period_of(date(2026, 1, 4), "month").previous().label == "2025-12"
    for bad in ("2026-Q5", "2026-13", "Q4", "0999", "26-Q1", "2026-Q4; drop"):
        with pytest.raises(ValueError):
            parse_period(bad, date(2026, 1, 1))
    assert week_of(date(2026, 12, 6)) == date(2026, 11, 30)


def test_categories_from_the_crm():
    open_ = {"is_closed": False, "is_won": False}
    assert crm_category("Pipeline", **open_) == "pipeline"
    assert crm_category("Best Case", **open_) == "best_case"
    assert crm_category("BestCase", **open_) == "best_case"
    assert crm_category(" commit ", **open_) == "commit"
    assert crm_category("Omitted", **open_) == "omitted"
    assert crm_category("Closed", **open_) == "commit"  # an open deal the CRM calls closed
    assert crm_category("", **open_) == "pipeline" and crm_category("Upside", **open_) == "pipeline"
    assert crm_category("Pipeline", is_closed=True, is_won=True) == "closed"
    assert crm_category("Commit", is_closed=True, is_won=False) == "omitted"


def test_the_call_deals_imply():
    d = derive(Decimal(100), [("commit", Decimal(50)), ("best_case", Decimal(30)), ("pipeline", Decimal(20)),
                              ("omitted", Decimal(1000)), ("commit", None)])
    assert d == Derived(Decimal(100), Decimal(150), Decimal(180), Decimal(200))
    assert d + d == Derived(Decimal(200), Decimal(300), Decimal(360), Decimal(400))
