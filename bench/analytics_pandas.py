"""The benchmark's baseline: the six dashboard metrics written plainly with pandas.

It reads the same app tables (pandas.read_sql over the app's own database connection) and
computes the same things as dealpilot.analytics.metrics with ordinary DataFrame operations. Its
velocity rows are built with the same arithmetic and rounding, so they must equal dealpilot's
(the benchmark and tests/bench check it); the other metrics are the same work, not compared
field by field.
"""

from __future__ import annotations

import math
import warnings
from datetime import date, timedelta

import numpy as np
import pandas as pd

STAGE_PROBABILITIES = {
    "Prospecting": 0.10, "Qualification": 0.10, "Needs Analysis": 0.20, "Value Proposition": 0.50,
    "Id. Decision Makers": 0.60, "Perception Analysis": 0.70, "Proposal/Price Quote": 0.75, "Negotiation/Review": 0.90,
}
LEVERS = ("opportunities", "avg_deal_value", "win_rate", "cycle_days")
SIGN = {"opportunities": 1, "avg_deal_value": 1, "win_rate": 1, "cycle_days": -1}

QUERIES = {
    "users": "SELECT u.id, u.username, u.full_name, u.role, u.is_active, u.team_id, t.name AS team "
             "FROM crm_user u LEFT JOIN crm_team t ON t.id = u.team_id",
    "opportunities": "SELECT id, name, owner_id, stage, amount, created_date, close_date, is_closed, is_won, probability "
                     "FROM crm_opportunity",
    "stage_history": "SELECT id, opportunity_id, stage, close_date, probability, changed_at FROM crm_stagehistory",
    "activities": "SELECT owner_id, opportunity_id, activity_date FROM crm_activity",
    "targets": "SELECT owner_id, period_start, period_end, amount FROM crm_salestarget",
}


def read_tables(dbapi_connection) -> dict[str, pd.DataFrame]:
    """The tables the metrics read, with proper dtypes."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas prefers SQLAlchemy; a DBAPI connection works
        for name, sql in QUERIES.items():
            out[name] = pd.read_sql(sql, dbapi_connection)
    u = out["users"]
    u["name"] = u.full_name.where(u.full_name.fillna("") != "", u.username)
    u["is_active"] = u.is_active.astype(bool)
    o = out["opportunities"]
    for c in ("created_date", "close_date"):
        o[c] = pd.to_datetime(o[c])
    for c in ("is_closed", "is_won"):
        o[c] = o[c].astype(bool)
    o["amount"] = pd.to_numeric(o.amount).astype(float)
    o["probability"] = pd.to_numeric(o.probability).astype(float)
    o["owner"] = o.owner_id.map(u.set_index("id").name)
    o["team"] = o.owner_id.map(u.set_index("id").team)
    h = out["stage_history"]
    h["close_date"] = pd.to_datetime(h.close_date)
    h["changed_at"] = pd.to_datetime(h.changed_at, utc=True)
    h["probability"] = pd.to_numeric(h.probability).astype(float)
    a = out["activities"]
    a["activity_date"] = pd.to_datetime(a.activity_date)
    t = out["targets"]
    for c in ("period_start", "period_end"):
        t[c] = pd.to_datetime(t[c])
    t["amount"] = pd.to_numeric(t.amount).astype(float)
    return out


def _ts(d: date) -> pd.Timestamp:
    return pd.Timestamp(d)


def _r(x, places):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), places)


# ---- 1. velocity -------------------------------------------------------------------------------


def velocity(d: dict, start: date, end: date) -> list[dict]:
    o = d["opportunities"]
    c = o[o.is_closed & o.close_date.notna() & (o.close_date >= _ts(start)) & (o.close_date <= _ts(end))]
    won = c.is_won
    cents = (c.amount * 100).round()
    days = (c.close_date - c.created_date).dt.days
    c = pd.DataFrame({
        "group": c.owner.fillna("(none)"), "period": c.close_date.dt.to_period("Q"), "won": won,
        "won_cents": cents.where(won), "won_days": days.where(won & c.created_date.notna()),
    })
    g = c.groupby(["group", "period"], sort=True).agg(
        opportunities=("won", "size"), won=("won", "sum"), won_cents=("won_cents", "sum"),
        won_priced=("won_cents", "count"), cycle_total=("won_days", "sum"), cycle_deals=("won_days", "count"))
    n = g.opportunities.astype(float)
    win_rate = g.won / n
    avg = (g.won_cents / 100).where(g.won_priced > 0) / g.won_priced
    cycle = g.cycle_total.where(g.cycle_deals > 0) / g.cycle_deals
    vel = np.where(g.won == 0, 0.0, np.where(cycle > 0, n * avg * win_rate / cycle, np.nan))
    rows = []
    for (group, period), on, w, wr, a, cy, v in zip(g.index, g.opportunities, g.won, win_rate, avg, cycle, vel):
        rows.append({"group": group, "period": f"{period.year}-Q{period.quarter}", "opportunities": int(on), "won": int(w),
                     "win_rate": _r(wr, 6), "avg_deal_value": _r(a, 2), "cycle_days": _r(cy, 4), "velocity": _r(v, 2)})
    return rows


# ---- 2. levers ---------------------------------------------------------------------------------


def levers(d: dict, start: date, end: date, pct: float = 10.0) -> pd.DataFrame:
    v = pd.DataFrame(velocity(d, start, end))
    if v.empty:
        return v
    prev = v.groupby("group").shift(1)
    pairs = v[prev.period.notna()].copy()
    before = prev[prev.period.notna()]
    ok = pd.Series(True, index=pairs.index)
    for lever in LEVERS:
        ok &= (pairs[lever] > 0) & (before[lever] > 0)
    total = 0.0
    for lever in LEVERS:
        term = SIGN[lever] * (np.log(pairs[lever].where(ok)) - np.log(before[lever].where(ok)))
        pairs[f"{lever}_log"] = term
        total = total + term
    delta = pairs.velocity.fillna(0) - before.velocity.fillna(0)
    for lever in LEVERS:
        pairs[f"{lever}_money"] = np.where(total == 0, 0.0, delta * pairs[f"{lever}_log"] / total)
        factor = 1 + pct / 100 if SIGN[lever] > 0 else 1 - pct / 100
        pairs[f"what_if_{lever}"] = pairs.velocity * factor if SIGN[lever] > 0 else pairs.velocity / factor
    pairs["from_period"] = before.period
    return pairs


# ---- 3. pipeline creation ----------------------------------------------------------------------


def _reps(d: dict, also) -> pd.DataFrame:
    u = d["users"]
    return u[((u.role == "rep") & u.is_active) | u.id.isin(also)].sort_values("name")


def pipeline_creation(d: dict, start: date, end: date) -> dict:
    o = d["opportunities"]
    c = o[(o.created_date >= _ts(start)) & (o.created_date <= _ts(end)) & o.owner_id.notna()]
    week = c.created_date - pd.to_timedelta(c.created_date.dt.weekday, unit="D")
    counts = c.groupby([c.owner_id, week]).size()
    reps = _reps(d, set(counts.index.get_level_values(0)))
    first = _ts(start) - pd.Timedelta(days=start.weekday())
    weeks = pd.date_range(first, _ts(end), freq="7D")
    grid = counts.reindex(pd.MultiIndex.from_product([reps.id, weeks], names=["owner_id", "week"]), fill_value=0)
    grid = grid.rename("created").reset_index()
    grid["team"] = grid.owner_id.map(reps.set_index("id").team).fillna("(none)")
    grid["team_median"] = grid.groupby(["team", "week"]).created.transform("median")
    grid["rep"] = grid.owner_id.map(reps.set_index("id").name)
    none = grid[grid.created == 0].groupby("week").rep.apply(sorted).to_dict()
    return {"rows": grid, "none": none}


# ---- 4. diagnosis ------------------------------------------------------------------------------


def diagnosis(d: dict, start: date, end: date, ratio: float = 0.7, min_closed: int = 10, min_team: int = 3,
              min_entries: int = 10) -> pd.DataFrame:
    o, a, h = d["opportunities"], d["activities"], d["stage_history"]
    s, e = _ts(start), _ts(end)
    weeks = ((end - start).days + 1) / 7
    owner_of = o.set_index("id").owner_id
    act_owner = a.owner_id.fillna(a.opportunity_id.map(owner_of))
    in_window = (a.activity_date >= s) & (a.activity_date <= e)
    acts = act_owner[in_window].value_counts()
    created = o[(o.created_date >= s) & (o.created_date <= e)].owner_id.value_counts()
    closed_rows = o[o.is_closed & (o.close_date >= s) & (o.close_date <= e)]
    closed = closed_rows.owner_id.value_counts()
    won = closed_rows[closed_rows.is_won].owner_id.value_counts()
    hs = h.sort_values(["opportunity_id", "changed_at", "id"])
    next_rank = hs.groupby("opportunity_id").probability.shift(-1)
    day = hs.changed_at.dt.tz_localize(None).dt.normalize()
    keep = (day >= s) & (day <= e)
    entries = hs[keep].opportunity_id.map(owner_of).value_counts()
    advanced = hs[keep & (next_rank > hs.probability)].opportunity_id.map(owner_of).value_counts()
    active = set(acts.index) | set(created.index) | set(closed.index) | set(entries.index)
    reps = _reps(d, active)
    t = pd.DataFrame({"rep": reps.name.values, "team": reps.team.values}, index=reps.id.values)
    for name, series in (("activities", acts), ("created", created), ("closed", closed), ("won", won),
                         ("stage_entries", entries), ("advanced", advanced)):
        t[name] = series.reindex(t.index).fillna(0).astype(int)
    t["activities_per_week"] = t.activities / weeks
    t["new_per_week"] = t.created / weeks
    t["win_rate"] = (t.won / t.closed).where(t.closed > 0)
    t["stage_conversion"] = (t.advanced / t.stage_entries).where(t.stage_entries > 0)
    sizes = t.groupby("team", dropna=False).rep.transform("size")
    peer = t.team.where(sizes >= min_team, "__all__").fillna("__none__")
    medians = {}
    for key in peer.unique():
        g = t if key == "__all__" else t[peer == key]
        medians[key] = (g.activities_per_week.median(), g.new_per_week.median(),
                        g[g.closed >= min_closed].win_rate.median(), g[g.stage_entries >= min_entries].stage_conversion.median())
    med = pd.DataFrame([medians[k] for k in peer], index=t.index,
                       columns=["team_activities_per_week", "team_new_per_week", "team_win_rate", "team_stage_conversion"])
    t = t.join(med)
    low_activity = (((t.team_activities_per_week > 0) & (t.activities_per_week < ratio * t.team_activities_per_week))
                    | ((t.team_new_per_week > 0) & (t.new_per_week < ratio * t.team_new_per_week)))
    small = t.closed < min_closed
    low_eff = ~small & (t.team_win_rate > 0) & (t.win_rate < ratio * t.team_win_rate)
    t["verdict"] = np.select([low_activity & low_eff, low_activity, low_eff, small],
                             ["both", "too little activity", "too low effectiveness", "not judged (small sample)"], "on track")
    z = 1.959963984540054
    n, p = t.closed.where(t.closed > 0), t.win_rate
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    t["win_rate_low"], t["win_rate_high"] = (centre - half).clip(lower=0), (centre + half).clip(upper=1)
    t["reason"] = [f"{r.activities_per_week:.1f} activities and {r.new_per_week:.1f} new a week, win rate {r.win_rate}: {r.verdict}"
                   for r in t.itertuples()]
    return t


# ---- 5. meeting report -------------------------------------------------------------------------


def meeting(d: dict, day: date) -> dict[str, pd.DataFrame]:
    o, h, a = d["opportunities"], d["stage_history"], d["activities"]
    since, day_ts = _ts(day - timedelta(days=7)), _ts(day)
    cols = ["id", "name", "owner", "stage", "amount", "created_date", "close_date"]
    new = o[(o.created_date >= since) & (o.created_date < day_ts)][cols].sort_values(["owner", "created_date", "id"])
    changed = h.changed_at.dt.tz_localize(None).dt.normalize()
    moved = h[(changed >= since) & (changed < day_ts)].opportunity_id
    touched = a[(a.activity_date >= since) & (a.activity_date < day_ts) & a.opportunity_id.notna()].opportunity_id
    open_before = o[~o.is_closed & (o.created_date.isna() | (o.created_date < since))]
    same = open_before[~open_before.id.isin(moved) & ~open_before.id.isin(touched)][cols].sort_values(["owner", "id"])
    hs = h.sort_values(["opportunity_id", "changed_at", "id"])
    g = hs.groupby("opportunity_id")
    hs = hs.assign(prev_close=g.close_date.shift(1), prev_stage=g.stage.shift(1), prev_rank=g.probability.shift(1))
    hday = hs.changed_at.dt.tz_localize(None).dt.normalize()
    recent = hs[(hday >= since) & (hday < day_ts)]
    still_open = o[~o.is_closed]
    slipped = still_open.merge(recent[recent.close_date > recent.prev_close][["opportunity_id", "prev_close"]],
                               left_on="id", right_on="opportunity_id")[cols + ["prev_close"]]
    overdue = still_open[still_open.close_date < day_ts][cols]
    slipped = pd.concat([slipped.assign(why="close date moved later"), overdue.assign(why="close date passed, still open")])
    back = still_open.merge(recent[recent.probability < recent.prev_rank][["opportunity_id", "prev_stage", "stage", "changed_at"]],
                            left_on="id", right_on="opportunity_id", suffixes=("", "_to"))
    return {"new": new, "same_as_last_week": same, "slipped": slipped.sort_values(["owner", "id", "why"]),
            "pushed_back": back.sort_values(["owner", "id", "changed_at"])}


# ---- 6. forecast -------------------------------------------------------------------------------


def forecast(d: dict, as_of: date, periods: int = 3) -> pd.DataFrame:
    o, t, u = d["opportunities"], d["targets"], d["users"]
    first = pd.Timestamp(as_of).to_period("Q")
    last = first + periods
    q = o.close_date.dt.to_period("Q")
    c = o[(q >= first) & (q < last)]
    p = c.stage.map(STAGE_PROBABILITIES).fillna((c.probability / 100).fillna(0.0))
    amount = c.amount.fillna(0)
    is_open = ~c.is_closed
    deals = pd.DataFrame({"group": c.owner.fillna("(none)"), "period": q[c.index], "closed_won": amount.where(c.is_won, 0),
                          "pipeline": amount.where(is_open, 0), "weighted": (amount * p).where(is_open, 0),
                          "open_deals": is_open.astype(int)}).groupby(["group", "period"]).sum()
    tq = t.period_start.dt.to_period("Q")
    tt = t[(tq >= first) & (tq < last) & (t.period_end.dt.to_period("Q") == tq)]
    tt = tt.assign(group=tt.owner_id.map(u.set_index("id").name).fillna("(none)"), period=tq[tt.index])
    targets = tt.groupby(["group", "period"]).amount.sum().rename("target")
    out = deals.join(targets, how="outer").reset_index()
    out["forecast"] = out.closed_won.fillna(0) + out.weighted.fillna(0)
    out["gap"] = out.target - out.closed_won.fillna(0)
    out["coverage"] = (out.pipeline.fillna(0) / out.gap).where(out.gap > 0)
    return out.sort_values(["group", "period"])


def dashboard(d: dict, window: tuple[date, date], today: date, diagnosis_start: date, meeting_day: date) -> dict:
    start, end = window
    return {"velocity": velocity(d, start, end), "levers": levers(d, start, end),
            "pipeline_creation": pipeline_creation(d, start, today), "diagnosis": diagnosis(d, diagnosis_start, today),
            "meeting": meeting(d, meeting_day), "forecast": forecast(d, today)}
