"""The `dealpilot` command: demo, serve, import, status, report, backup/restore, and Django's own commands.

Django is set up lazily, after options such as --database-url have had their say.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

app = typer.Typer(help="dealpilot: the smart sales application on top of your CRM data.", no_args_is_help=True)
import_app = typer.Typer(help="Import a CRM export (upserts by the CRM's own ids; safe to run twice).", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console(stderr=True)

DatabaseUrl = Annotated[
    Optional[str],
    typer.Option("--database-url", envvar="DATABASE_URL", help="Database to use (default: embedded SQLite in the user data folder)."),
]


def setup_django(database_url: str | None = None, *, migrate: bool = True) -> None:
    """Point Django at the chosen database, set it up, and bring the schema up to date."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def describe_database() -> str:
    """The database in use, without its password."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = f"{s['USER']}@" if s.get("USER") else ""
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"{connection.vendor}://{user}{host}{port}/{s['NAME']}"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def status(
    database_url: DatabaseUrl = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.table,
) -> None:
    """The database in use and how many records it holds."""
    setup_django(database_url)
    from dealpilot.crm.selectors import record_counts

    report = {"database": describe_database(), "counts": record_counts()}
    if format is OutputFormat.json:
        typer.echo(json.dumps(report))
        return
    from rich.table import Table

    table = Table(title=f"dealpilot on {report['database']}")
    table.add_column("records")
    table.add_column("count", justify="right")
    for name, count in report["counts"].items():
        table.add_row(name, f"{count:,}")
    Console().print(table)


@app.command()
def backup(
    path: Annotated[Optional[Path], typer.Argument(help="Archive to write (default: backups/ in the data folder).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Back up the database and the uploaded files into one .tar.gz archive."""
    setup_django(database_url)
    from dealpilot.backup import BackupError
    from dealpilot.backup import backup as run_backup

    try:
        written, manifest = run_backup(path)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1)
    rows = sum(manifest["counts"].values())
    typer.echo(f"backed up {describe_database()} ({rows:,} rows in {len(manifest['counts'])} tables) to {written}")


@app.command("purge-recycle-bin")
def purge_recycle_bin(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete for good the records that have been in the recycle bin longer than DEALPILOT_RECYCLE_BIN_DAYS."""
    setup_django(database_url)
    from django.conf import settings

    from dealpilot.recycle_bin.registry import KINDS
    from dealpilot.recycle_bin.services import purge_expired

    result = purge_expired(dry_run=dry_run)
    counts = ", ".join(f"{n:,} {KINDS[k].label.lower()}{'' if n == 1 else 's'}" for k, n in result.counts.items())
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {counts} (in the recycle bin more than {settings.RECYCLE_BIN_DAYS} days)")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="An archive written by `dealpilot backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the database without asking.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the database and the uploaded files with a backup's (same kind of database)."""
    setup_django(database_url, migrate=False)
    from dealpilot.backup import BackupError, read_manifest
    from dealpilot.backup import restore as run_restore

    try:
        manifest = read_manifest(path)
        if not yes and not typer.confirm(f"Replace everything in {describe_database()} with the backup of "
                                         f"{manifest['created']}?", default=False):
            raise typer.Exit(1)
        run_restore(path)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1)
    typer.echo(f"restored {path} ({sum(manifest['counts'].values()):,} rows) into {describe_database()}")


def _run_import(kind: str, path: Path, mapping: Path | None, strict: bool, errors: Path | None, database_url: str | None,
                date_order: str | None) -> None:
    setup_django(database_url)
    from dealpilot.imports.cli_runner import run_import_cli

    raise typer.Exit(run_import_cli(kind, path, mapping=mapping, strict=strict, error_path=errors, date_order=date_order))


Strict = Annotated[bool, typer.Option("--strict", help="Import nothing when any row is rejected.")]
Errors = Annotated[Optional[Path], typer.Option("--errors", help="Where to write the rejected rows (CSV).")]
DateOrder = Annotated[Optional[str], typer.Option("--date-order", help="MDY or DMY for dates like 03/04/2025 (default: the mapping's, else MDY).")]
ExportPath = Annotated[Path, typer.Argument(exists=True, help="The export: a .zip or a folder of CSV files (or one CSV for `csv`).")]


@import_app.command("salesforce")
def import_salesforce(path: ExportPath, strict: Strict = False, errors: Errors = None, date_order: DateOrder = None,
                      database_url: DatabaseUrl = None) -> None:
    """A Salesforce data export (zip or folder of Account.csv, Opportunity.csv, ... with API field names)."""
    _run_import("salesforce", path, None, strict, errors, database_url, date_order)


@import_app.command("hubspot")
def import_hubspot(path: ExportPath, strict: Strict = False, errors: Errors = None, date_order: DateOrder = None,
                   database_url: DatabaseUrl = None) -> None:
    """A HubSpot CRM export (companies, contacts, deals, activities CSVs with HubSpot's default headers)."""
    _run_import("hubspot", path, None, strict, errors, database_url, date_order)


@import_app.command("csv")
def import_csv(
    path: ExportPath,
    mapping: Annotated[Path, typer.Option("--mapping", exists=True, help="YAML mapping of the files' columns to dealpilot's records.")],
    strict: Strict = False, errors: Errors = None, date_order: DateOrder = None, database_url: DatabaseUrl = None,
) -> None:
    """Any other export, described by a mapping file (see docs/imports.md; examples in dealpilot/imports/mappings/)."""
    _run_import("csv", path, mapping, strict, errors, database_url, date_order)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Web worker processes.")] = 2,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the web app (gunicorn) and the background task worker."""
    setup_django(database_url)
    from dealpilot.web.server import serve_forever

    raise typer.Exit(serve_forever(host=host, port=port, workers=workers) or 0)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    serve_web: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the web server after creating the demo.")] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Create the demo organisation once (seeded), then start the web app and print the logins."""
    setup_django(database_url)
    from dealpilot.demo.loader import ensure_demo_organisation

    logins = ensure_demo_organisation(console=console)
    typer.echo("\nDemo logins (password for all: %s)" % logins["password"])
    for username, description in logins["users"]:
        typer.echo(f"  {username:<14} {description}")
    if serve_web:
        from dealpilot.web.server import serve_forever

        typer.echo(f"\nOpen http://{host}:{port}/ (Ctrl-C stops the server)")
        raise typer.Exit(serve_forever(host=host, port=port, workers=2) or 0)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context, database_url: DatabaseUrl = None) -> None:
    """Run one of Django's management commands (e.g. `dealpilot manage createsuperuser`)."""
    setup_django(database_url, migrate=False)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["dealpilot manage", *ctx.args])


from datetime import datetime  # noqa: E402  (the report command's --from/--to)

from dealpilot.validation import FIRST_DAY, LAST_DAY, MAX_ID, cli_day  # noqa: E402  (bounds: docs/security.md)

DAY_HELP = f"({FIRST_DAY} to {LAST_DAY})"


@app.command()
def report(
    name: Annotated[str, typer.Argument(help="velocity, levers, pipeline-creation, diagnosis, meeting, forecast, accounts, deal-changes (--to: a day of its week), forecast-accuracy or win-loss")],
    group_by: Annotated[Optional[str], typer.Option("--group-by", help="owner, team, product, source or region (default: all in one); win-loss: stage_reached, segment, product, competitor, size, rep or reasons")] = None,
    period: Annotated[str, typer.Option("--period", help="month, quarter or year")] = "quarter",
    start: Annotated[Optional[datetime], typer.Option("--from", formats=["%Y-%m-%d"], callback=cli_day,
                                                      help=f"First day (YYYY-MM-DD) {DAY_HELP}.")] = None,
    end: Annotated[Optional[datetime], typer.Option("--to", formats=["%Y-%m-%d"], callback=cli_day,
                                                    help=f"Last day (YYYY-MM-DD) {DAY_HELP}; the meeting day for `meeting`.")] = None,
    as_user: Annotated[Optional[str], typer.Option("--as", help="Username whose records the report may see (default: all records).")] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    engine: Annotated[str, typer.Option("--engine", help="duckdb, postgres or spark")] = "duckdb",
    database_url: DatabaseUrl = None,
) -> None:
    """A team-performance report (see docs/analytics.md for each metric's definition; docs/forecasting.md for
    the forecast's calls and range and for deal-changes)."""
    if format not in ("table", "json", "csv"):
        console.print("[red]--format must be table, json or csv[/red]")
        raise typer.Exit(2)
    setup_django(database_url)
    from dealpilot.analytics.frames import EngineUnavailable
    from dealpilot.analytics.report import ReportError, render_document, report_document

    try:
        document = report_document(name, group_by=group_by, period=period, start=start.date() if start else None,
                                   end=end.date() if end else None, as_user=as_user, engine=engine)
    except (ReportError, EngineUnavailable) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)
    typer.echo(render_document(document, format, title=name), nl=format == "table")
    if format == "table" and name == "forecast":
        from dealpilot.forecasting.reports import calls_table

        typer.echo(calls_table(document))


planning_app = typer.Typer(help="Account planning: the scoring model as YAML.", no_args_is_help=True)
app.add_typer(planning_app, name="planning")


@planning_app.command("export-model")
def planning_export_model(
    path: Annotated[Optional[Path], typer.Argument(help="File to write (default: standard output).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the account-scoring model as YAML."""
    setup_django(database_url)
    from dealpilot.planning.services import export_yaml

    text = export_yaml()
    if path is None:
        typer.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")
        console.print(f"Scoring model written to {path}")


@planning_app.command("import-model")
def planning_import_model(
    path: Annotated[Path, typer.Argument(help="YAML file of a scoring model.", exists=True, dir_okay=False)],
    as_user: Annotated[str, typer.Option("--as", help="Username of the sales leader or admin making the change.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the account-scoring model with a YAML file (ratings are kept per element key)."""
    setup_django(database_url)
    from dealpilot.analytics.report import ReportError, find_user
    from dealpilot.planning.scoring import SpecError
    from dealpilot.planning.services import NotAllowed, import_yaml

    try:
        model = import_yaml(find_user(as_user), path.read_text(encoding="utf-8"))
    except (ReportError, SpecError, NotAllowed, UnicodeDecodeError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)
    console.print(f"Scoring model {model.name!r} imported ({model.elements.count()} elements)")
from dealpilot.deals.cli import deals_app  # noqa: E402  (deal intelligence: train, score, rules)

app.add_typer(deals_app, name="deals")
from dealpilot.forecasting.cli import forecast_app  # noqa: E402  (forecast calls: the weekly snapshot)

app.add_typer(forecast_app, name="forecast")
from dealpilot.crm.cli import records_app  # noqa: E402  (the CRM records as the web lists show them)

app.add_typer(records_app, name="records")
from dealpilot.today.cli import today as today_command  # noqa: E402  (a person's Today list)
from dealpilot.notifications.cli import alerts_app, digests_app  # noqa: E402  (digests and alerts by hand)

app.command("today")(today_command)
app.add_typer(digests_app, name="digests")
app.add_typer(alerts_app, name="alerts")
from dealpilot.imports.export_cli import export_app  # noqa: E402  (write-back: docs/crm-sync.md)

app.add_typer(export_app, name="export")
content_app = typer.Typer(help="Enablement content: suggestions for a deal.", no_args_is_help=True)
app.add_typer(content_app, name="content")


@content_app.command("suggest")
def content_suggest(
    opportunity_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The opportunity's dealpilot id.")],
    as_user: Annotated[str, typer.Option("--as", help="Username whose view of the deal to use (visibility applies).")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=50, help="How many modules.")] = 6,
    format: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.table,
    database_url: DatabaseUrl = None,
) -> None:
    """The content modules that fit an opportunity, best first, with the reasons."""
    setup_django(database_url)
    from dealpilot.crm.models import User
    from dealpilot.enablement.suggest import suggestions_for

    user = User.objects.filter(username=as_user, is_active=True).first()
    if user is None:
        console.print(f"[red]No active user {as_user!r}[/red]")
        raise typer.Exit(2)
    found = suggestions_for(user, opportunity_id, limit=limit)
    if found is None:
        console.print(f"[red]Opportunity {opportunity_id} not found for {as_user}[/red]")
        raise typer.Exit(1)
    if format is OutputFormat.json:
        from dataclasses import asdict

        typer.echo(json.dumps([asdict(s) for s in found]))
        return
    from rich.table import Table

    table = Table(title=f"Suggested content for opportunity {opportunity_id}")
    for column in ("module", "type", "score", "why", "authors"):
        table.add_column(column)
    for s in found:
        table.add_row(f"{s.title} (#{s.module_id})", s.kind_label, f"{s.score:.2f}", "\n".join(s.reasons), ", ".join(s.authors))
    Console().print(table)


def main() -> None:
    app(prog_name="dealpilot")


if __name__ == "__main__":
    sys.exit(main())
