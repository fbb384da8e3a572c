"""`dealpilot deals ...`: train the win model, score open deals, load or export the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from dealpilot.listing import AsOption, FormatOption, ListFormat, emit, scope_user

deals_app = typer.Typer(help="Deal intelligence: win model, scores, knowledge rules.", no_args_is_help=True)

DatabaseUrl = Annotated[
    Optional[str],
    typer.Option("--database-url", envvar="DATABASE_URL", help="Database to use (default: embedded SQLite in the user data folder)."),
]


def _setup(database_url: str | None) -> None:
    from dealpilot.cli import setup_django

    setup_django(database_url)


@deals_app.command("train")
def train(
    background: Annotated[bool, typer.Option("--background", help="Queue it for the task worker instead of training here.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Train the win model on every closed deal, evaluate it on the latest ones, rescore open deals."""
    _setup(database_url)
    from django.db import transaction

    from dealpilot.deals.scoring import train_model
    from dealpilot.deals.tasks import request_training

    if background:
        with transaction.atomic():
            run = request_training()
        typer.echo(f"Queued training run {run.pk}.")
        return
    from dealpilot.deals.models import WinModelRun

    run = train_model(WinModelRun.objects.create())
    typer.echo(json.dumps({"run": run.pk, "status": run.status, "message": run.message,
                           "deals": {"train": run.deals_train, "calibration": run.deals_calibration, "test": run.deals_test},
                           "metrics": {k: v for k, v in (run.metrics or {}).items() if k != "reliability"}}, indent=2))
    raise typer.Exit(1 if run.status == "failed" else 0)


@deals_app.command("score")
def score(format: FormatOption = ListFormat.table, as_user: AsOption = None, database_url: DatabaseUrl = None) -> None:
    """Score every open deal (win model, or knowledge rules when there is none), store the scores, and list
    the open deals (of the --as person's scope) with their probability, reasons and vulnerabilities."""
    _setup(database_url)
    import time

    from dealpilot.deals.scoring import active_run, score_open_deals
    from dealpilot.deals.selectors import open_deal_rows

    user = scope_user(as_user)
    started = time.perf_counter()
    n = score_open_deals()
    run = active_run()
    method = f"win model run {run.pk}" if run else "knowledge rules (no win model trained)"
    typer.echo(f"Scored {n} open deals with the {method} in {time.perf_counter() - started:.1f} s.", err=True)
    emit("deals", open_deal_rows(user, score_missing=False), format, as_user=as_user, method=method)


@deals_app.command("list")
def list_deals(format: FormatOption = ListFormat.table, as_user: AsOption = None, database_url: DatabaseUrl = None) -> None:
    """The open deals with their stored probability, reasons and vulnerabilities (deals never scored are scored first)."""
    _setup(database_url)
    from dealpilot.deals.selectors import open_deal_rows

    emit("deals", open_deal_rows(scope_user(as_user)), format, as_user=as_user)


@deals_app.command("rules")
def rules(
    load: Annotated[Optional[Path], typer.Option("--load", exists=True, help="Load questions, rules and settings from this YAML file.")] = None,
    export: Annotated[Optional[Path], typer.Option("--export", help="Write the current set to this YAML file ('-' for the screen).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Load or export the qualification questions, knowledge rules and signal thresholds."""
    _setup(database_url)
    from dealpilot.deals.knowledge import ConfigError, ensure_defaults, export_config, load_config

    if load:
        try:
            counts = load_config(load.read_text(encoding="utf-8"))
        except ConfigError as exc:
            typer.echo(f"Not loaded: {exc}", err=True)
            raise typer.Exit(2)
        typer.echo(f"Loaded {counts['questions']} questions, {counts['rules']} rules, {counts['settings']} settings.")
    ensure_defaults()
    if export:
        text = export_config()
        if str(export) == "-":
            typer.echo(text, nl=False)
        else:
            export.write_text(text, encoding="utf-8")
            typer.echo(f"Wrote {export}.")
