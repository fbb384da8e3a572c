"""Sales velocity's four levers: how much each moved velocity between two periods, and what-ifs.

velocity = N x avg_deal_value x win_rate / cycle_days, so

    ln(v2 / v1) = ln(N2/N1) + ln(avg2/avg1) + ln(wr2/wr1) - ln(cycle2/cycle1)

exactly: each lever's term is its contribution to the change. For a waterfall in money, the change
v2 - v1 is shared out in proportion to the terms (each lever gets (v2 - v1) x term / ln(v2/v1)),
which also adds up exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEVERS = ("opportunities", "avg_deal_value", "win_rate", "cycle_days")
LEVER_SIGN = {"opportunities": 1, "avg_deal_value": 1, "win_rate": 1, "cycle_days": -1}


@dataclass(frozen=True)
class LeverSplit:
    before: float
    after: float
    log_change: float | None            # ln(after / before)
    log_terms: dict[str, float] | None  # lever -> its term of log_change
    money_terms: dict[str, float] | None  # lever -> its share of after - before
    reason: str = ""                    # why there is no split, when there is none

    @property
    def defined(self) -> bool:
        return self.log_terms is not None


def _positive(row: dict, key: str) -> bool:
    value = row.get(key)
    return value is not None and value > 0


def split_levers(before: dict, after: dict) -> LeverSplit:
    """Split the change of velocity between two velocity rows into the four levers' terms."""
    v1, v2 = before.get("velocity") or 0.0, after.get("velocity") or 0.0
    missing = [k for k in LEVERS for row in (before, after) if not _positive(row, k)]
    if missing:
        lever = missing[0].replace("_", " ")
        return LeverSplit(v1, v2, None, None, None,
                          reason=f"no split: {lever} is zero or unknown in one period (every lever must be positive in both)")
    terms = {k: LEVER_SIGN[k] * (math.log(after[k]) - math.log(before[k])) for k in LEVERS}
    log_change = math.log(v2 / v1) if v1 > 0 and v2 > 0 else math.fsum(terms.values())
    total = math.fsum(terms.values())  # equals log_change up to float rounding (velocity is the levers' product)
    delta = v2 - v1
    money = {k: 0.0 for k in LEVERS} if total == 0 else {k: delta * t / total for k, t in terms.items()}
    return LeverSplit(v1, v2, log_change, terms, money)


def what_if(row: dict, lever: str, change_pct: float) -> float | None:
    """Velocity if one lever moves by change_pct percent (cycle_days: a longer cycle lowers velocity)."""
    if lever not in LEVERS:
        raise ValueError(f"unknown lever {lever!r}; one of {', '.join(LEVERS)}")
    velocity = row.get("velocity")
    if velocity is None:
        return None
    factor = 1 + change_pct / 100
    if factor <= 0:
        raise ValueError("a lever cannot move by -100% or more")
    return velocity * factor if LEVER_SIGN[lever] > 0 else velocity / factor


def what_ifs(row: dict, change_pct: float = 10.0) -> dict[str, float | None]:
    """Velocity if each lever in turn improves by change_pct percent (cycle_days: shortens)."""
    return {lever: what_if(row, lever, change_pct if LEVER_SIGN[lever] > 0 else -change_pct) for lever in LEVERS}


# ---- what-if in each lever's own unit, and goal seek -----------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    """How much each lever moves, in its own unit: the levers are not alike (five points of win rate on a
    20% win rate is a quarter more velocity; ten days off a 90-day cycle is an eighth more)."""

    more_deals: float = 10.0  # % more opportunities
    bigger_deals: float = 10.0  # % higher average deal value
    win_points: float = 5.0  # the win rate up by this many points
    shorter_cycle: float = 10.0  # days off the sales cycle
    goal: float | None = None  # revenue a period to reach (goal seek); None: the period's target where known


def moved(row: dict, lever: str, w: WhatIf) -> dict | None:
    """The lever's value now and after the move, and velocity after it; None when the row has no velocity."""
    v = row.get("velocity")
    now = row.get(lever)
    if not v or not now:
        return None
    if lever == "opportunities":
        after, text = now * (1 + w.more_deals / 100), f"{w.more_deals:+g}% deals"
    elif lever == "avg_deal_value":
        after, text = now * (1 + w.bigger_deals / 100), f"{w.bigger_deals:+g}% deal size"
    elif lever == "win_rate":
        after, text = min(1.0, max(0.0, now + w.win_points / 100)), f"{w.win_points:+g} points of win rate"
    elif lever == "cycle_days":
        after, text = max(1.0, now - w.shorter_cycle), f"{w.shorter_cycle:g} days {'shorter' if w.shorter_cycle >= 0 else 'longer'} cycle"
    else:
        raise ValueError(f"unknown lever {lever!r}; one of {', '.join(LEVERS)}")
    velocity = v * (now / after if lever == "cycle_days" else after / now)
    return {"lever": lever, "move": text, "before": now, "after": after, "velocity": v, "what_if_velocity": velocity,
            "gain": velocity - v, "gain_pct": 100 * (velocity / v - 1)}


def goal_seek(row: dict, goal_velocity: float) -> list[dict]:
    """What each lever alone would have to be for velocity to reach `goal_velocity` (money a day): velocity is
    the levers' product, so each scales by goal / velocity (the cycle by its inverse). A win rate above 100%
    cannot be reached by the win rate alone, and says so."""
    v = row.get("velocity")
    if not v or goal_velocity <= 0:
        return []
    ratio = goal_velocity / v
    out = []
    for lever in LEVERS:
        now = row.get(lever)
        if not now:
            continue
        needed = now / ratio if lever == "cycle_days" else now * ratio
        reachable = not (lever == "win_rate" and needed > 1.0)
        out.append({"lever": lever, "now": now, "needed": needed, "change_pct": 100 * (needed / now - 1), "reachable": reachable})
    return out
