"""The forecast as it would have been made in the past, against what then happened.

For a past quarter and a day in it, every deal is put back as it stood that day (its stage, amount and
expected close date from its stage history; closed only if it had closed by then). The model's forecast is
what was won in the quarter by then plus each open deal expected to close in the quarter at its win
probability, from a win model trained only on the deals closed before the quarter began (no peeking), with
the exact P10-P90 range of those probabilities; the stage-weighted forecast puts the same deals at their
stage's percentage (analytics' DEFAULT_STAGE_PROBABILITIES, else the deal's own probability, as the
dashboard does); the stage win-rate forecast at the share of the earlier closed deals that won after
reaching that stage (a fair baseline where the CRM's stage names are not in the percentage table).

Used by `bench/forecast_backtest.py` (the table in docs/benchmarks.md) and by the demo, which keeps the
start-of-quarter forecasts of its past quarters as snapshots so that the accuracy page has a history.

What the data cannot say is taken from the end: a deal with no recorded close date in its history is given
its final one (the Maven dataset records no expected close dates, so there both forecasts are told which
deals close in the quarter; the comparison between them stays fair, their absolute errors flatter them),
and an amount missing from the history is the product's list price, else the final amount of an open or
won deal (a lost deal's final amount is not read: in some exports it is zeroed when lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from dealpilot.analytics.metrics import DEFAULT_STAGE_PROBABILITIES
from dealpilot.crm.models import Opportunity, Product
from dealpilot.deals import winmodel
from dealpilot.deals.features import FeatureContext, features, training_rows
from dealpilot.deals.knowledge import active_rules, ensure_defaults
from dealpilot.deals.models import SignalSettings
from dealpilot.deals.records import DealRecord, DealState, load_records, state_as_of
from dealpilot.deals.signals import stage_norms

from .rollup import NewBusiness, Period, outcome_range, period_of


@dataclass
class DealThen:
    opportunity_id: int
    owner_id: int | None
    amount: float
    probability: float  # the model's
    stage_weight: float
    stage_rate: float
    stage: str


@dataclass
class ForecastThen:
    quarter: Period
    day: date
    won: float  # won in the quarter before `day`
    deals: list[DealThen]
    actual: float  # won in the whole quarter
    new_business: list[float] = field(default_factory=list)  # earlier quarters' wins not yet in the pipeline by this day

    @property
    def model(self) -> float:
        """The model's forecast as the forecast page makes it: won so far + the open deals at their probability."""
        return self.won + sum(d.probability * d.amount for d in self.deals)

    @property
    def model_with_new_business(self) -> float:
        """An experiment, not on the page yet: plus what earlier quarters won from deals not yet created by this day."""
        return self.model + NewBusiness(self.new_business).expected

    @property
    def stage_weighted(self) -> float:
        return self.won + sum(d.stage_weight * d.amount for d in self.deals)

    @property
    def stage_win_rate(self) -> float:
        return self.won + sum(d.stage_rate * d.amount for d in self.deals)

    def model_range(self, *, with_new_business: bool = False) -> tuple[float, float, float]:
        r = outcome_range([(d.probability, d.amount) for d in self.deals])
        p10, p50, p90 = NewBusiness(self.new_business).widen(r.p10, r.p50, r.p90) if with_new_business else (r.p10, r.p50, r.p90)
        return self.won + p10, self.won + p50, self.won + p90


@dataclass
class QuarterModel:
    quarter: Period
    model: winmodel.WinModel | None
    trained_on: int  # closed deals before the quarter
    stage_rates: dict[str, float] = field(default_factory=dict)
    base_rate: float = 0.0
    note: str = ""


class History:
    """Every deal's record, loaded once, and what a backtest needs besides (features, list prices)."""

    def __init__(self) -> None:
        ensure_defaults()
        self.records: dict[int, DealRecord] = load_records(Opportunity.objects.all())
        self.fctx = FeatureContext.build(active_rules(), SignalSettings.current(), stage_norms())
        self.settings = SignalSettings.current()
        self.prices = {name: float(price) for name, price in Product.objects.exclude(list_price=None).values_list("name", "list_price")}
        days = [r.close_date for r in self.records.values() if r.is_closed and r.close_date]
        self.first_close = min(days) if days else None
        self.last_close = max(days) if days else None

    def quarters(self, *, min_closed_before: int | None = None) -> list[Period]:
        """The quarters that have ended by the data's last close and have enough closed deals before them to train on."""
        if self.first_close is None:
            return []
        need = min_closed_before if min_closed_before is not None else self.settings.min_training_deals
        out, q = [], period_of(self.first_close)
        while q.end <= self.last_close:
            closed_before = sum(1 for r in self.records.values() if r.is_closed and r.close_date and r.close_date < q.start)
            if closed_before >= need:
                out.append(q)
            q = period_of(q.end + timedelta(days=1))
        return out

    def train(self, quarter: Period) -> QuarterModel:
        """A win model from the deals closed before the quarter began (and their stages' win rates)."""
        before = {i: r for i, r in self.records.items() if r.is_closed and r.close_date and r.close_date < quarter.start}
        won = sum(r.is_won for r in before.values())
        qm = QuarterModel(quarter, None, len(before), base_rate=won / len(before) if before else 0.0)
        reached: dict[str, list[int]] = {}
        for r in before.values():
            for stage in {s.stage for s in r.steps}:
                reached.setdefault(stage, []).append(int(r.is_won))
        qm.stage_rates = {s: sum(v) / len(v) for s, v in reached.items() if len(v) >= 5}
        if len(before) < self.settings.min_training_deals or min(won, len(before) - won) < self.settings.min_training_per_class:
            qm.note = f"{len(before)} closed deals before {quarter.label}: too few to train on"
            return qm
        rows, labels, ids, closes = training_rows(before, self.fctx)
        qm.model = winmodel.train(rows, labels, ids, closes, self.fctx.columns, self.fctx.categorical).model
        return qm

    def _amount(self, rec: DealRecord, state_amount: float | None) -> float | None:
        if state_amount is not None:
            return state_amount
        if rec.product and rec.product in self.prices:
            return self.prices[rec.product]
        if not rec.is_closed or rec.is_won:
            return rec.amount
        return None

    def forecast_on(self, day: date, qm: QuarterModel) -> ForecastThen:
        """The quarter's forecast as it would have been made at the end of `day` (before the day: `day` - 1)."""
        quarter = qm.quarter
        won_then = actual = 0.0
        pending: list[tuple[DealRecord, object, float]] = []
        for rec in self.records.values():
            if rec.is_won and rec.close_date and quarter.start <= rec.close_date <= quarter.end:
                actual += rec.amount or 0.0
                if rec.close_date < day:
                    won_then += rec.amount or 0.0
                    continue
            if rec.created and rec.created >= day:
                continue  # not there yet
            if rec.is_closed and rec.close_date and rec.close_date < day:
                continue  # closed by then
            state = as_it_stood(rec, day - timedelta(days=1))
            expected = state.close_date or rec.close_date
            if expected is None or not (quarter.start <= expected <= quarter.end):
                continue
            amount = self._amount(rec, state.amount)
            if not amount or amount <= 0:
                continue
            pending.append((rec, state, amount))
        probabilities = [qm.base_rate] * len(pending)
        if qm.model is not None and pending:
            rows = [features(state, self.fctx) for _, state, _ in pending]
            probabilities = [float(p) for p in qm.model.predict(rows)]
        deals = []
        for (rec, state, amount), p in zip(pending, probabilities):
            stage = state.stage or (rec.stage if not rec.is_closed else "")
            own = (rec.rep_probability or 0.0) / 100
            deals.append(DealThen(rec.id, rec.owner_id, amount, p, DEFAULT_STAGE_PROBABILITIES.get(stage, own),
                                  qm.stage_rates.get(stage, qm.base_rate), stage))
        return ForecastThen(quarter, day, won_then, deals, actual, self.new_business(quarter, day))

    def new_business(self, quarter: Period, day: date, owners: set[int] | None = None, *, quarters: int = 4) -> list[float]:
        """What the previous `quarters` quarters won from deals created on or after the same day of the quarter as
        `day` (business not yet in the pipeline on that day), oldest first."""
        offset = day - quarter.start
        out, q = [], quarter
        for _ in range(quarters):
            q = period_of(q.start - timedelta(days=1))
            since = q.start + offset
            out.append(sum(r.amount or 0.0 for r in self.records.values()
                           if r.is_won and r.created and r.created >= since and r.close_date and q.start <= r.close_date <= q.end
                           and (owners is None or r.owner_id in owners)))
        return list(reversed(out))

    def won_by(self, owners: set[int] | None, quarter: Period, before: date | None = None) -> float:
        end = before or (quarter.end + timedelta(days=1))
        return sum(r.amount or 0.0 for r in self.records.values()
                   if r.is_won and r.close_date and quarter.start <= r.close_date < end
                   and (owners is None or r.owner_id in owners))


def as_it_stood(rec: DealRecord, day: date) -> DealState:
    """The deal at the end of `day`: a deal still open now also gets its stage, amount and close date of then
    from its history (state_as_of keeps an open deal's current ones)."""
    state = state_as_of(rec, day)
    if rec.is_closed or not state.steps:
        return state
    steps = state.steps
    return replace(state, stage=steps[-1].stage,
                   amount=next((s.amount for s in reversed(steps) if s.amount is not None), rec.amount),
                   close_date=next((s.close_date for s in reversed(steps) if s.close_date is not None), rec.close_date))


def weeks_of(quarter: Period) -> list[date]:
    """The quarter's first day and every seventh day after it, while in the quarter."""
    days, day = [], quarter.start
    while day <= quarter.end:
        days.append(day)
        day += timedelta(days=7)
    return days
