"""`dealpilot today --as USER`: a person's Today list, as the page shows it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dealpilot.listing import FormatOption, ListFormat, emit

DatabaseUrl = Annotated[Optional[str], typer.Option("--database-url", envvar="DATABASE_URL", help="Database to use.")]


def today(as_user: Annotated[str, typer.Option("--as", help="Username whose Today list to read.")],
          format: FormatOption = ListFormat.table, database_url: DatabaseUrl = None) -> None:
    """A person's Today: what to do, why, and the one action that settles it, most urgent first."""
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from dealpilot.listing import scope_user

    from .selectors import worklist

    user = scope_user(as_user)
    items = worklist(user)
    rows = [i.as_row() for i in items.items]
    if format != ListFormat.json:
        rows = [{k: r[k] for k in ("kind_label", "title", "why", "action", "owner", "due")} for r in rows]
    emit("today", rows, format, as_user=as_user, day=items.day.isoformat(), hidden=len(items.hidden))
