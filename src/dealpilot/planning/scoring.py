"""Scoring accounts: the model's specification, the measures of the records, and the scores.

Everything here is vectorised: each computed measure is one aggregate query over the records
(grouped by account), cached per data version, and the levels, points, scores and quadrants are
numpy operations over all accounts at once. A change of weights therefore costs only the numpy
part (see bench/planning_bench.py).

Scores are organisation-wide: an account has the same scores and quadrant whoever looks at it
(the thresholds are medians over every account scored); who may see which account is decided by
the selectors, which keep only visible accounts.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_MODEL_PATH = Path(__file__).with_name("default_scoring.yaml")

QUADRANTS = {
    "A": ("High current, high future", "Full account plan"),
    "B": ("Low current, high future", "This year's sales plan"),
    "C": ("High current, low future", "Protect current revenue"),
    "D": ("Low current, low future", "Hand to marketing to nurture"),
}
QUADRANT_COLOURS = {"A": "#1b7f5b", "B": "#2563eb", "C": "#d97706", "D": "#6b7280"}


# ---- the model's specification (what the YAML and the edit form say) ---------------------------


class SpecError(ValueError):
    """A scoring model that cannot be used, with every reason in one message."""


class LevelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = Field(pattern=r"^[a-z0-9_]{1,30}$")
    label: str = Field(min_length=1, max_length=60)
    points: float = Field(ge=0, le=100)
    definition: str = Field("", max_length=1000)
    min: float | None = None
    max: float | None = None

    @property
    def bounded(self) -> bool:
        return self.min is not None or self.max is not None


class ElementSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_]{1,60}$")
    axis: Literal["current", "future"]
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    kind: Literal["computed", "rated"]
    metric: str = ""
    weight: float = Field(ge=0, le=1000)
    levels: list[LevelSpec] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _check(self) -> ElementSpec:
        names = [lv.level for lv in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"element {self.key}: two levels have the same name")
        if self.kind == "computed":
            if self.metric not in METRICS:
                raise ValueError(f"element {self.key}: metric must be one of {', '.join(METRICS)}")
            if self.levels[-1].bounded:
                raise ValueError(f"element {self.key}: the last level must have no min/max (it takes every other value)")
        else:
            if self.metric:
                raise ValueError(f"element {self.key}: a rated element has no metric")
            if any(lv.bounded for lv in self.levels):
                raise ValueError(f"element {self.key}: a rated element's levels have no min/max")
        return self


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    thresholds: dict[Literal["current", "future"], float | Literal["median"]] = Field(
        default_factory=lambda: {"current": "median", "future": "median"})
    revenue_window_days: int = Field(365, ge=1, le=3650)
    elements: list[ElementSpec] = Field(min_length=2)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value):
        for axis, t in value.items():
            if t != "median" and not 0 <= t <= 100:
                raise ValueError(f"threshold {axis} must be 'median' or a number from 0 to 100")
        return {"current": value.get("current", "median"), "future": value.get("future", "median")}

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        keys = [e.key for e in self.elements]
        if len(set(keys)) != len(keys):
            raise ValueError("two elements have the same key")
        for axis in ("current", "future"):
            weights = [e.weight for e in self.elements if e.axis == axis]
            if not weights or sum(weights) <= 0:
                raise ValueError(f"the {axis} revenue score needs at least one element with a weight above 0")
        return self

    def axis(self, axis: str) -> list[ElementSpec]:
        return [e for e in self.elements if e.axis == axis]

    def element(self, key: str) -> ElementSpec | None:
        return next((e for e in self.elements if e.key == key), None)


def parse_spec(data) -> ModelSpec:
    """A ModelSpec from a dict (YAML, form); SpecError says every problem found."""
    if not isinstance(data, dict):
        raise SpecError("a scoring model is a mapping with name, thresholds and elements")
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as exc:
        reasons = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            reasons.append(f"{where}: {err['msg']}" if where else err["msg"])
        raise SpecError("; ".join(reasons)) from None


def parse_yaml(text: str) -> ModelSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}") from None
    return parse_spec(data)


def dump_yaml(spec: ModelSpec) -> str:
    data = spec.model_dump()
    for element in data["elements"]:
        if not element["metric"]:
            del element["metric"]
        for level in element["levels"]:
            for bound in ("min", "max"):
                if level[bound] is None:
                    del level[bound]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def default_spec() -> ModelSpec:
    return parse_yaml(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))


# ---- measures of the records (one aggregate query each) -----------------------------------------


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str  # "money", "count" or "days"
    missing: float | None  # the value of an account with no rows (None: unknown, e.g. never contacted)


METRICS: dict[str, Metric] = {
    "won_revenue": Metric("Revenue won in the revenue window", "money", 0.0),
    "won_deals": Metric("Deals won in the revenue window", "count", 0.0),
    "open_pipeline": Metric("Amount of open opportunities", "money", 0.0),
    "open_deals": Metric("Open opportunities", "count", 0.0),
    "contact_coverage": Metric("Current contacts with a role on the account's deals", "count", 0.0),
    "contacts": Metric("Current contacts", "count", 0.0),
    "days_since_activity": Metric("Days since the last activity", "days", None),
    "activities_90d": Metric("Activities in the last 90 days", "count", 0.0),
}


def _pairs(queryset, value: str) -> pd.Series:
    rows = list(queryset.values_list("acc", value))
    if not rows:
        return pd.Series(dtype="float64")
    ids, values = zip(*rows)
    return pd.Series(np.array([np.nan if v is None else float(v) for v in values]), index=np.array(ids, dtype="int64"))


def measure(metric: str, today: date, window_days: int) -> pd.Series:
    """One measure for every account that has rows (account id -> value), in one query."""
    from django.db.models import Count, F, Max, Q, Sum
    from django.db.models.functions import Coalesce

    from dealpilot.crm.models import Activity, Contact, Opportunity, OpportunityContactRole
    from dealpilot.crm.visibility import ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, OPPORTUNITY_NOT_IN_BIN

    opps = Opportunity.objects.filter(account_id__isnull=False).annotate(acc=F("account_id")).values("acc")
    window = Q(is_won=True, close_date__gt=today - timedelta(days=window_days), close_date__lte=today)
    if metric == "won_revenue":
        return _pairs(opps.filter(window).annotate(v=Sum("amount")), "v")
    if metric == "won_deals":
        return _pairs(opps.filter(window).annotate(v=Count("id")), "v")
    if metric == "open_pipeline":
        return _pairs(opps.filter(is_closed=False).annotate(v=Sum("amount")), "v")
    if metric == "open_deals":
        return _pairs(opps.filter(is_closed=False).annotate(v=Count("id")), "v")
    if metric == "contact_coverage":
        roles = (OpportunityContactRole.objects.filter(OPPORTUNITY_NOT_IN_BIN, opportunity__account_id__isnull=False,
                                                       contact__has_left=False)
                 .annotate(acc=F("opportunity__account_id")).values("acc").annotate(v=Count("contact_id", distinct=True)))
        return _pairs(roles, "v")
    if metric == "contacts":
        return _pairs(Contact.objects.filter(account_id__isnull=False, has_left=False).annotate(acc=F("account_id"))
                      .values("acc").annotate(v=Count("id")), "v")
    # activities count for the account they name, or their deal's, or their contact's
    activities = (Activity.objects.filter(ACTIVITY_NOT_IN_BIN, BUYER_TOUCH)
                  .annotate(acc=Coalesce("account_id", "opportunity__account_id", "contact__account_id"))
                  .filter(acc__isnull=False).values("acc"))
    if metric == "days_since_activity":
        rows = list(activities.filter(activity_date__lte=today).annotate(v=Max("activity_date")).values_list("acc", "v"))
        if not rows:
            return pd.Series(dtype="float64")
        ids, latest = zip(*rows)
        days = (np.datetime64(today, "D") - np.array(latest, dtype="datetime64[D]")).astype("float64")
        return pd.Series(days, index=np.array(ids, dtype="int64"))
    if metric == "activities_90d":
        return _pairs(activities.filter(activity_date__gt=today - timedelta(days=90), activity_date__lte=today)
                      .annotate(v=Count("id")), "v")
    raise SpecError(f"unknown metric {metric!r}")


class _MeasureCache:
    """Measures per (metric, today, window, data version): a change of weights reads nothing."""

    def __init__(self) -> None:
        self._values: dict[tuple, pd.Series] = {}
        self._lock = threading.Lock()
        self.queries = 0

    def get(self, metric: str, today: date, window_days: int, version: tuple) -> pd.Series:
        key = (metric, today, window_days, version)
        with self._lock:
            hit = self._values.get(key)
        if hit is not None:
            return hit
        values = measure(metric, today, window_days)
        with self._lock:
            if len(self._values) > 64:
                self._values.clear()
            self._values[key] = values
            self.queries += 1
        return values

    def get_ids(self, version: tuple) -> np.ndarray:
        """Every account's id (cached with the same version)."""
        key = ("account ids", version)
        with self._lock:
            hit = self._values.get(key)
        if hit is None:
            from dealpilot.crm.models import Account

            hit = np.array(list(Account.objects.order_by("id").values_list("id", flat=True)), dtype="int64")
            with self._lock:
                self._values[key] = hit
        return hit

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


measure_cache = _MeasureCache()


# Changes to existing records (an import's updates) show after at most this long; new records
# (a higher id) and any rating or model change show at once.
MEASURE_TTL_SECONDS = int(os.environ.get("DEALPILOT_SCORE_TTL", "300"))


def records_version() -> tuple:
    """Cheap to read at every page view: the highest id of each table the measures read (one
    index lookup each on the whole table, where a count or a latest update would scan millions of
    activities), what is in the recycle bin (its few rows, through the index on `deleted_at`: a
    record deleted or restored changes which accounts are scored at once, whatever its id), and the
    current time bucket of MEASURE_TTL_SECONDS."""
    from django.db import connection
    from django.db.models import Count, Max, Sum

    from dealpilot.crm.models import Account, Activity, Contact, Opportunity, OpportunityContactRole

    ids = tuple(m._base_manager.aggregate(top=Max("id"))["top"]
                for m in (Account, Opportunity, Activity, Contact, OpportunityContactRole))
    binned = tuple(tuple(m.all_objects.filter(deleted_at__isnull=False).aggregate(n=Count("id"), ids=Sum("id")).values())
                   for m in (Account, Opportunity, Activity, Contact))
    return (connection.settings_dict["NAME"], *ids, *binned, int(time.time() // max(MEASURE_TTL_SECONDS, 1)))


# ---- scores ----------------------------------------------------------------------------------


def level_points(values: np.ndarray, levels: list[LevelSpec]) -> tuple[np.ndarray, np.ndarray]:
    """(index of the level, points) for each value: the first level whose bounds hold it."""
    index = np.full(values.shape, len(levels) - 1, dtype="int64")
    for i in range(len(levels) - 2, -1, -1):  # earlier levels win, so they are applied last
        lv = levels[i]
        hit = np.ones(values.shape, dtype=bool) if not lv.bounded else ~np.isnan(values)
        if lv.min is not None:
            hit &= values >= lv.min
        if lv.max is not None:
            hit &= values <= lv.max
        index = np.where(hit, i, index)
    points = np.array([lv.points for lv in levels], dtype="float64")[index]
    return index, points


@dataclass
class Scores:
    """Every account's scores. `frame` is indexed by account id with, per element, `<key>.value`
    (computed), `<key>.level` (index into the element's levels; -1: not rated), `<key>.points`,
    then `current`, `future` (0-100) and `quadrant`."""

    spec: ModelSpec
    frame: pd.DataFrame
    current_threshold: float
    future_threshold: float
    today: date


def threshold_of(setting, scores: np.ndarray) -> float:
    if setting == "median":
        return float(np.median(scores)) if len(scores) else 50.0
    return float(setting)


def quadrants(current: np.ndarray, future: np.ndarray, current_t: float, future_t: float) -> np.ndarray:
    """A/B/C/D: high means strictly above the threshold (so ties at a median count as low)."""
    high_c, high_f = current > current_t, future > future_t
    return np.where(high_f, np.where(high_c, "A", "B"), np.where(high_c, "C", "D"))


def score_frame(spec: ModelSpec, account_ids: np.ndarray, measures: dict[str, pd.Series],
                ratings: dict[str, pd.Series], today: date) -> Scores:
    """The pure part: measures and ratings in, scores out (no database)."""
    n = len(account_ids)
    index = pd.Index(account_ids, name="account_id")
    columns: dict[str, np.ndarray] = {}
    totals = {"current": np.zeros(n), "future": np.zeros(n)}
    weights = {axis: sum(e.weight for e in spec.axis(axis)) for axis in totals}
    for e in spec.elements:
        if e.kind == "computed":
            metric = METRICS[e.metric]
            values = measures[e.metric].reindex(index).to_numpy(dtype="float64")
            if metric.missing is not None:
                values = np.where(np.isnan(values), metric.missing, values)
            level, points = level_points(values, e.levels)
            columns[f"{e.key}.value"] = values
        else:
            by_name = {lv.level: i for i, lv in enumerate(e.levels)}
            rated = ratings.get(e.key, pd.Series(dtype="object")).map(by_name).reindex(index)
            level = rated.fillna(-1).to_numpy(dtype="int64")
            all_points = np.array([lv.points for lv in e.levels], dtype="float64")
            points = np.where(level >= 0, all_points[np.clip(level, 0, None)], all_points.min())  # not rated: lowest
        columns[f"{e.key}.level"] = level
        columns[f"{e.key}.points"] = points
        totals[e.axis] += e.weight * points
    current = totals["current"] / weights["current"]
    future = totals["future"] / weights["future"]
    current_t = threshold_of(spec.thresholds["current"], current)
    future_t = threshold_of(spec.thresholds["future"], future)
    frame = pd.DataFrame(columns, index=index)
    frame["current"] = current
    frame["future"] = future
    frame["quadrant"] = quadrants(current, future, current_t, future_t)
    return Scores(spec=spec, frame=frame, current_threshold=current_t, future_threshold=future_t, today=today)


def contributions(spec: ModelSpec, row: pd.Series) -> list[dict]:
    """How each element made up one account's scores: level, points, weight, contribution."""
    out = []
    for axis in ("current", "future"):
        total_weight = sum(e.weight for e in spec.axis(axis))
        for e in spec.axis(axis):
            level = int(row[f"{e.key}.level"])
            points = float(row[f"{e.key}.points"])
            out.append({
                "key": e.key, "axis": axis, "name": e.name, "kind": e.kind, "metric": e.metric,
                "value": (None if np.isnan(row[f"{e.key}.value"]) else float(row[f"{e.key}.value"]))
                if e.kind == "computed" else None,
                "unit": METRICS[e.metric].unit if e.kind == "computed" else "",
                "level": e.levels[level].level if level >= 0 else "",
                "level_label": e.levels[level].label if level >= 0 else "Not rated",
                "definition": e.levels[level].definition if level >= 0 else "Counts at the lowest level until rated",
                "points": points, "weight": e.weight,
                "contribution": round(e.weight * points / total_weight, 2) if total_weight else 0.0,
            })
    return out
