"""The forecast's arithmetic, as plain functions (no database): periods, categories, the call derived
from categories, and the range of the model's forecast.

The range: each open deal closing in the period is won with its calibrated probability p_i, and then
brings its amount a_i. The total is a Poisson-binomial sum over amounts, S = sum(a_i * X_i) with
X_i ~ Bernoulli(p_i) independent. Its distribution is computed exactly by convolution, deal by deal,
over the sums in cents while they stay few (up to MAX_EXACT_STATES distinct sums); beyond that on a
grid of GRID_STEPS equal steps (each amount rounded to the nearest step, the step reported as the
resolution). Pn is the smallest total whose cumulative probability reaches n%.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dealpilot.validation import FIRST_DAY, LAST_DAY

MAX_EXACT_STATES = 20_000
GRID_STEPS = 20_000
QUANTILES = (0.10, 0.50, 0.90)
_EPS = 1e-9  # cumulative probabilities are sums of floats: 0.5 may arrive as 0.4999999999


# ---- periods -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: str  # month, quarter, year
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def contains(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end

    def next(self) -> Period:
        return period_of(self.end + timedelta(days=1), self.kind)

    def previous(self) -> Period:
        return period_of(self.start - timedelta(days=1), self.kind)

    def __str__(self) -> str:
        return self.label


def period_of(day: date, kind: str = "quarter") -> Period:
    if kind == "month":
        start, months = day.replace(day=1), 1
    elif kind == "quarter":
        start, months = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1), 3
    elif kind == "year":
        start, months = date(day.year, 1, 1), 12
    else:
        raise ValueError(f"a period is a month, quarter or year, not {kind!r}")
    m = start.month - 1 + months
    end = date(start.year + m // 12, m % 12 + 1, 1) - timedelta(days=1)
    return Period(kind, start, end)


_LABEL = re.compile(r"^\s*(\d{4})(?:-(?:[Qq]([1-4])|(\d{1,2})))?\s*$")
# the days every input is kept within: dealpilot's one set of bounds (reports add periods and weeks)
FIRST_YEAR, LAST_YEAR = FIRST_DAY.year, LAST_DAY.year


def parse_period(text: str | None, today: date) -> Period:
    """'2026-Q4', '2026-11' or '2026' (empty: the quarter containing today); ValueError with the reason."""
    if text is None or not text.strip():
        return period_of(today, "quarter")
    match = _LABEL.match(text)
    if not match:
        raise ValueError(f"{text[:40]!r} is not a period: write 2026-Q4 (a quarter), 2026-11 (a month) or 2026 (a year)")
    year = int(match.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the year {year} is out of range ({FIRST_YEAR} to {LAST_YEAR})")
    if match.group(2):
        return period_of(date(year, 3 * (int(match.group(2)) - 1) + 1, 1), "quarter")
    if match.group(3):
        month = int(match.group(3))
        if not 1 <= month <= 12:
            raise ValueError(f"{text.strip()!r}: a month is 01 to 12")
        return period_of(date(year, month, 1), "month")
    return period_of(date(year, 1, 1), "year")


def week_of(day: date) -> date:
    """Monday of the ISO week containing `day`."""
    return day - timedelta(days=day.weekday())


# ---- categories ----------------------------------------------------------------------------------

PIPELINE, BEST_CASE, COMMIT, CLOSED, OMITTED = "pipeline", "best_case", "commit", "closed", "omitted"
CATEGORY_LABELS = {PIPELINE: "Pipeline", BEST_CASE: "Best case", COMMIT: "Commit", CLOSED: "Closed", OMITTED: "Omitted"}
_CRM_NAMES = {"pipeline": PIPELINE, "bestcase": BEST_CASE, "best case": BEST_CASE, "best_case": BEST_CASE,
              "commit": COMMIT, "closed": CLOSED, "omitted": OMITTED, "omit": OMITTED}


def crm_category(text: str | None, *, is_closed: bool, is_won: bool) -> str:
    """The category a deal has before anyone sets one in dealpilot: won deals are closed, lost ones
    omitted; an open deal takes the CRM's ForecastCategoryName (Pipeline, Best Case, Commit, Closed,
    Omitted; any case, spaces or underscores), an open deal the CRM calls Closed counts as commit,
    and one without a (known) category is pipeline."""
    if is_closed:
        return CLOSED if is_won else OMITTED
    name = _CRM_NAMES.get(re.sub(r"[\s_-]+", " ", (text or "").strip().lower()),
                          _CRM_NAMES.get(re.sub(r"[\s_-]+", "", (text or "").strip().lower())))
    if name == CLOSED:
        return COMMIT
    return name or PIPELINE


@dataclass(frozen=True)
class Derived:
    """The call a set of deals implies: commit = won + commit deals; best case = commit + best-case
    deals; pipeline = best case + pipeline deals. Omitted deals count nowhere."""

    won: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal

    def __add__(self, other: Derived) -> Derived:
        return Derived(self.won + other.won, self.commit + other.commit, self.best_case + other.best_case,
                       self.pipeline + other.pipeline)


ZERO = Decimal("0.00")
NOTHING = Derived(ZERO, ZERO, ZERO, ZERO)


def derive(won: Decimal, open_deals: list[tuple[str, Decimal | None]]) -> Derived:
    """`won`: closed-won amount in the period; `open_deals`: (category, amount) of the open deals closing in it."""
    by = {PIPELINE: ZERO, BEST_CASE: ZERO, COMMIT: ZERO}
    for category, amount in open_deals:
        if category in by and amount:
            by[category] += amount
    commit = won + by[COMMIT]
    best = commit + by[BEST_CASE]
    return Derived(won, commit, best, best + by[PIPELINE])


# ---- the range of the model's forecast -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The distribution of what the open deals bring: its mean and quantiles, how it was computed."""

    expected: float
    p10: float
    p50: float
    p90: float
    deals: int
    method: str  # "exact" or "grid"
    resolution: float  # money per grid step (0 when exact)


def _quantiles(values: list[float], probabilities: list[float], quantiles=QUANTILES) -> list[float]:
    out, cumulative, i = [], 0.0, 0
    for q in quantiles:
        while i < len(values) and cumulative + probabilities[i] < q - _EPS:
            cumulative += probabilities[i]
            i += 1
        out.append(values[min(i, len(values) - 1)])
    return out


def _exact(deals: list[tuple[float, int]], cap: int) -> tuple[list[float], list[float]] | None:
    """The exact distribution over sums in cents, or None once it has more than `cap` distinct sums."""
    dist = {0: 1.0}
    for p, cents in deals:
        nxt: dict[int, float] = {}
        for total, q in dist.items():
            nxt[total] = nxt.get(total, 0.0) + q * (1 - p)
            nxt[total + cents] = nxt.get(total + cents, 0.0) + q * p
        dist = nxt
        if len(dist) > cap:
            return None
    totals = sorted(dist)
    return [t / 100 for t in totals], [dist[t] for t in totals]


def _grid(deals: list[tuple[float, int]], steps: int) -> tuple[list[float], list[float], float]:
    import numpy as np

    total = sum(cents for _, cents in deals)
    step = max(1, math.ceil(total / steps))  # cents per step
    dist = np.zeros(sum(round(cents / step) for _, cents in deals) + 1)
    dist[0] = 1.0
    top = 0
    for p, cents in deals:
        k = round(cents / step)
        if k == 0:
            continue
        moved = dist[: top + 1] * p
        dist[: top + 1] *= 1 - p
        dist[k: k + top + 1] += moved
        top += k
    values = (np.arange(top + 1) * step / 100).tolist()
    return values, dist[: top + 1].tolist(), step / 100


def outcome_range(deals: list[tuple[float, float | Decimal | None]], *, max_exact_states: int = MAX_EXACT_STATES,
                  grid_steps: int = GRID_STEPS) -> Outcome:
    """The distribution of sum(amount_i * Bernoulli(p_i)) over `deals` = [(p, amount)]: mean, P10, P50, P90.

    Deals without an amount (or p = 0) bring nothing; p is clipped to [0, 1]."""
    clean: list[tuple[float, int]] = []
    expected = 0.0
    for p, amount in deals:
        p = min(max(float(p), 0.0), 1.0) if p is not None and not math.isnan(float(p)) else 0.0
        cents = int(round(float(amount) * 100)) if amount else 0
        expected += p * cents / 100
        if p > 0 and cents > 0:
            clean.append((p, cents))
    if not clean:
        return Outcome(round(expected, 2), 0.0, 0.0, 0.0, len(deals), "exact", 0.0)
    exact = _exact(clean, max_exact_states)
    if exact is not None:
        values, probs = exact
        method, resolution = "exact", 0.0
    else:
        values, probs, resolution = _grid(clean, grid_steps)
        method = "grid"
    p10, p50, p90 = _quantiles(values, probs)
    return Outcome(round(expected, 2), round(p10, 2), round(p50, 2), round(p90, 2), len(deals), method, round(resolution, 2))



# ---- business not yet in the pipeline ----------------------------------------------------------------


Z90 = 1.2815515655446004  # the standard normal's 90th percentile


@dataclass(frozen=True)
class NewBusiness:
    """What earlier periods won from deals created after the same day of the period (`history`: one amount per
    earlier period): a forecast made from the pipeline alone misses it, most at the start of a period.

    Expected: their mean. Its spread (their standard deviation, as a normal) widens the pipeline's range: the
    two are independent, so the distances from the median add in quadrature."""

    history: list[float]

    @property
    def expected(self) -> float:
        return sum(self.history) / len(self.history) if self.history else 0.0

    @property
    def spread(self) -> float:
        if len(self.history) < 2:
            return 0.0
        mean = self.expected
        return math.sqrt(sum((x - mean) ** 2 for x in self.history) / (len(self.history) - 1))

    def widen(self, p10: float, p50: float, p90: float) -> tuple[float, float, float]:
        shift, z = self.expected, Z90 * self.spread
        return (p50 + shift - math.hypot(p50 - p10, z), p50 + shift, p50 + shift + math.hypot(p90 - p50, z))
