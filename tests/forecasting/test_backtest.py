"""The backtest puts each deal back as it stood on a past day: its stage, amount and expected close from its
history, open only if it had not closed by then; what was won by then and in the whole quarter; and what
earlier quarters won from deals created later in the quarter (new business)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.crm.models import StageHistory
from dealpilot.forecasting.backtest import History, weeks_of
from dealpilot.forecasting.rollup import NewBusiness, period_of
from tests.factories import add_stage_change, make_opportunity, make_user

pytestmark = pytest.mark.django_db


def step(deal, stage, on, *, amount=None, close=None):
    s = add_stage_change(deal, stage, on, amount=amount)
    StageHistory.objects.filter(pk=s.pk).update(close_date=close)


@pytest.fixture
def quarter():
    """Last quarter, with deals that were open, closed, created later in it, and one won the quarter before."""
    rep = make_user(username="rep")
    q = period_of(period_of(timezone.localdate()).start - timedelta(days=1))
    start = q.start
    won = make_opportunity(rep, name="A", stage="Closed Won", status="won", amount=100, created_date=start - timedelta(days=30),
                           close_date=start + timedelta(days=20))
    step(won, "Proposal/Price Quote", start - timedelta(days=30), amount=90, close=start + timedelta(days=40))
    step(won, "Closed Won", start + timedelta(days=20), amount=100, close=start + timedelta(days=20))
    lost = make_opportunity(rep, name="B", stage="Closed Lost", status="lost", amount=0, created_date=start - timedelta(days=10),
                            close_date=start + timedelta(days=50))
    step(lost, "Qualification", start - timedelta(days=10), amount=50, close=start + timedelta(days=60))
    step(lost, "Closed Lost", start + timedelta(days=50), amount=0)
    still_open = make_opportunity(rep, name="C", stage="Negotiation/Review", amount=45, created_date=start - timedelta(days=5),
                                  close_date=timezone.localdate() + timedelta(days=30))
    step(still_open, "Prospecting", start - timedelta(days=5), amount=40, close=start + timedelta(days=70))
    step(still_open, "Negotiation/Review", timezone.localdate() - timedelta(days=1), amount=45,
         close=timezone.localdate() + timedelta(days=30))
    make_opportunity(rep, name="D", stage="Closed Won", status="won", amount=70, created_date=start + timedelta(days=10),
                     close_date=start + timedelta(days=30))
    before = period_of(start - timedelta(days=1))
    make_opportunity(rep, name="E", stage="Closed Won", status="won", amount=30, created_date=before.start + timedelta(days=3),
                     close_date=before.start + timedelta(days=40))
    return q


def test_the_quarter_as_it_stood_on_its_first_day(quarter):
    history = History()
    qm = history.train(quarter)
    assert qm.model is None and "too few" in qm.note  # five deals: probabilities fall back to the base rate
    f = history.forecast_on(quarter.start, qm)
    assert f.won == 0 and f.actual == 170  # A and D
    then = {history.records[d.opportunity_id].name: (d.stage, d.amount) for d in f.deals}
    assert then == {"A": ("Proposal/Price Quote", 90.0), "B": ("Qualification", 50.0), "C": ("Prospecting", 40.0)}
    assert f.stage_weighted == pytest.approx(0.75 * 90 + 0.10 * 50 + 0.10 * 40)
    # the quarter before won E (30) from a deal created on its third day: not yet in a pipeline on day one
    assert f.new_business[-1] == 30 and f.new_business[:-1] == [0, 0, 0]


def test_later_in_the_quarter(quarter):
    history = History()
    qm = history.train(quarter)
    f = history.forecast_on(quarter.start + timedelta(days=21), qm)
    assert f.won == 100  # A closed on day 20
    names = {history.records[d.opportunity_id].name for d in f.deals}
    assert names == {"B", "C", "D"}  # D was created on day 10; A is won
    assert f.new_business[-1] == 0  # E was created before day 21 of its quarter
    assert weeks_of(quarter)[0] == quarter.start and all(d <= quarter.end for d in weeks_of(quarter))


def test_new_business_widens_the_range_in_quadrature():
    nb = NewBusiness([100.0, 300.0])
    assert nb.expected == 200 and nb.spread == pytest.approx(141.421, rel=1e-3)
    p10, p50, p90 = nb.widen(900, 1000, 1100)
    assert p50 == 1200
    assert p90 - p50 == pytest.approx((100 ** 2 + (1.2815515655 * 141.421) ** 2) ** 0.5, rel=1e-4)
    assert NewBusiness([]).widen(1, 2, 3) == (1, 2, 3)
