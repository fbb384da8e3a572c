"""How right the forecasts were: for each closed period, every person's call, the model's forecast and the
stage-weighted forecast (as the weekly snapshots kept them) against what was actually won.

Read-only. A period counts once it has ended; the forecast read for it is the snapshot of the week asked
for (`at`: the first week of the period, its middle, or the last week before it ended), so a call made
late in the quarter is not compared with one made at its start. The actual is what the person's scope
won in the period, read from the deals now (a deal reassigned since counts for its new owner's scope).

Error is forecast minus actual: positive means the forecast was optimistic, negative that it sandbagged;
the error in percent is of the actual. Bias needs at least two periods to be called a habit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from dealpilot.crm.models import Opportunity, User

from .models import ForecastSnapshot
from .rollup import Period
from .selectors import forecast_people, scope_of

AT = ("start", "middle", "end")
METHODS = ("call", "model", "stage_weighted")
METHOD_LABELS = {"call": "Call (commit)", "model": "Model", "stage_weighted": "Stage-weighted"}
HABIT_PERCENT = 10.0  # a mean error beyond +-10% of the actual over two periods or more is a habit
MIN_PERIODS_FOR_A_HABIT = 2


class AccuracyError(ValueError):
    pass


@dataclass
class PeriodAccuracy:
    person: User
    period: Period
    week: date  # the snapshot read
    actual: float
    call: float | None
    model: float
    model_p10: float
    model_p90: float
    stage_weighted: float | None
    open_deals: int

    def forecast(self, method: str) -> float | None:
        return {"call": self.call, "model": self.model, "stage_weighted": self.stage_weighted}[method]

    def error(self, method: str) -> float | None:
        value = self.forecast(method)
        return None if value is None else round(value - self.actual, 2)

    def error_pct(self, method: str) -> float | None:
        err = self.error(method)
        return None if err is None or not self.actual else round(100 * err / self.actual, 1)

    @property
    def in_range(self) -> bool:
        return self.model_p10 <= self.actual <= self.model_p90

    @property
    def model_beats_call(self) -> bool | None:
        if self.call is None:
            return None
        return abs(self.model - self.actual) < abs(self.call - self.actual)

    def as_row(self) -> dict:
        row = {"person": str(self.person), "person_id": self.person.pk, "role": self.person.role,
               "team": str(self.person.team) if self.person.team_id else "", "period": self.period.label,
               "snapshot_week": self.week.isoformat(), "actual": round(self.actual, 2)}
        for method in METHODS:
            value = self.forecast(method)
            row[method] = round(value, 2) if value is not None else None
            row[f"{method}_error"] = self.error(method)
            row[f"{method}_error_pct"] = self.error_pct(method)
        row.update({"model_p10": round(self.model_p10, 2), "model_p90": round(self.model_p90, 2), "actual_in_range": self.in_range,
                    "model_beats_call": self.model_beats_call, "open_deals": self.open_deals})
        return row


@dataclass
class PersonSummary:
    person: User
    periods: int
    mean_abs_error_pct: dict[str, float | None]
    bias_pct: dict[str, float | None]  # the mean signed error, % of the actual
    model_beats_call: int  # periods where the model was closer than the call
    compared: int  # periods with both a call and an actual
    in_range: int

    @property
    def habit(self) -> str:
        """Whether the person's calls sandbag, run optimistic or are about right, in words."""
        bias = self.bias_pct.get("call")
        with_call = self.compared
        if bias is None or with_call == 0:
            return "no calls in closed periods"
        if with_call < MIN_PERIODS_FOR_A_HABIT:
            return f"one period only: too few to tell (call {bias:+.0f}%)"
        if bias <= -HABIT_PERCENT:
            return f"sandbags: calls {-bias:.0f}% under what is won, on average over {with_call} periods"
        if bias >= HABIT_PERCENT:
            return f"optimistic: calls {bias:.0f}% over what is won, on average over {with_call} periods"
        return f"about right: {bias:+.0f}% on average over {with_call} periods"

    @property
    def habit_word(self) -> str:
        """The habit in a word or two, for a table cell (the sentence is `habit`)."""
        return self.habit.split(":")[0]

    def as_row(self) -> dict:
        row = {"person": str(self.person), "person_id": self.person.pk, "role": self.person.role,
               "team": str(self.person.team) if self.person.team_id else "", "periods": self.periods, "habit": self.habit,
               "habit_word": self.habit_word,
               "model_beats_call": self.model_beats_call, "periods_with_a_call": self.compared,
               "actual_in_model_range": self.in_range}
        for method in METHODS:
            row[f"{method}_mean_abs_error_pct"] = self.mean_abs_error_pct[method]
            row[f"{method}_bias_pct"] = self.bias_pct[method]
        return row


@dataclass
class Accuracy:
    at: str
    rows: list[PeriodAccuracy] = field(default_factory=list)
    summaries: list[PersonSummary] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """Does the model beat the people? In words, with the number of periods behind it."""
        compared = [r for r in self.rows if r.model_beats_call is not None]
        if not compared:
            return "No closed period has both a call and a snapshot yet: accuracy shows once a period with weekly snapshots has ended."
        wins = sum(bool(r.model_beats_call) for r in compared)
        covered = sum(r.in_range for r in self.rows)
        return (f"The model was closer than the call in {wins} of {len(compared)} person-periods "
                f"({len({r.period for r in compared})} period(s)); the actual fell inside the model's P10-P90 range in "
                f"{covered} of {len(self.rows)}.")


def _pick(snapshots: list[ForecastSnapshot], period: Period, at: str) -> ForecastSnapshot | None:
    inside = [s for s in snapshots if period.start <= s.week <= period.end] or snapshots
    if not inside:
        return None
    if at == "start":
        return inside[0]
    if at == "end":
        return inside[-1]
    middle = period.start + (period.end - period.start) / 2
    return min(inside, key=lambda s: abs((s.week - middle).days))


def _won(scope: set[int] | None, period: Period) -> float:
    qs = Opportunity.objects.filter(is_won=True, close_date__gte=period.start, close_date__lte=period.end)
    if scope is not None:
        qs = qs.filter(owner_id__in=scope)
    return float(qs.aggregate(total=Sum("amount"))["total"] or Decimal(0))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def accuracy(viewer: User, *, at: str = "start", person_ids: set[int] | None = None, today: date | None = None) -> Accuracy:
    """Every closed period with snapshots of the people whose forecast `viewer` may open (or of
    `person_ids` among them), newest period first, and per person the summary over those periods."""
    if at not in AT:
        raise AccuracyError(f"at is one of {', '.join(AT)}, not {at!r}")
    today = today or timezone.localdate()
    people = {p.pk: p for p in forecast_people(viewer).select_related("team")}
    if person_ids is not None:
        people = {pk: p for pk, p in people.items() if pk in person_ids}
    snaps: dict[tuple, list[ForecastSnapshot]] = defaultdict(list)
    for s in (ForecastSnapshot.objects.filter(person_id__in=people, period_end__lt=today)
              .order_by("week").select_related(None)):
        snaps[(s.person_id, s.period_kind, s.period_start, s.period_end)].append(s)
    result = Accuracy(at)
    scopes: dict[int, set[int] | None] = {}
    for (person_id, kind, start, end), weeks in snaps.items():
        period = Period(kind, start, end)
        snap = _pick(weeks, period, at)
        if snap is None:
            continue
        if person_id not in scopes:
            scopes[person_id] = scope_of(people[person_id])
        result.rows.append(PeriodAccuracy(
            person=people[person_id], period=period, week=snap.week, actual=_won(scopes[person_id], period),
            call=float(snap.call_commit) if snap.call_commit is not None else None, model=snap.model_expected,
            model_p10=snap.model_p10, model_p90=snap.model_p90, stage_weighted=snap.stage_weighted, open_deals=snap.open_deals))
    result.rows.sort(key=lambda r: (-r.period.start.toordinal(), r.person.role != "leader", str(r.person)))
    result.periods = sorted({r.period for r in result.rows}, key=lambda p: p.start, reverse=True)
    by_person: dict[int, list[PeriodAccuracy]] = defaultdict(list)
    for r in result.rows:
        by_person[r.person.pk].append(r)
    for person_id, rows in by_person.items():
        result.summaries.append(PersonSummary(
            person=people[person_id], periods=len(rows),
            mean_abs_error_pct={m: _mean([abs(v) for r in rows if (v := r.error_pct(m)) is not None]) for m in METHODS},
            bias_pct={m: _mean([v for r in rows if (v := r.error_pct(m)) is not None]) for m in METHODS},
            model_beats_call=sum(bool(r.model_beats_call) for r in rows),
            compared=sum(r.model_beats_call is not None for r in rows), in_range=sum(r.in_range for r in rows)))
    result.summaries.sort(key=lambda s: (s.person.role != "leader", s.person.role != "manager", str(s.person)))
    return result
