"""Read paths of the team dashboard: the filters resolved to concrete windows, and every section's
numbers from `analytics.metrics` (computed once per request, on one set of scoped frames).

No metric is computed here: this module picks the windows, calls the metrics, and arranges their
rows for the page (who needs attention, the lever pair to show, the what-if). The CSV downloads
and the API call `analytics.report.report_rows` with the parameters `Window.report_params` gives,
so a download holds exactly the numbers the page was drawn from.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from django.utils import timezone

from dealpilot.analytics import metrics as m
from dealpilot.analytics.frames import SOURCES, data_version, frames_for, scope_ids
from dealpilot.analytics.report import TEAM_REPORTS

from . import diagnosis as dx
from .levers import LEVERS, WhatIf, goal_seek, moved
from .pipeline import week_start

DEFAULT_PERIODS = 8          # the velocity trend shows 8 periods (quarters by default)
WEEKLY_WINDOW = 13           # pipeline creation and the diagnosis look at the last 13 weeks
HEALTHY_COVERAGE = 3.0       # pipeline coverage shown green from 3x, amber from 1x, red below
LEVER_LABELS = {"opportunities": "Opportunities (N)", "avg_deal_value": "Avg deal value", "win_rate": "Win rate",
                "cycle_days": "Cycle (days)"}
# verdicts from the most to the least urgent, with the badge they wear
VERDICTS = {dx.BOTH: "both", dx.LOW_EFFECTIVENESS: "effectiveness", dx.LOW_ACTIVITY: "activity",
            dx.NOT_JUDGED: "unjudged", dx.ON_TRACK: "on-track", dx.PRODUCING: "producing"}


def can_view_dashboard(user) -> bool:
    """Managers (their team subtree) and leaders/admins (everything); reps and enablement: no."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.sees_everything or user.role == "manager")


def periods_back(start: date, period: str, n: int) -> date:
    """The first day of the period n periods before the one starting at `start`."""
    months = {"month": 1, "quarter": 3, "year": 12}[period] * n
    index = start.year * 12 + start.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def latest_day(user) -> date | None:
    """The last day with news in the user's scope: the latest created date or close date of a
    closed deal (never after today: open deals' expected close dates are in the future)."""
    from django.db.models import Max, Q

    from dealpilot.crm.models import Opportunity

    got = Opportunity.objects.visible_to(user).aggregate(created=Max("created_date"),
                                                         closed=Max("close_date", filter=Q(is_closed=True)))
    days = [d for d in got.values() if d is not None]
    return min(max(days), timezone.localdate()) if days else None


@dataclass(frozen=True)
class Window:
    """The filters with every default filled in: what each section covers."""

    period: str
    start: date
    end: date
    group_by: str | None

    @property
    def weekly_start(self) -> date:
        """Pipeline creation and the diagnosis: the 13 ISO weeks up to `end` (not before `start`)."""
        return max(self.start, week_start(self.end) - timedelta(weeks=WEEKLY_WINDOW - 1))

    @property
    def meeting_day(self) -> date:
        """The pipeline meeting the day after `end`: its week is the 7 days up to and including `end`."""
        return self.end + timedelta(days=1)

    @property
    def meeting_since(self) -> date:
        return self.meeting_day - timedelta(days=7)

    @property
    def forecast_group(self) -> str:
        return "team" if self.group_by == "team" else "owner"

    @property
    def last_period_partial(self) -> bool:
        first = m.period_start(self.end, self.period)
        return self.end < m.next_period_start(first, self.period) - timedelta(days=1)

    def report_params(self, name: str) -> dict:
        """The keyword arguments of `report_rows(name, ...)` for this section of the page."""
        if name in ("velocity", "levers"):
            return {"group_by": self.group_by, "period": self.period, "start": self.start, "end": self.end}
        if name in ("pipeline-creation", "diagnosis"):
            return {"start": self.weekly_start, "end": self.end}
        if name == "meeting":
            return {"end": self.meeting_day}
        if name == "forecast":
            return {"group_by": self.forecast_group, "period": self.period, "start": self.end}
        raise ValueError(f"unknown report {name!r}; one of {', '.join(TEAM_REPORTS)}")

    def query(self) -> dict:
        """The filters as query parameters (for links that keep them)."""
        q = {"period": self.period, "from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.group_by:
            q["group_by"] = self.group_by
        return q


def resolve_window(user, *, period: str | None = None, start: date | None = None, end: date | None = None,
                   group_by: str | None = None) -> Window:
    """Defaults: quarters; to = the latest day with news in scope (else today); from = the start of
    the period 7 periods before (8 in all)."""
    period = period or "quarter"
    if end is None:
        end = latest_day(user) or timezone.localdate()
        if start is not None and start > end:
            end = start
    if start is None:
        start = periods_back(m.period_start(end, period), period, DEFAULT_PERIODS - 1)
    return Window(period=period, start=start, end=end, group_by=group_by or None)


# ---- the sections ---------------------------------------------------------------------------------


@dataclass
class LeverPair:
    """The two periods the waterfall compares, one levers row per group."""

    from_period: str
    to_period: str
    rows: list[dict]
    skipped_partial: str | None = None   # the partial last period left out of the comparison


@dataclass
class Attention:
    rep: str
    team: str | None
    verdict: str | None
    verdict_key: str
    issues: list[str] = field(default_factory=list)


@dataclass
class Dashboard:
    window: Window
    velocity: list[dict]
    levers: list[dict]
    lever_pair: LeverPair | None
    creation: dict
    diagnosis: list[dict]
    meeting: dict
    forecast: list[dict]
    kpis: dict
    attention: list[Attention]
    reps: list[str]
    what_if: WhatIf = field(default_factory=WhatIf)
    charts: dict = field(default_factory=dict)  # the figures, built once by the view (shared by the cached copies)

    @property
    def what_if_period(self) -> str | None:
        if self.lever_pair is not None:
            return self.lever_pair.to_period
        return self.velocity[-1]["period"] if self.velocity else None

    @property
    def needs_attention(self) -> list[Attention]:
        return [a for a in self.attention if a.issues]

    @property
    def fine(self) -> list[Attention]:
        return [a for a in self.attention if not a.issues]

    @property
    def current_forecast(self) -> list[dict]:
        return [r for r in self.forecast if r["current"]]

    @property
    def next_forecast(self) -> list[dict]:
        return [r for r in self.forecast if not r["current"]]

    @property
    def what_ifs(self) -> list[dict]:
        return what_ifs(self.velocity, self.what_if_period, self.what_if)

    @property
    def goal_seeks(self) -> list[dict]:
        """Per group of the what-if's period: what each lever alone would need to be to reach the goal."""
        return goal_seeks(self.velocity, self.what_if_period, self.what_if, self.window.period, self._targets())

    def _targets(self) -> dict[str, float]:
        return {r["group"]: r["target"] for r in self.current_forecast if r.get("target")}

    @property
    def has_coverage(self) -> bool:
        return any(r["coverage"] is not None for r in self.next_forecast)

    def forecast_table(self) -> tuple[list[str], list[dict]]:
        """One row per group: this period's numbers, then each next period's pipeline and coverage."""
        later = sorted({r["period"] for r in self.next_forecast})
        rows: dict[str, dict] = {}
        for r in self.forecast:
            row = rows.setdefault(r["group"], {"group": r["group"], "current": None, "next": {p: None for p in later}})
            if r["current"]:
                row["current"] = r
            else:
                row["next"][r["period"]] = r
        table = [dict(row, next=[row["next"][p] for p in later]) for row in rows.values()]
        return later, sorted(table, key=lambda row: row["group"])

    @property
    def meeting_counts(self) -> dict:
        return {k: len(self.meeting[k]) for k in ("new", "same_as_last_week", "slipped", "pushed_back")}

    def new_by_rep(self) -> list[tuple[str, list[dict]]]:
        """Every rep in scope with their new opportunities of the week (none: an empty list), most first."""
        by_rep: dict[str, list[dict]] = {rep: [] for rep in self.reps}
        for deal in self.meeting["new"]:
            by_rep.setdefault(deal["owner"] or m.NONE, []).append(deal)
        return sorted(by_rep.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _lever_pair(window: Window, velocity: list[dict], levers: list[dict]) -> LeverPair | None:
    """The latest pair of periods, or the one before when the latest period is still running."""
    pairs = sorted({(r["from_period"], r["to_period"]) for r in levers}, key=lambda p: p[1])
    if not pairs:
        return None
    current = m.period_label(m.period_start(window.end, window.period), window.period)
    skipped = None
    chosen = pairs[-1]
    if window.last_period_partial and chosen[1] == current and len(pairs) > 1:
        skipped, chosen = current, pairs[-2]
    rows = [r for r in levers if (r["from_period"], r["to_period"]) == chosen]
    return LeverPair(from_period=chosen[0], to_period=chosen[1], rows=rows, skipped_partial=skipped)


def what_ifs(velocity: list[dict], period_label: str | None, w: WhatIf) -> list[dict]:
    """For each group's row of the period: velocity if each lever alone moved as `w` says, in its own unit."""
    out = []
    for row in velocity:
        if row["period"] != period_label or not row.get("velocity"):
            continue
        for lever in LEVERS:
            result = moved(row, lever, w)
            if result is not None:
                out.append({"group": row["group"], "period": row["period"], "lever_label": LEVER_LABELS[lever], **result})
    return out


PERIOD_DAYS = {"month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}


def goal_seeks(velocity: list[dict], period_label: str | None, w: WhatIf, period: str, targets: dict[str, float]) -> list[dict]:
    """Per group: the goal (the entered one, else the group's target this period) as velocity, and what each lever
    alone would need to be to reach it."""
    out = []
    for row in velocity:
        if row["period"] != period_label or not row.get("velocity"):
            continue
        goal = w.goal if w.goal is not None else targets.get(row["group"])
        if not goal:
            continue
        goal_velocity = float(goal) / PERIOD_DAYS[period]
        for r in goal_seek(row, goal_velocity):
            out.append({"group": row["group"], "period": row["period"], "goal": float(goal), "goal_velocity": goal_velocity,
                        "lever_label": LEVER_LABELS[r["lever"]], **r})
    return out


def _kpis(window: Window, velocity: list[dict], pair: LeverPair | None, forecast: list[dict], creation: dict) -> dict:
    totals: dict[str, dict] = {}
    for r in velocity:
        t = totals.setdefault(r["period"], {"opportunities": 0, "won": 0})
        t["opportunities"] += r["opportunities"]
        t["won"] += r["won"]
    kpis: dict = {}
    if pair is not None and window.group_by is None and pair.rows:
        row = pair.rows[0]
        kpis["velocity"] = row["velocity_after"]
        kpis["velocity_before"] = row["velocity_before"]
        kpis["velocity_period"] = pair.to_period
        kpis["velocity_change"] = (row["velocity_after"] / row["velocity_before"] - 1) if row["velocity_before"] else None
        kpis["velocity_from"] = pair.from_period
    elif velocity and window.group_by is None:
        kpis["velocity"] = velocity[-1]["velocity"]
        kpis["velocity_period"] = velocity[-1]["period"]
    if totals:
        label = pair.to_period if pair is not None else max(totals)
        t = totals.get(label) or totals[max(totals)]
        kpis["win_rate"] = t["won"] / t["opportunities"] if t["opportunities"] else None
        kpis["win_rate_period"] = label
        kpis["closed"] = t["opportunities"]
    current = [r for r in forecast if r["current"]]
    if current:
        target = sum(r["target"] or 0 for r in current)
        kpis["forecast"] = sum(r["forecast"] for r in current)
        kpis["target"] = target or None
        kpis["forecast_share"] = kpis["forecast"] / target if target else None
        kpis["forecast_period"] = current[0]["period"]
    weeks = creation.get("weeks") or []
    if weeks:
        last4 = set(weeks[-4:])
        kpis["created_4w"] = sum(r["created"] for r in creation["rows"] if r["week"] in last4)
        kpis["created_weeks"] = len(last4)
    return kpis


def rep_names(user) -> list[str]:
    """The active reps in the user's scope, by the name the metrics use (full name, else username)."""
    from dealpilot.crm.models import Role, User

    people = User.objects.visible_to(user).filter(role=Role.REP, is_active=True).values_list("full_name", "username")
    return sorted({full_name or username for full_name, username in people})


def _attention(diagnosis: list[dict], creation: dict, forecast: list[dict], reps: list[str]) -> list[Attention]:
    """Each rep with what needs a manager's look: the verdict, no new deals lately, a forecast short
    of target, thin pipeline for next period."""
    by_rep: dict[str, Attention] = {}
    for r in diagnosis:
        by_rep[r["rep"]] = Attention(rep=r["rep"], team=r["team"], verdict=r["verdict"], verdict_key=VERDICTS[r["verdict"]])
        if r["verdict"] in (dx.BOTH, dx.LOW_EFFECTIVENESS, dx.LOW_ACTIVITY):
            by_rep[r["rep"]].issues.append(r["verdict"])
    teams = {r["rep"]: r["team"] for r in creation.get("rows", [])}
    for rep in reps:
        by_rep.setdefault(rep, Attention(rep=rep, team=teams.get(rep), verdict=None, verdict_key="none"))
    weeks = creation.get("weeks") or []
    recent = weeks[-2:]
    if recent:
        created = {}
        for r in creation["rows"]:
            if r["week"] in recent:
                created[r["rep"]] = created.get(r["rep"], 0) + r["created"]
        for rep, n in created.items():
            if n == 0 and rep in by_rep:
                by_rep[rep].issues.append(f"no new opportunities in {' and '.join(recent)}")
    for r in forecast:
        a = by_rep.get(r["group"])
        if a is None:
            continue
        if r["current"] and r["target"] and r["forecast"] < r["target"]:
            a.issues.append(f"forecast {r['forecast'] / r['target']:.0%} of target in {r['period']}")
        if not r["current"] and r["coverage"] is not None and r["coverage"] < 1:
            a.issues.append(f"pipeline covers {r['coverage']:.1f}x of {r['period']}'s gap")
    order = list(VERDICTS.values()) + ["none"]
    # only the reps: a manager's own deals and activities count in the metrics, not in this list
    return sorted((a for a in by_rep.values() if a.rep in reps),
                  key=lambda a: (-len(a.issues), order.index(a.verdict_key), a.rep))


class _DashboardCache:
    """The last dashboards computed, per scope, window and data version: the numbers only change
    when a record table does (the same versions as the Arrow copies of analytics.frames), so a
    reload or a return to earlier filters costs the version check, not the metrics."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple, Dashboard] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size
        self.hits = 0

    def key(self, user, window: Window, engine: str | None) -> tuple:
        ids = scope_ids(user)
        versions = tuple(data_version(model) for model, _ in SOURCES.values())
        # the leader's diagnosis thresholds change the verdicts without changing a record
        return engine, None if ids is None else tuple(ids), window, versions, dx.settings_thresholds()

    def get(self, key: tuple) -> Dashboard | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return hit

    def put(self, key: tuple, dashboard: Dashboard) -> None:
        with self._lock:
            self._items[key] = dashboard
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


dashboard_cache = _DashboardCache()


def team_dashboard(user, filters: dict, engine: str | None = None) -> Dashboard:
    """Every section of the dashboard for what `user` may see (frames_for scopes the records).
    filters: period, start, end, group_by (None: the default) and the what-if's (WHAT_IF_FIELDS)."""
    window = resolve_window(user, **{k: v for k, v in filters.items() if k not in WHAT_IF_FIELDS})
    key = dashboard_cache.key(user, window, engine)
    dashboard = dashboard_cache.get(key)
    if dashboard is None:
        dashboard = _compute(user, window, engine)
        dashboard_cache.put(key, dashboard)
    w = what_if_from(filters)
    return replace(dashboard, what_if=w) if w != dashboard.what_if else dashboard


WHAT_IF_FIELDS = ("more_deals", "bigger_deals", "win_points", "shorter_cycle", "goal")


def what_if_from(filters: dict) -> WhatIf:
    """The what-if of the filters: each lever's move where given, else WhatIf's default."""
    given = {k: float(filters[k]) for k in WHAT_IF_FIELDS if filters.get(k) is not None}
    return WhatIf(**given)


def _compute(user, w: Window, engine: str | None) -> Dashboard:
    f = frames_for(user, engine)
    velocity = m.velocity(f, w.group_by, w.period, w.start, w.end)
    levers = m.levers(f, w.group_by, w.period, w.start, w.end)
    pair = _lever_pair(w, velocity, levers)
    creation = m.pipeline_creation(f, w.weekly_start, w.end)
    diagnosis = m.diagnosis(f, w.weekly_start, w.end)
    meeting = m.meeting_report(f, w.meeting_day)
    forecast = m.forecast(f, w.end, w.period, group_by=w.forecast_group)
    reps = rep_names(user)
    urgency = list(VERDICTS)
    diagnosis = sorted(diagnosis, key=lambda r: (urgency.index(r["verdict"]), r["rep"]))
    return Dashboard(window=w, velocity=velocity, levers=levers, lever_pair=pair, creation=creation,
                     diagnosis=diagnosis, meeting=meeting, forecast=forecast,
                     kpis=_kpis(w, velocity, pair, forecast, creation),
                     attention=_attention(diagnosis, creation, forecast, reps), reps=reps)


def coverage_class(coverage: float | None) -> str:
    if coverage is None or math.isnan(coverage):
        return "muted"
    return "good" if coverage >= HEALTHY_COVERAGE else ("fair" if coverage >= 1 else "poor")
