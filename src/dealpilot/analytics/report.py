"""`dealpilot report NAME`: any metric as flat rows, for a person's scope, on a chosen engine.

The CLI (and later the pages' CSV downloads) call `report_rows`; every metric comes from
`analytics.metrics`, so the numbers are the ones the pages show.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

from dealpilot.exports import to_csv

from . import metrics as m
from .frames import frames_for

TEAM_REPORTS = ("velocity", "levers", "pipeline-creation", "diagnosis", "meeting", "forecast")  # the team dashboard's
REPORTS = (*TEAM_REPORTS, "accounts", "deal-changes", "forecast-accuracy", "win-loss")


class ReportError(ValueError):
    """A report asked for with arguments it cannot take (unknown user, group, ...)."""


def find_user(username: str | None):
    if username is None:
        return None
    from dealpilot.crm.models import User

    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise ReportError(f"no user called {username!r}") from None


def report_rows(name: str, *, group_by: str | None = None, period: str = "quarter", start: date | None = None,
                end: date | None = None, as_user: str | None = None, engine: str | None = None) -> list[dict]:
    """The rows of one report. `as_user`: a username whose scope applies (None: every record)."""
    if name not in REPORTS:
        raise ReportError(f"unknown report {name!r}; one of {', '.join(REPORTS)}")
    if name == "win-loss":  # win/loss analysis (deals app); --group-by: its dimension
        return _win_loss(as_user, group_by, start, end)["rows"]
    if group_by is not None and group_by not in m.GROUPS:
        raise ReportError(f"--group-by must be one of {', '.join(m.GROUPS)}")
    if period not in m.PERIODS:
        raise ReportError(f"--period must be one of {', '.join(m.PERIODS)}")
    if name == "accounts":  # account priorities (planning app): scores and quadrants, ranked
        from dealpilot.planning.selectors import priority_rows

        return priority_rows(find_user(as_user))
    if name == "deal-changes":  # the week's deal changes (forecasting app), `end`: a day of the week
        return _deal_changes(as_user, end)["rows"]
    if name == "forecast-accuracy":  # closed periods' calls, model and stage-weighted against what was won
        return _forecast_accuracy(as_user)["rows"]
    f = frames_for(find_user(as_user), engine)
    if name == "velocity":
        return m.velocity(f, group_by, period, start, end)
    if name == "levers":
        return m.levers(f, group_by, period, start, end)
    if name == "pipeline-creation":
        try:
            grid = m.pipeline_creation(f, start, end)
        except m.WindowTooLong as exc:
            raise ReportError(str(exc)) from None
        return [{k: v for k, v in r.items() if k != "week_start"} for r in grid["rows"]]
    if name == "diagnosis":
        keep = ("rep", "team", "activities", "created", "closed", "won", "activities_per_week", "new_per_week", "win_rate",
                "win_rate_low", "win_rate_high", "stage_entries", "advanced", "stage_conversion", "team_activities_per_week",
                "team_new_per_week", "team_win_rate", "team_stage_conversion", "small_sample", "forecast", "target",
                "production_period", "verdict", "reason")
        return [{k: r[k] for k in keep} for r in m.diagnosis(f, start, end)]
    if name == "meeting":
        report = m.meeting_report(f, end)
        rows = []
        for section in ("new", "same_as_last_week", "slipped", "pushed_back"):
            for r in report[section]:
                rows.append({"section": section, "meeting_day": report["meeting_day"], **r})
        return rows
    return m.forecast(f, start, period, group_by=group_by or "owner")


def _deal_changes(as_user: str | None, end: date | None) -> dict:
    from dealpilot.forecasting.reports import NoForecast, deal_changes_report

    try:
        return deal_changes_report(find_user(as_user), week=end)
    except NoForecast as exc:
        raise ReportError(str(exc)) from None


def _forecast_accuracy(as_user: str | None) -> dict:
    from dealpilot.forecasting.reports import NoForecast, accuracy_report

    try:
        return accuracy_report(find_user(as_user))
    except NoForecast as exc:
        raise ReportError(str(exc)) from None


def _win_loss(as_user: str | None, group_by: str | None, start: date | None, end: date | None) -> dict:
    """The win/loss analysis (deals.winloss) by `group_by` (default: stage reached), closed between start and end."""
    from dealpilot.crm.models import Role, User
    from dealpilot.deals.winloss import UnknownDimension, win_loss_breakdown

    user = find_user(as_user) or User(username="(everyone)", role=Role.ADMIN, is_superuser=True, is_active=True)
    try:
        document = win_loss_breakdown(user, (group_by or "stage_reached").replace("-", "_"), start, end)
    except UnknownDimension as exc:
        raise ReportError(f"--group-by: {exc}") from None
    return {"report": "win-loss", "as": as_user, "count": len(document["rows"]), **document}


def report_document(name: str, *, group_by: str | None = None, period: str = "quarter", start: date | None = None,
                    end: date | None = None, as_user: str | None = None, engine: str | None = None) -> list[dict] | dict:
    """What `--format json` prints: the rows; for `forecast` an object that keeps them in `rows` and adds the
    forecast calls, the model's forecast with its P10-P90 range, the target and the gap (forecasting app), for
    the period of the rows' as-of day; for `deal-changes` the week's changes (`rows`) with their counts."""
    if name == "deal-changes":
        return _deal_changes(as_user, end)
    if name == "forecast-accuracy":
        return _forecast_accuracy(as_user)
    if name == "win-loss":
        return _win_loss(as_user, group_by, start, end)
    if name != "forecast":
        return report_rows(name, group_by=group_by, period=period, start=start, end=end, as_user=as_user, engine=engine)
    from dealpilot.forecasting.reports import NoForecast, forecast_report

    user = find_user(as_user)
    if start is None:  # the metric's own default as-of day, so that rows and calls are for the same period
        start = m.latest_date(frames_for(user, engine), "close_date", closed_only=True) or date.today()
    rows = report_rows(name, group_by=group_by, period=period, start=start, end=end, as_user=as_user, engine=engine)
    try:
        return forecast_report(user, as_of=start, period_kind=period, rows=rows)
    except NoForecast as exc:
        raise ReportError(str(exc)) from None


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(_plain(value))


def render_document(document, fmt: str, title: str = "") -> str:
    """A report document (report_document) as JSON; as CSV or a table, its rows."""
    if fmt == "json":  # one object with the rows in `rows`, like every list of the CLI (dealpilot.listing)
        if isinstance(document, list):
            document = {"report": title, "count": len(document), "rows": document}
        return json.dumps(plain_tree(document), indent=1)
    if isinstance(document, dict):
        return render(document["rows"], fmt, title, columns=document.get("columns"))
    return render(document, fmt, title)


def plain_tree(value):
    if isinstance(value, dict):
        return {k: plain_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_tree(v) for v in value]
    return _plain(value)


def _flat(value):
    """A list in a row (e.g. the top reasons, {"reason", "deals"}) as one cell for a table or CSV."""
    if not isinstance(value, list):
        return value
    return "; ".join(f"{v['reason']} ({v['deals']})" if isinstance(v, dict) and "reason" in v else str(v) for v in value)


def render(rows: list[dict], fmt: str, title: str = "", columns: list[str] | None = None) -> str:
    """rows as json, csv or a text table (`columns`: their order, and the header when there are no rows)."""
    columns = list(columns or [])
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    if fmt == "json":
        return json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows], indent=1)
    rows = [{k: _flat(v) for k, v in r.items()} for r in rows]
    if fmt == "csv":  # names come from the CRM: text that a spreadsheet would run as a formula is defused
        return to_csv([{k: _plain(v) for k, v in r.items()} for r in rows], columns)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*["" if r.get(c) is None else (_cell(r[c]))
                        for c in columns])
    console = Console(file=io.StringIO(), width=max(100, 14 * len(columns)), record=True)
    console.print(table)
    if not rows:
        console.print("no rows")
    return console.export_text()
