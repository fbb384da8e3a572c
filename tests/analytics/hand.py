"""The metrics computed by hand from the Maven CSV files, with the csv module and plain Python only
(nothing from dealpilot), to check the Ibis definitions against."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path


def read(folder: Path, name: str) -> list[dict]:
    with open(folder / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def quarter(d: date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


class Maven:
    def __init__(self, folder: Path):
        self.pipeline = read(folder, "sales_pipeline.csv")
        self.teams = read(folder, "sales_teams.csv")
        self.team_of = {r["sales_agent"]: f"{r['manager']}'s team" for r in self.teams}
        for r in self.pipeline:
            r["engage"], r["close"] = day(r["engage_date"]), day(r["close_date"])
            r["product"] = "GTX Pro" if r["product"] == "GTXPro" else r["product"]

    def group(self, r: dict, by: str | None) -> str:
        if by is None:
            return "all"
        if by == "owner":
            return r["sales_agent"]
        if by == "team":
            return self.team_of[r["sales_agent"]]
        if by == "product":
            return r["product"] or "(none)"
        raise ValueError(by)

    def velocity(self, by: str | None, start: date | None = None, end: date | None = None) -> list[dict]:
        cells: dict[tuple, list[dict]] = defaultdict(list)
        for r in self.pipeline:
            if r["deal_stage"] in ("Won", "Lost") and r["close"] and (start is None or r["close"] >= start) and (
                    end is None or r["close"] <= end):
                cells[(self.group(r, by), quarter(r["close"]))].append(r)
        rows = []
        for (group, period), deals in sorted(cells.items()):
            won = [r for r in deals if r["deal_stage"] == "Won"]
            n = len(deals)
            win_rate = len(won) / n
            values = [Decimal(r["close_value"]) for r in won if r["close_value"]]
            avg = float(sum(values)) / len(values) if values else None
            days = [(r["close"] - r["engage"]).days for r in won if r["engage"]]
            cycle = sum(days) / len(days) if days else None
            velocity = 0.0 if not won else (n * avg * win_rate / cycle if cycle else None)
            rows.append({"group": group, "period": period, "opportunities": n, "won": len(won), "win_rate": win_rate,
                         "avg_deal_value": avg, "cycle_days": cycle, "velocity": velocity})
        return rows

    def created_per_week(self, start: date, end: date) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for r in self.pipeline:
            if r["engage"] and start <= r["engage"] <= end:
                y, w, _ = r["engage"].isocalendar()
                counts[(r["sales_agent"], f"{y}-W{w:02d}")] += 1
        return counts

    def weeks(self, start: date, end: date) -> list[str]:
        out, d = [], start - timedelta(days=start.weekday())
        while d <= end:
            y, w, _ = d.isocalendar()
            out.append(f"{y}-W{w:02d}")
            d += timedelta(days=7)
        return out

    def team_median(self, counts: dict, week: str, team: str) -> float:
        return statistics.median([counts.get((a, week), 0) for a, t in self.team_of.items() if t == team])

    def window_counts(self, start: date, end: date) -> dict[str, dict]:
        out = {a: {"created": 0, "closed": 0, "won": 0} for a in self.team_of}
        for r in self.pipeline:
            c = out[r["sales_agent"]]
            if r["engage"] and start <= r["engage"] <= end:
                c["created"] += 1
            if r["deal_stage"] in ("Won", "Lost") and r["close"] and start <= r["close"] <= end:
                c["closed"] += 1
                c["won"] += r["deal_stage"] == "Won"
        return out

    def closed_won(self, by: str, start: date, end: date) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for r in self.pipeline:
            if r["deal_stage"] == "Won" and r["close"] and start <= r["close"] < end:
                out[self.group(r, by)] += Decimal(r["close_value"] or 0)
        return dict(out)
