"""`dealpilot export salesforce|hubspot [--changed-since DATETIME] OUT`: write-back files for the CRM's
own loader (the logic: imports/writeback.py; how a team uses it: docs/crm-sync.md).

Exit codes: 0 written; 2 bad input (a --changed-since that is not a moment, an OUT that is not empty)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

export_app = typer.Typer(help="Write what dealpilot created or changed as the CRM's own import files (write-back).",
                         no_args_is_help=True)

Out = Annotated[Path, typer.Argument(help="A folder to create (refused when not empty, unless --force) or a .zip.")]
ChangedSince = Annotated[Optional[str], typer.Option(
    "--changed-since", help="Only records created or changed since then: ISO date or date-time, e.g. 2026-03-01 or "
                            "2026-03-01T09:00+01:00 (no zone: the server's). Default: everything dealpilot created or changed.")]
Force = Annotated[bool, typer.Option("--force", help="Write into a folder that is not empty / replace an existing .zip.")]
SummaryFormat = Annotated[str, typer.Option("--format", help="table or json (the summary)")]
DatabaseUrl = Annotated[Optional[str], typer.Option(  # as dealpilot.cli's
    "--database-url", envvar="DATABASE_URL", help="Database to use (default: embedded SQLite in the user data folder).")]


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time; without a zone, the server's (settings.TIME_ZONE). ValueError otherwise."""
    from django.utils import timezone

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--changed-since {text!r} is not a date or date-time (e.g. 2026-03-01 or 2026-03-01T09:00:00+01:00)") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _run(crm: str, out: Path, changed_since: str | None, force: bool, format: str, database_url: str | None) -> None:
    if format not in ("table", "json"):
        typer.echo("--format must be table or json", err=True)
        raise typer.Exit(2)
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from .writeback import WriteBackError, write_back

    try:
        since = parse_moment(changed_since) if changed_since is not None else None
        result = write_back(crm, out, changed_since=since, force=force)
    except (ValueError, WriteBackError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    if format == "json":
        typer.echo(json.dumps(result.as_dict(), indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{crm} write-back in {out}" + (f" (changed since {since:%Y-%m-%d %H:%M %Z})" if since else ""))
    for column in ("object", "rows", "file"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for f in result.files:
        table.add_row(f.object, f"{f.rows:,}", f.file)
    console = Console()
    console.print(table)
    for note, count in result.notes.items():
        console.print(f"not written: {count:,} {note}", soft_wrap=True)
    typer.echo(f"{result.rows:,} rows in {len(result.files)} files")


def _command(crm: str, doc: str):
    def command(out: Out, changed_since: ChangedSince = None, force: Force = False,
                format: SummaryFormat = "table", database_url: DatabaseUrl = None) -> None:
        _run(crm, out, changed_since, force, format, database_url)

    command.__doc__ = doc
    return command


export_app.command("salesforce")(_command(
    "salesforce", "Data Loader upsert CSVs: per object, records born in dealpilot (key Dealpilot_Id__c), then Salesforce's own (key Id)."))
export_app.command("hubspot")(_command(
    "hubspot", "HubSpot import files: companies, contacts, deals (with associations), line items, calls, meetings, emails, notes, tasks."))
