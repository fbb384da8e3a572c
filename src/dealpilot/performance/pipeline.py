"""Pipeline creation per rep per ISO week: the full grid (weeks with none included), team medians,
and who created nothing. The counts come from `analytics.metrics.pipeline_creation_counts`."""

from __future__ import annotations

import statistics
from datetime import date, timedelta


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def iso_week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weeks_between(start: date, end: date) -> list[date]:
    """The Mondays of the ISO weeks that overlap [start, end]."""
    monday, last = week_start(start), week_start(end)
    out = []
    while monday <= last:
        out.append(monday)
        monday += timedelta(days=7)
    return out


def creation_grid(reps: list[dict], counts: list[dict], start: date, end: date) -> dict:
    """reps: id, name, team; counts: owner_id, week (a Monday), created.

    Returns {"weeks": [...labels], "rows": [one per rep and week with created, team_median],
    "none": {week label: [rep names who created none]}}.
    """
    weeks = weeks_between(start, end)
    got = {(c["owner_id"], c["week"]): c["created"] for c in counts}
    by_team: dict[object, list[dict]] = {}
    for rep in reps:
        by_team.setdefault(rep.get("team"), []).append(rep)
    rows, none = [], {}
    for monday in weeks:
        label = iso_week_label(monday)
        team_median = {team: statistics.median([got.get((r["id"], monday), 0) for r in members])
                       for team, members in by_team.items()}
        none[label] = sorted(r["name"] for r in reps if not got.get((r["id"], monday), 0))
        for rep in reps:
            rows.append({"rep": rep["name"], "team": rep.get("team"), "week": label, "week_start": monday,
                         "created": got.get((rep["id"], monday), 0), "team_median": team_median[rep.get("team")]})
    return {"weeks": [iso_week_label(m) for m in weeks], "rows": rows, "none": none}
