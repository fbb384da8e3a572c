"""`dealpilot forecast ...`: the weekly snapshot (once per ISO week; safe to run daily, e.g. from cron or,
later, the background worker)."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer

forecast_app = typer.Typer(help="Forecast calls: the weekly snapshot.", no_args_is_help=True)


class PeriodKind(str, Enum):
    month = "month"
    quarter = "quarter"
    year = "year"


@forecast_app.command("snapshot")
def snapshot(
    period: Annotated[PeriodKind, typer.Option("--period", help="The forecasts' period: month, quarter or year.")] = PeriodKind.quarter,
    score: Annotated[bool, typer.Option("--score/--no-score", help="Store win probabilities of open deals that have none first.")] = True,
    format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    database_url: Annotated[Optional[str], typer.Option("--database-url", envvar="DATABASE_URL", help="Database to use.")] = None,
) -> None:
    """Snapshot this week's deals and every rep's, manager's and leader's forecast (call, model and range,
    stage-weighted, target). Idempotent per ISO week: a second run that week writes nothing."""
    if format not in ("text", "json"):
        typer.echo("--format must be text or json", err=True)
        raise typer.Exit(2)
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from .tasks import snapshot_now

    result = snapshot_now(period.value, score)
    if format == "json":
        typer.echo(json.dumps({"week": result.week.isoformat(), "taken": result.taken, "deals": result.deals,
                               "people": result.people, "scored": result.scored, "period": result.period.label,
                               "taken_at": result.taken_at.isoformat()}))
    else:
        typer.echo(result.summary())
