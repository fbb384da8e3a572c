"""Too little activity or too low effectiveness? The rules that judge a rep against the team.

A rep's **activity** is activities and new opportunities per week; **effectiveness** is the win rate
over the deals they closed (the verdict's measure) and the stage conversion (the share of the stages
their deals entered that were later left for a stage further along: shown beside it, not judged). Each is compared with the median of the rep's team (over the reps in
scope; a team with fewer than `min_team_size` reps is compared with all reps in scope).

- too little activity: activities per week *or* new opportunities per week below
  `activity_ratio` x the team median (a median of zero judges nobody);
- too low effectiveness: win rate below `win_rate_ratio` x the team median win rate;
- a rep with fewer than `min_closed` closed deals is a **small sample**: effectiveness is not judged
  (the verdict says so), and the 95% Wilson interval of the win rate shows how little is known.

But first, seed 002: "activity management is micromanagement if a salesperson is producing the deals they
need". A rep whose forecast for the period (won + stage-weighted open deals) reaches `producing_share` of
their target is **producing**: neither activity nor effectiveness is judged, and the reason says so. Only
reps short of what their target needs (or without a target) are diagnosed. The sales leader edits the
thresholds (performance.models.DiagnosisSettings).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

ON_TRACK = "on track"
LOW_ACTIVITY = "too little activity"
LOW_EFFECTIVENESS = "too low effectiveness"
BOTH = "both"
NOT_JUDGED = "not judged (small sample)"
PRODUCING = "producing"

# The win rate on blind opportunities (RFPs the team did not shape): shown beside every win rate.
BLIND_WIN_RATE = (0.10, 0.15)


@dataclass(frozen=True)
class Thresholds:
    activity_ratio: float = 0.7   # below 70% of the team median activity is too little
    win_rate_ratio: float = 0.7   # below 70% of the team median win rate is too low
    min_closed: int = 10          # fewer closed deals than this: effectiveness not judged
    min_team_size: int = 3        # smaller teams are compared with all reps in scope
    min_stage_entries: int = 10   # fewer stage changes than this: stage conversion left out of the team median
    confidence: float = 0.95      # of the win rate's Wilson interval
    producing_share: float = 0.9  # a forecast this share of target or more: producing, not diagnosed


DEFAULT_THRESHOLDS = Thresholds()


def wilson_interval(won: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion won/n; None when n is 0."""
    if n <= 0:
        return None
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = won / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def settings_thresholds() -> Thresholds:
    """The sales leader's thresholds (the defaults until a leader changes them)."""
    from .models import DiagnosisSettings

    return DiagnosisSettings.current().thresholds()


def diagnose(reps: list[dict], thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[dict]:
    """Judge each rep. Each input row: rep, team, activities_per_week, new_per_week, closed, won
    (and optionally stage_entries, advanced, and forecast, target, production_period: the period's
    forecast against target, which decides whether the rep is producing).

    Returns the rows with team medians, win_rate, its interval, the verdict and a one-sentence reason.
    """
    t = thresholds
    by_team: dict[object, list[dict]] = {}
    for r in reps:
        by_team.setdefault(r.get("team"), []).append(r)

    def conversion(r: dict) -> float | None:
        return r["advanced"] / r["stage_entries"] if r.get("stage_entries") else None

    def peers(r: dict) -> list[dict]:
        team = by_team.get(r.get("team"), [])
        return team if len(team) >= t.min_team_size else reps

    out = []
    for r in reps:
        group = peers(r)
        win_rate = r["won"] / r["closed"] if r["closed"] else None
        judged = [p for p in group if p["closed"] >= t.min_closed]
        med = {
            "activities_per_week": median([p["activities_per_week"] for p in group]),
            "new_per_week": median([p["new_per_week"] for p in group]),
            "win_rate": median([p["won"] / p["closed"] for p in judged]),
            "stage_conversion": median([conversion(p) for p in group if p.get("stage_entries", 0) >= t.min_stage_entries]),
        }
        low_acts = bool(med["activities_per_week"]) and r["activities_per_week"] < t.activity_ratio * med["activities_per_week"]
        low_new = bool(med["new_per_week"]) and r["new_per_week"] < t.activity_ratio * med["new_per_week"]
        low_activity = low_acts or low_new
        small = r["closed"] < t.min_closed
        low_eff = (not small and bool(med["win_rate"]) and win_rate is not None
                   and win_rate < t.win_rate_ratio * med["win_rate"])
        target, forecast = r.get("target"), r.get("forecast")
        producing = bool(target) and forecast is not None and forecast >= t.producing_share * target
        if producing:
            verdict = PRODUCING
        elif low_activity and low_eff:
            verdict = BOTH
        elif low_activity:
            verdict = LOW_ACTIVITY
        elif low_eff:
            verdict = LOW_EFFECTIVENESS
        elif small:
            verdict = NOT_JUDGED
        else:
            verdict = ON_TRACK
        ci = wilson_interval(r["won"], r["closed"], t.confidence)
        row = dict(r, win_rate=win_rate, win_rate_low=ci[0] if ci else None, win_rate_high=ci[1] if ci else None,
                   stage_conversion=conversion(r), team_activities_per_week=med["activities_per_week"],
                   team_new_per_week=med["new_per_week"], team_win_rate=med["win_rate"],
                   team_stage_conversion=med["stage_conversion"], small_sample=small, verdict=verdict)
        row["reason"] = reason(row, t)
        out.append(row)
    return out


def reason(row: dict, t: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """The numbers that decided the verdict, in one sentence."""
    ci = (f" (95% interval {_pct(row['win_rate_low'])}-{_pct(row['win_rate_high'])})"
          if row.get("win_rate_low") is not None else "")
    activity = (f"{_num(row['activities_per_week'])} activities and {_num(row['new_per_week'])} new opportunities a week "
                f"against the team's {_num(row['team_activities_per_week'])} and {_num(row['team_new_per_week'])}")
    effect = f"win rate {_pct(row['win_rate'])}{ci} on {row['closed']} closed against the team's {_pct(row['team_win_rate'])}"
    if row.get("stage_conversion") is not None:
        effect += (f" and {_pct(row['stage_conversion'])} of stage changes moved on against "
                   f"{_pct(row.get('team_stage_conversion'))}")
    verdict = row["verdict"]
    if verdict == PRODUCING:
        return (f"Forecast {row['forecast'] / row['target']:.0%} of target in {row.get('production_period') or 'the period'} "
                f"(producing: {t.producing_share:.0%} or more), so activity and effectiveness are left to them; for the record: "
                f"{activity}, {effect}.")
    short = (f"Forecast {row['forecast'] / row['target']:.0%} of target in {row.get('production_period') or 'the period'}, "
             f"short of the {t.producing_share:.0%} that counts as producing. "
             if row.get("target") and row.get("forecast") is not None else "")
    if verdict == NOT_JUDGED:
        return f"{short}{activity}; only {row['closed']} closed deals (under {t.min_closed}), so effectiveness is not judged yet."
    if verdict == LOW_ACTIVITY and row["small_sample"]:
        return (f"{short}{activity} (under {t.activity_ratio:.0%}): too little activity; only {row['closed']} closed deals, "
                "so effectiveness is not judged yet.")
    return f"{short}{activity}, {effect}: {verdict}."
