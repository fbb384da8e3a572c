"""The team-performance metrics, each defined once as an Ibis expression over the frames.

Every `*_expr` function builds the expression (it runs on whichever engine the frames live on);
the function of the metric's own name runs it and returns plain rows (a list of dicts). The rules
that judge or split the numbers (levers, diagnosis, medians, sentences) are plain Python in
`dealpilot.performance`. docs/analytics.md defines each metric.

Common arguments: `group_by` one of owner|team|product|source|region (None: one group, "all"),
`period` month|quarter|year, `start`/`end` dates (inclusive; None: no bound).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from dealpilot.performance import diagnosis as dx
from dealpilot.performance.levers import split_levers, what_ifs
from dealpilot.performance.pipeline import creation_grid, week_start

from .frames import Frames

GROUPS = ("owner", "team", "product", "source", "region")
PERIODS = {"month": "M", "quarter": "Q", "year": "Y"}
ALL = "all"
NONE = "(none)"

VELOCITY_COLUMNS = ("group", "period", "opportunities", "won", "win_rate", "avg_deal_value", "cycle_days", "velocity")

# Stage probabilities used by the forecast when none are configured: Salesforce's standard stages.
# An opportunity whose stage is not listed counts with its own probability (%), else 0.
DEFAULT_STAGE_PROBABILITIES = {
    "Prospecting": 0.10, "Qualification": 0.10, "Needs Analysis": 0.20, "Value Proposition": 0.50,
    "Id. Decision Makers": 0.60, "Perception Analysis": 0.70, "Proposal/Price Quote": 0.75, "Negotiation/Review": 0.90,
}


# ---- helpers -----------------------------------------------------------------------------------


def _check(group_by: str | None, period: str) -> None:
    if group_by is not None and group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)} (or none), not {group_by!r}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


def _between(col: ir.DateValue, start: date | None, end: date | None) -> ir.BooleanValue:
    cond = col.notnull()
    if start is not None:
        cond &= col >= start
    if end is not None:
        cond &= col <= end
    return cond


def _group(t: ir.Table, group_by: str | None) -> ir.StringValue:
    if group_by is None:
        return ibis.literal(ALL)
    return ibis.coalesce(t[group_by], ibis.literal(NONE))


def period_start(day: date, period: str) -> date:
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def next_period_start(start: date, period: str) -> date:
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


def period_label(start: date, period: str) -> str:
    if period == "month":
        return f"{start:%Y-%m}"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def _float(x: Any, places: int) -> float | None:
    return None if x is None else round(float(x), places)


def latest_date(f: Frames, column: str = "close_date", *, closed_only: bool = False) -> date | None:
    """The latest date in a column of the opportunities in scope, never after today (a default 'today'
    for old data). `closed_only`: of the closed deals only; open deals carry expected, future close dates."""
    o = f.opportunities
    if closed_only:
        o = o.filter(o.is_closed)
    rows = f.run(o.aggregate(latest=o[column].max()))
    latest = rows[0]["latest"] if rows else None
    return min(latest, date.today()) if latest else None


# ---- 1. sales velocity -------------------------------------------------------------------------


def velocity_expr(f: Frames, group_by: str | None = None, period: str = "quarter", start: date | None = None,
                  end: date | None = None) -> ir.Table:
    """Per group and period, over the opportunities closed (won or lost) in the period:
    N = closed count, win_rate = won / N, avg_deal_value = mean amount of won deals,
    cycle_days = mean days from created to close of won deals, velocity = N x avg x win_rate / cycle."""
    _check(group_by, period)
    o = f.opportunities
    o = o.filter(o.is_closed, _between(o.close_date, start, end))
    won_days = ibis.ifelse(o.is_won & o.created_date.notnull(), o.close_date.delta(o.created_date, unit="day"), ibis.null("int64"))
    agg = o.group_by(group=_group(o, group_by), period=o.close_date.truncate(PERIODS[period])).aggregate(
        opportunities=o.count(),
        won=o.count(where=o.is_won),
        won_amount=o.amount.sum(where=o.is_won),
        won_priced=o.amount.count(where=o.is_won),
        cycle_total=won_days.sum(),
        cycle_deals=won_days.count(),
    )
    n = agg.opportunities.cast("float64")
    win_rate = agg.won.cast("float64") / n
    avg = ibis.ifelse(agg.won_priced > 0, agg.won_amount.cast("float64") / agg.won_priced.cast("float64"), ibis.null("float64"))
    cycle = ibis.ifelse(agg.cycle_deals > 0, agg.cycle_total.cast("float64") / agg.cycle_deals.cast("float64"),
                        ibis.null("float64"))
    velocity = ibis.cases(
        (agg.won == 0, ibis.literal(0.0)),
        (cycle > 0, n * avg * win_rate / cycle),
        else_=ibis.null("float64"),
    )
    return agg.select(group=agg.group, period=agg.period, opportunities=agg.opportunities, won=agg.won, win_rate=win_rate,
                      avg_deal_value=avg, cycle_days=cycle, velocity=velocity).order_by(["group", "period"])


def velocity(f: Frames, group_by: str | None = None, period: str = "quarter", start: date | None = None,
             end: date | None = None) -> list[dict]:
    """Rows of exactly: group, period, opportunities, won, win_rate, avg_deal_value, cycle_days, velocity.

    Money and days are rounded to cents / 1e-4, rates to 1e-6, so every engine gives the same rows."""
    rows = []
    for r in f.run(velocity_expr(f, group_by, period, start, end)):
        rows.append({
            "group": r["group"], "period": period_label(r["period"], period), "opportunities": int(r["opportunities"]),
            "won": int(r["won"]), "win_rate": _float(r["win_rate"], 6), "avg_deal_value": _float(r["avg_deal_value"], 2),
            "cycle_days": _float(r["cycle_days"], 4), "velocity": _float(r["velocity"], 2),
        })
    return rows


# ---- 2. levers between periods ------------------------------------------------------------------


def levers(f: Frames, group_by: str | None = None, period: str = "quarter", start: date | None = None,
           end: date | None = None, what_if_pct: float = 10.0) -> list[dict]:
    """For each group and each pair of consecutive periods with closed deals: the change of velocity
    split into its four levers (log terms that add up to ln(v2/v1), and money shares that add up to
    v2 - v1), and the velocity if each lever improved by what_if_pct percent in the later period."""
    rows = velocity(f, group_by, period, start, end)
    by_group: dict[str, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    out = []
    for group, series in by_group.items():
        for before, after in zip(series, series[1:]):
            s = split_levers(before, after)
            row = {"group": group, "from_period": before["period"], "to_period": after["period"],
                   "velocity_before": s.before, "velocity_after": s.after, "log_change": s.log_change}
            for lever in ("opportunities", "avg_deal_value", "win_rate", "cycle_days"):
                row[f"{lever}_log"] = s.log_terms[lever] if s.defined else None
                row[f"{lever}_money"] = s.money_terms[lever] if s.defined else None
            for lever, v in what_ifs(after, what_if_pct).items():
                row[f"what_if_{lever}"] = v
            row["note"] = s.reason
            out.append(row)
    return out


# ---- 3. pipeline creation -----------------------------------------------------------------------


def pipeline_creation_counts_expr(f: Frames, start: date, end: date) -> ir.Table:
    """Opportunities created per owner per ISO week (weeks start on Monday)."""
    o = f.opportunities
    o = o.filter(_between(o.created_date, start, end), o.owner_id.notnull())
    return (o.group_by(owner_id=o.owner_id, week=o.created_date.truncate("W"))
            .aggregate(created=o.count()).order_by(["owner_id", "week"]))


def reps_in_scope(f: Frames, also: set[int] = frozenset()) -> list[dict]:
    p = f.people
    rows = f.run(p.select("id", "name", "team", "role", "is_active").order_by("name"))
    return [r for r in rows if (r["role"] == "rep" and r["is_active"]) or r["id"] in also]


def _default_window(f: Frames, start: date | None, end: date | None, column: str, weeks: int = 13,
                    closed_only: bool = False) -> tuple[date, date]:
    if end is None:
        end = latest_date(f, column, closed_only=closed_only) or date.today()
    if start is None:
        start = week_start(end) - timedelta(weeks=weeks - 1)
    return start, end


MAX_CREATION_WEEKS = 520  # ten years: the grid has a row per rep and week, zeros included


class WindowTooLong(ValueError):
    """A window whose every week would be a row (pipeline creation): more than MAX_CREATION_WEEKS."""


def pipeline_creation(f: Frames, start: date | None = None, end: date | None = None) -> dict:
    """Per rep and ISO week: opportunities created, the team's median; and who created none.
    Window default: the 13 weeks up to the latest created date in scope; at most MAX_CREATION_WEEKS
    (1900-01-01 to 2999-12-31 made 57,000 weeks per rep: 21 MB of JSON for three reps)."""
    start, end = _default_window(f, start, end, "created_date")
    if (end - start).days > 7 * MAX_CREATION_WEEKS:
        raise WindowTooLong(f"pipeline creation shows at most {MAX_CREATION_WEEKS} weeks (ten years) at a time; "
                            f"{start.isoformat()} to {end.isoformat()} is {(end - start).days // 7:,} weeks")
    counts = f.run(pipeline_creation_counts_expr(f, start, end))
    reps = reps_in_scope(f, {c["owner_id"] for c in counts})
    grid = creation_grid(reps, counts, start, end)
    grid.update(start=start, end=end)
    return grid


# ---- 4. activity vs effectiveness ---------------------------------------------------------------


def activity_counts_expr(f: Frames, start: date, end: date) -> ir.Table:
    a = f.activities
    a = a.filter(_between(a.activity_date, start, end), a.owner_id.notnull())
    return a.group_by(owner_id=a.owner_id).aggregate(activities=a.count())


def effectiveness_counts_expr(f: Frames, start: date, end: date) -> ir.Table:
    """Per owner: created in the window, closed in the window, won of those."""
    o = f.opportunities.filter(lambda t: t.owner_id.notnull())
    created = _between(o.created_date, start, end)
    closed = o.is_closed & _between(o.close_date, start, end)
    return o.group_by(owner_id=o.owner_id).aggregate(
        created=o.count(where=created),
        closed=o.count(where=closed),
        won=o.count(where=closed & o.is_won),
    )


def _stage_rank(h: ir.Table, stage_order: list[str] | None) -> ir.NumericValue:
    """How far along a stage is: its place in stage_order when given, else its probability."""
    if stage_order:
        return h.stage.substitute({s: i for i, s in enumerate(stage_order)}, else_=ibis.null("int64"))
    return h.probability


def stage_conversion_expr(f: Frames, start: date, end: date, stage_order: list[str] | None = None) -> ir.Table:
    """Per owner: the stages their deals entered in the window, and how many of those the deal later
    left for a stage further along (its next stage change ranks higher)."""
    h = f.stage_history
    # only the deals with a change in the window need their history walked (all of it: the next change may be later)
    day = h.changed_on
    h = h.filter(h.opportunity_id.isin(h.filter(day >= start, day <= end).opportunity_id))
    w = ibis.window(group_by=h.opportunity_id, order_by=[h.changed_at, h.id])
    rank = _stage_rank(h, stage_order)
    steps = h.mutate(rank=rank, next_rank=rank.lead().over(w))
    day = steps.changed_on
    steps = steps.filter(day >= start, day <= end, steps.owner_id.notnull())
    return steps.group_by(owner_id=steps.owner_id).aggregate(
        stage_entries=steps.count(), advanced=steps.count(where=steps.next_rank > steps["rank"]))


def diagnosis(f: Frames, start: date | None = None, end: date | None = None,
              thresholds: dx.Thresholds | None = None, stage_order: list[str] | None = None) -> list[dict]:
    """Each rep producing / on track / too little activity / too low effectiveness / both / not judged, with
    why. Producing: the forecast of the quarter that holds `end` reaches the leader's share of target.
    Window default: the 13 weeks up to the latest close date of a closed deal in scope.
    thresholds: None reads the sales leader's (performance.models.DiagnosisSettings)."""
    thresholds = thresholds or dx.settings_thresholds()
    start, end = _default_window(f, start, end, "close_date", closed_only=True)
    weeks = ((end - start).days + 1) / 7
    acts = {r["owner_id"]: r["activities"] for r in f.run(activity_counts_expr(f, start, end))}
    eff = {r["owner_id"]: r for r in f.run(effectiveness_counts_expr(f, start, end))}
    conv = {r["owner_id"]: r for r in f.run(stage_conversion_expr(f, start, end, stage_order))}
    active = {k for k, v in eff.items() if v["created"] or v["closed"]} | set(acts) | set(conv)
    reps = reps_in_scope(f, active)
    # what each rep's target needs: the forecast of the quarter that holds the window's end, by rep name
    production = {r["group"]: r for r in forecast(f, end, "quarter", periods=1, group_by="owner") if r["current"]}
    rows = []
    for rep in reps:
        e = eff.get(rep["id"], {})
        c = conv.get(rep["id"], {})
        p = production.get(rep["name"], {})
        rows.append({"rep": rep["name"], "team": rep["team"], "activities": int(acts.get(rep["id"], 0)),
                     "created": int(e.get("created") or 0), "closed": int(e.get("closed") or 0), "won": int(e.get("won") or 0),
                     "activities_per_week": acts.get(rep["id"], 0) / weeks, "new_per_week": int(e.get("created") or 0) / weeks,
                     "stage_entries": int(c.get("stage_entries") or 0), "advanced": int(c.get("advanced") or 0),
                     "target": p.get("target"), "forecast": p.get("forecast"), "production_period": p.get("period")})
    out = dx.diagnose(rows, thresholds)
    for r in out:
        r.update(blind_win_rate_low=dx.BLIND_WIN_RATE[0], blind_win_rate_high=dx.BLIND_WIN_RATE[1], start=start, end=end)
    return out


# ---- 5. pipeline meeting report -----------------------------------------------------------------


def meeting_exprs(f: Frames, meeting_day: date, stage_order: list[str] | None = None) -> dict[str, ir.Table]:
    """The four lists of a pipeline meeting on meeting_day; 'since the last meeting' is the 7 days before."""
    since = meeting_day - timedelta(days=7)
    o, h, a = f.opportunities, f.stage_history, f.activities
    cols = ["id", "name", "owner", "stage", "amount", "created_date", "close_date"]

    new = o.filter(o.created_date >= since, o.created_date < meeting_day).select(*cols)

    moved = h.filter(h.changed_on >= since, h.changed_on < meeting_day).select(opportunity_id=h.opportunity_id)
    touched = a.filter(a.activity_date >= since, a.activity_date < meeting_day, a.opportunity_id.notnull()).select(
        opportunity_id=a.opportunity_id)
    open_before = o.filter(~o.is_closed, o.created_date.isnull() | (o.created_date < since))
    # NOT IN subqueries rather than anti-joins: both compile the same everywhere (neither list has nulls)
    same = open_before.filter(~open_before.id.isin(moved.opportunity_id), ~open_before.id.isin(touched.opportunity_id))
    same = same.select(*cols)

    # the previous change of each recent one: only the deals changed since the last meeting need their history walked
    h = h.filter(h.opportunity_id.isin(moved.opportunity_id))
    w = ibis.window(group_by=h.opportunity_id, order_by=[h.changed_at, h.id])
    rank = _stage_rank(h, stage_order)
    steps = h.mutate(prev_close=h.close_date.lag().over(w), prev_stage=h.stage.lag().over(w), rank=rank)
    steps = steps.mutate(prev_rank=steps["rank"].lag().over(w))
    recent = steps.filter(steps.changed_on >= since, steps.changed_on < meeting_day)
    still_open = o.filter(~o.is_closed)
    slipped_h = recent.filter(recent.close_date > recent.prev_close)
    slipped = (still_open.join(slipped_h, still_open.id == slipped_h.opportunity_id)
               .select(*cols, previous_close_date=slipped_h.prev_close, why=ibis.literal("close date moved later")))
    overdue = still_open.filter(still_open.close_date < meeting_day).select(
        *cols, previous_close_date=ibis.null("date"), why=ibis.literal("close date passed, still open"))
    back_h = recent.filter(recent["rank"] < recent.prev_rank)
    back = (still_open.join(back_h, still_open.id == back_h.opportunity_id)
            .select(*cols, from_stage=back_h.prev_stage, to_stage=back_h.stage, changed_at=back_h.changed_at))
    return {"new": new.order_by(["owner", "created_date", "id"]),
            "same_as_last_week": same.order_by(["owner", "id"]),
            "slipped": slipped.union(overdue).order_by(["owner", "id", "why"]),
            "pushed_back": back.order_by(["owner", "id", "changed_at"])}


def meeting_report(f: Frames, meeting_day: date | None = None, stage_order: list[str] | None = None) -> dict[str, list[dict]]:
    """Each rep's new opportunities first, then deals with no stage change and no activity since the
    last meeting, slipped close dates, and deals pushed back a stage (by `stage_order`, else by the
    stage's probability). Default meeting day: the day after the latest created date in scope."""
    if meeting_day is None:
        latest = latest_date(f, "created_date")
        meeting_day = (latest + timedelta(days=1)) if latest else date.today()
    return {name: f.run(expr) for name, expr in meeting_exprs(f, meeting_day, stage_order).items()} | {
        "meeting_day": meeting_day}


# ---- 6. forecast vs pipeline --------------------------------------------------------------------


def stage_weight(o: ir.Table, stage_probabilities: dict[str, float] | None = None) -> ir.FloatingValue:
    """The stage-weighted forecast's probability of each opportunity: its stage's (DEFAULT_STAGE_PROBABILITIES
    unless configured), else its own probability (%), else 0."""
    probs = DEFAULT_STAGE_PROBABILITIES if stage_probabilities is None else stage_probabilities
    own = (o.probability.cast("float64") / 100).fill_null(0.0)
    return o.stage.substitute({k: float(v) for k, v in probs.items()}, else_=own) if probs else own


def forecast_expr(f: Frames, first: date, period: str, periods: int = 3, group_by: str = "owner",
                  stage_probabilities: dict[str, float] | None = None) -> ir.Table:
    """Per group and period (the one starting at `first` and the next ones): target, closed won,
    open pipeline and its stage-weighted value."""
    _check(group_by, period)
    last = first
    for _ in range(periods):
        last = next_period_start(last, period)
    unit = PERIODS[period]
    o = f.opportunities
    o = o.filter(o.close_date >= first, o.close_date < last)
    p = stage_weight(o, stage_probabilities)
    is_open = ~o.is_closed
    amount = o.amount.fill_null(0)
    deals = o.group_by(group=_group(o, group_by), period=o.close_date.truncate(unit)).aggregate(
        closed_won=amount.sum(where=o.is_won),
        pipeline=amount.sum(where=is_open),
        weighted=(amount.cast("float64") * p).sum(where=is_open),
        open_deals=o.count(where=is_open),
    )
    if group_by not in ("owner", "team"):
        return deals.mutate(target=ibis.null("decimal(38, 2)"))
    t, people = f.targets, f.people
    t = t.join(people, t.owner_id == people.id)
    t = t.filter(t.period_start >= first, t.period_start < last,
                 t.period_end.truncate(unit) == t.period_start.truncate(unit))
    group = ibis.coalesce(t["name" if group_by == "owner" else "team"], ibis.literal(NONE))
    targets = t.group_by(group=group, period=t.period_start.truncate(unit)).aggregate(target=t.amount.sum())
    j = deals.outer_join(targets, [deals.group == targets.group, deals.period == targets.period])
    return j.select(group=ibis.coalesce(deals.group, targets.group), period=ibis.coalesce(deals.period, targets.period),
                    closed_won=deals.closed_won, pipeline=deals.pipeline, weighted=deals.weighted,
                    open_deals=deals.open_deals, target=targets.target)


def forecast(f: Frames, as_of: date | None = None, period: str = "quarter", periods: int = 3, group_by: str = "owner",
             stage_probabilities: dict[str, float] | None = None) -> list[dict]:
    """This period's forecast (closed won + weighted open deals) against target, and for the next
    periods the pipeline coverage ratio (open pipeline / (target - closed won)).
    Default as_of: the latest close date of a closed deal in scope."""
    as_of = as_of or latest_date(f, "close_date", closed_only=True) or date.today()
    first = period_start(as_of, period)
    rows = f.run(forecast_expr(f, first, period, periods, group_by, stage_probabilities))
    out = []
    for r in rows:
        won = float(r["closed_won"] or 0)
        target = None if r["target"] is None else float(r["target"])
        weighted = float(r["weighted"] or 0)
        pipeline = float(r["pipeline"] or 0)
        gap = None if target is None else round(target - won, 2)
        out.append({
            "group": r["group"], "period": period_label(r["period"], period), "current": r["period"] == first,
            "target": target, "closed_won": round(won, 2), "weighted_open": round(weighted, 2),
            "forecast": round(won + weighted, 2), "gap": gap, "pipeline": round(pipeline, 2),
            "open_deals": int(r["open_deals"] or 0),
            "coverage": round(pipeline / gap, 4) if gap and gap > 0 else None,
        })
    out.sort(key=lambda r: (r["group"], r["period"]))
    return out



def forecast_by_owner_expr(f: Frames, start: date, end: date,
                           stage_probabilities: dict[str, float] | None = None) -> ir.Table:
    """The forecast's numbers (forecast_expr) per owner id, over the opportunities closing from `start` to
    `end` (inclusive): closed won, open pipeline, its stage-weighted value, open deals."""
    o = f.opportunities
    o = o.filter(o.close_date >= start, o.close_date <= end)
    p = stage_weight(o, stage_probabilities)
    is_open = ~o.is_closed
    amount = o.amount.fill_null(0)
    return o.group_by(owner_id=o.owner_id).aggregate(
        closed_won=amount.sum(where=o.is_won),
        pipeline=amount.sum(where=is_open),
        weighted=(amount.cast("float64") * p).sum(where=is_open),
        open_deals=o.count(where=is_open),
    )


def forecast_by_owner(f: Frames, start: date, end: date,
                      stage_probabilities: dict[str, float] | None = None) -> dict[int | None, dict]:
    """{owner id (None: no owner): {closed_won, pipeline, weighted, open_deals}} for the period start..end."""
    return {r["owner_id"]: {"closed_won": float(r["closed_won"] or 0), "pipeline": float(r["pipeline"] or 0),
                            "weighted": float(r["weighted"] or 0), "open_deals": int(r["open_deals"] or 0)}
            for r in f.run(forecast_by_owner_expr(f, start, end, stage_probabilities))}

METRICS = {
    "velocity": velocity,
    "levers": levers,
    "pipeline-creation": pipeline_creation,
    "diagnosis": diagnosis,
    "meeting": meeting_report,
    "forecast": forecast,
}
