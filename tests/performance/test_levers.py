"""The lever split adds up exactly, whatever the two periods; what-ifs move velocity as the formula says."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealpilot.performance.levers import LEVERS, split_levers, what_if, what_ifs


def row(n, avg, wr, cycle):
    return {"opportunities": n, "avg_deal_value": avg, "win_rate": wr, "cycle_days": cycle, "velocity": n * avg * wr / cycle}


positive = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=0.001, max_value=1.0)


@given(st.integers(1, 10_000), positive, rates, positive, st.integers(1, 10_000), positive, rates, positive)
def test_the_split_sums_to_the_change(n1, a1, w1, c1, n2, a2, w2, c2):
    before, after = row(n1, a1, w1, c1), row(n2, a2, w2, c2)
    s = split_levers(before, after)
    assert s.defined
    assert math.fsum(s.log_terms.values()) == pytest.approx(math.log(after["velocity"] / before["velocity"]), abs=1e-9)
    assert math.fsum(s.money_terms.values()) == pytest.approx(after["velocity"] - before["velocity"],
                                                              rel=1e-9, abs=1e-9 * max(1.0, before["velocity"], after["velocity"]))


def test_each_lever_alone():
    before = row(10, 1000, 0.5, 50)
    s = split_levers(before, row(20, 1000, 0.5, 50))
    assert s.log_terms == {"opportunities": pytest.approx(math.log(2)), "avg_deal_value": 0, "win_rate": 0, "cycle_days": 0}
    assert s.money_terms["opportunities"] == pytest.approx(100.0)
    s = split_levers(before, row(10, 1000, 0.5, 100))  # a cycle twice as long halves velocity
    assert s.log_terms["cycle_days"] == pytest.approx(-math.log(2)) and s.money_terms["cycle_days"] == pytest.approx(-50.0)
    s = split_levers(before, before)
    assert s.log_change == 0 and set(s.money_terms.values()) == {0.0}


def test_no_split_when_a_lever_is_zero_or_unknown():
    s = split_levers(row(10, 1000, 0.5, 50), {"opportunities": 3, "won": 0, "win_rate": 0.0, "avg_deal_value": None,
                                               "cycle_days": None, "velocity": 0.0})
    assert not s.defined and s.money_terms is None and "no split" in s.reason and s.after == 0.0


def test_what_if():
    r = row(10, 1000, 0.5, 50)
    assert what_if(r, "win_rate", 20) == pytest.approx(120)
    assert what_if(r, "cycle_days", -20) == pytest.approx(125)
    assert what_ifs(r, 10) == {"opportunities": pytest.approx(110), "avg_deal_value": pytest.approx(110),
                               "win_rate": pytest.approx(110), "cycle_days": pytest.approx(100 / 0.9)}
    assert what_if({"velocity": None}, "win_rate", 10) is None
    with pytest.raises(ValueError):
        what_if(r, "luck", 10)
    with pytest.raises(ValueError):
        what_if(r, "win_rate", -100)
    assert set(LEVERS) == set(what_ifs(r))


def test_each_lever_moves_velocity_by_its_own_effect():
    from dealpilot.performance.levers import WhatIf, goal_seek, moved

    row = {"opportunities": 40, "avg_deal_value": 10000, "win_rate": 0.2, "cycle_days": 80, "velocity": 40 * 10000 * 0.2 / 80}
    w = WhatIf(more_deals=10, bigger_deals=10, win_points=5, shorter_cycle=10)
    gains = {lever: moved(row, lever, w)["gain_pct"] for lever in LEVERS}
    assert gains == pytest.approx({"opportunities": 10, "avg_deal_value": 10, "win_rate": 25, "cycle_days": 100 * (80 / 70 - 1)})
    assert moved(row, "win_rate", WhatIf(win_points=90))["after"] == 1.0  # a win rate stops at 100%
    assert moved(row, "cycle_days", WhatIf(shorter_cycle=500))["after"] == 1.0  # a cycle lasts a day at least
    assert moved({"velocity": None}, "win_rate", w) is None
    # goal seek: twice the velocity needs twice the deals, the deal size or the win rate, or half the cycle
    needed = {r["lever"]: r for r in goal_seek(row, row["velocity"] * 2)}
    assert needed["opportunities"]["needed"] == pytest.approx(80) and needed["cycle_days"]["needed"] == pytest.approx(40)
    assert needed["win_rate"]["needed"] == pytest.approx(0.4) and needed["win_rate"]["reachable"]
    assert not {r["lever"]: r for r in goal_seek(row, row["velocity"] * 6)}["win_rate"]["reachable"]  # 120%
    assert goal_seek(row, 0) == []
