"""`dealpilot report forecast` and `dealpilot report deal-changes` (through analytics.report): the forecast
calls, the model's forecast with its range, the target and the gap for a person's scope; and the week's
deal changes. `--as USER` picks whose forecast (default: the sales leader's, i.e. everyone's)."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from . import selectors
from .changes import ChangesError, deal_changes
from .documents import call_dict, changes_document, derived_dict, forecast_document, person_ref
from .rollup import period_of


CHANGE_COLUMNS = ["kind", "what", "opportunity_id", "deal", "account", "owner", "team", "before", "after", "change", "amount",
                  "close_date", "stage", "source"]


class NoForecast(ValueError):
    """Nobody to report the forecast of (no sales leader, or a user without a forecast)."""


def _person(user):
    """Whose forecast: the user's own; for no user (or an administrator) the sales leader's, or without
    one everyone's (None)."""
    from dealpilot.crm.models import Role, User

    if user is None or (user.sees_everything and user.role not in selectors.FORECAST_ROLES):
        return User.objects.filter(role=Role.LEADER, is_active=True).order_by("id").first()
    person = selectors.home_subject(user)
    if person is None:
        raise NoForecast(f"{user.username} has no forecast (forecasts are for sales reps, managers and leaders)")
    return person


def forecast_calls(f) -> list[dict]:
    """The person's line and every line of their roll-up (depth first), each with its call beside the model."""
    out = []

    def line(unit, depth: int, label: str):
        call = None if unit.is_own_deals else unit.call
        m = unit.model
        out.append({"depth": depth, "label": label, "person": person_ref(unit.person), "own_deals": unit.is_own_deals,
                    "call": call_dict(call), "overridden": unit.calls.override is not None and not unit.is_own_deals,
                    "derived": derived_dict(unit.derived), "model_expected": m.expected, "model_p10": m.p10,
                    "model_p50": m.p50, "model_p90": m.p90, "won": round(m.won, 2), "open_deals": m.open_deals,
                    "won_deals": m.won_deals, "stage_weighted": unit.stage_weighted,
                    "target": None if unit.target is None else float(unit.target),
                    "gap_to_call": None if unit.gap_to_call is None else float(unit.gap_to_call),
                    "gap_to_model": unit.gap_to_model})
        for child in unit.children:
            line(child, depth + 1, child.label)

    line(f.unit, 0, str(f.person) if f.person is not None else f.unit.label)
    for row in f.rows:
        if row.is_own_deals:
            line(row, 1, row.label)
    return out


def forecast_report(user, *, as_of: date | None, period_kind: str, rows: list[dict]) -> dict:
    """The forecast document of `dealpilot report forecast --format json`: the metric's rows, and beside
    them the calls, the model's forecast with its P10-P90 range, the stage-weighted forecast, the target
    and the gap, for the period containing `as_of` (the rows' as-of day)."""
    person = _person(user)
    period = period_of(as_of or timezone.localdate(), period_kind)
    f = selectors.person_forecast(person, period)
    doc = forecast_document(f, None)
    return {
        "report": "forecast", "as_of": as_of, "period": doc["period"],
        "person": doc["person"] or {"id": None, "name": "Everyone", "role": "", "team": ""},
        "scope": "everyone" if f.scope is None else f"{len(f.scope)} people",
        "rows": rows,
        "call": doc["call"], "own_call": doc["own_call"], "override": doc["override"], "derived": doc["derived"],
        "model": doc["model"], "stage_weighted": doc["stage_weighted"], "target": doc["target"],
        "gap": {"to_call": doc["gap_to_call"], "to_model": doc["gap_to_model"]},
        "deals": doc["deals"], "history": doc["history"], "calls": forecast_calls(f),
    }


def deal_changes_report(user, *, week: date | None) -> dict:
    person = _person(user)
    try:
        result = deal_changes(person, selectors.scope_of(person) if person is not None else None, week=week)
    except ChangesError as exc:
        raise NoForecast(str(exc)) from None
    return {"report": "deal-changes", "person": person_ref(person), **changes_document(result), "columns": CHANGE_COLUMNS}


def accuracy_report(user) -> dict:
    """Every closed period of the people whose forecast `user` may open (everyone's for no user): the rows,
    per person the summary (error, bias, whether the model beats them) and the verdict in words."""
    from dealpilot.crm.models import Role, User

    from .accuracy import accuracy

    viewer = user if user is not None else User(username="(everyone)", role=Role.ADMIN, is_superuser=True, is_active=True)
    if user is not None and selectors.home_subject(user) is None:
        raise NoForecast(f"{user.username} has no forecast (forecasts are for sales reps, managers and leaders)")
    result = accuracy(viewer, at="start")
    return {"report": "forecast-accuracy", "at": result.at, "verdict": result.verdict,
            "people": [s.as_row() for s in result.summaries], "rows": [r.as_row() for r in result.rows]}


def calls_table(document: dict) -> str:
    """The calls of a forecast document as a text table (`dealpilot report forecast`, table format)."""
    import io

    from rich.console import Console
    from rich.table import Table

    def money(value) -> str:
        return "" if value is None else f"{value:,.0f}"

    m = document["model"]
    title = (f"Forecast {document['period']['label']} of {document['person']['name']}: model {money(m['expected'])} "
             f"(P10 {money(m['p10'])} - P90 {money(m['p90'])}, {m['open_deals']} open and {m['won_deals']} won deals), "
             f"target {money(document['target'])}")
    table = Table(title=title)
    for column in ("who", "call: commit", "best case", "by", "deals imply", "model", "P10-P90", "stage-weighted", "target",
                   "gap to call"):
        table.add_column(column)
    for line in document["calls"]:
        call = line["call"]
        table.add_row("  " * line["depth"] + line["label"], money(call["commit"]) if call else "",
                      money(call["best_case"]) if call else "",
                      (call["submitted_by"] + (" (override)" if call["kind"] == "override" else "")) if call else "",
                      f"{money(line['derived']['commit'])} / {money(line['derived']['best_case'])}",
                      money(line["model_expected"]), f"{money(line['model_p10'])} - {money(line['model_p90'])}",
                      money(line["stage_weighted"]), money(line["target"]), money(line["gap_to_call"]))
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(table)
    return console.export_text()
