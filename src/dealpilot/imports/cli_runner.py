"""`dealpilot import ...`: runs an import with a progress bar and prints what happened.

Exit status: 0 when every row was imported, 2 when some were rejected, 1 on a fatal error.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .engine import ImportResult, import_export
from .mapping import MappingError
from .sources import ExportError

EXIT_OK, EXIT_FATAL, EXIT_REJECTED = 0, 1, 2


def _stop_on_sigterm(signum, frame):
    # Raised inside the import's transaction, so the database rolls back to where it was.
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def run_import_cli(kind: str, path: Path, *, mapping: Path | None, strict: bool, error_path: Path | None,
                   date_order: str | None, console: Console | None = None) -> int:
    console = console or Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("reading", total=None)

            def progress(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            result = import_export(kind, path, mapping_path=mapping, strict=strict, error_path=error_path,
                                   progress=progress, date_order=date_order)
    except (ExportError, MappingError) as exc:
        console.print(f"[red]Import failed, nothing imported:[/] {exc}", soft_wrap=True)
        return EXIT_FATAL
    except KeyboardInterrupt:
        console.print("[yellow]Import stopped, nothing imported: the database is as it was.[/]")
        return EXIT_FATAL
    print_result(result, console)
    if not result.rejections:
        return EXIT_OK
    return EXIT_REJECTED


def print_result(result: ImportResult, console: Console) -> None:
    table = Table(title=f"{result.mapping}", show_lines=False)
    for name in ("records", "file", "read", "created", "updated", "unchanged", "rejected", "skipped"):
        table.add_column(name, justify="left" if name in ("records", "file") else "right")
    for step in result.steps:
        if step.file is None:
            table.add_row(step.label, "[dim]not in export[/]", *[""] * 6)
            continue
        table.add_row(step.label, step.file, *(f"{n:,}" for n in (step.read, step.created, step.updated,
                                                                     step.unchanged, step.rejected, step.skipped)))
    console.print(table)
    for step in result.steps:
        if step.unchanged_skipped:
            console.print(f"  {step.label}: {step.unchanged_skipped:,} rows unchanged since the last import, skipped")
        if step.kept:
            console.print(f"  {step.label}: {step.kept:,} field(s) edited in dealpilot kept")
        if step.conflicts:
            console.print(f"  {step.label}: {step.conflicts:,} conflict(s) (changed in the CRM and in dealpilot): "
                          "an admin resolves them on the Imports > Conflicts page")
        for note, count in sorted(step.notes.items()):
            console.print(f"  note: {step.label}: {note} ({count:,} rows)")
    # The one-line summary goes to stdout, for scripts.
    print(result.summary(), file=sys.stdout, flush=True)
