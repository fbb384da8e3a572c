"""What every list command of the CLI shares: `--format table|json|csv` and `--as USER`, and one way to print.

JSON is one object with the rows in `rows` (and the list's name and scope), so a script reads every list
the same way; CSV is the rows with their header (text a spreadsheet would run as a formula defused); a
table is for people. The rows are the ones the web pages show, read through the same selectors, in the
scope of `--as` (default: every record, as an administrator sees them)."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[ListFormat, typer.Option("--format", help="table, json (one object with a `rows` list) or csv")]
AsOption = Annotated[Optional[str], typer.Option("--as", help="Username whose scope applies (default: every record).")]


def scope_user(username: str | None):
    """The person whose scope a list is read in; None: everyone's records. An unknown name exits with 2."""
    from dealpilot.crm.models import Role, User

    if username is None:
        return User(username="(everyone)", role=Role.ADMIN, is_superuser=True, is_active=True)
    user = User.objects.filter(username=username).first()
    if user is None:
        typer.echo(f"no user called {username!r}", err=True)
        raise typer.Exit(2)
    return user


def emit(name: str, rows: list[dict], fmt: ListFormat, *, as_user: str | None = None, columns: list[str] | None = None,
         **extra) -> None:
    """Print `rows` as the format asks; JSON: {"list": name, "as": user or null, "count": n, "rows": [...], **extra}."""
    from dealpilot.analytics.report import plain_tree, render

    if fmt == ListFormat.json:
        document = {"list": name, "as": as_user, "count": len(rows), **extra, "rows": rows}
        typer.echo(json.dumps(plain_tree(document), indent=1))
        return
    flat = [{k: "; ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    typer.echo(render(flat, fmt.value, title=name, columns=columns), nl=fmt == ListFormat.table)
