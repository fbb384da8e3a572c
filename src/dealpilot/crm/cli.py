"""`dealpilot records ...`: the CRM records the web lists show (accounts, contacts, opportunities, activities,
next steps), in a person's scope, as a table, JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dealpilot.listing import AsOption, FormatOption, ListFormat, emit, scope_user

records_app = typer.Typer(help="The CRM records as the web lists show them (--format table|json|csv, --as USER).",
                          no_args_is_help=True)

DatabaseUrl = Annotated[Optional[str], typer.Option("--database-url", envvar="DATABASE_URL", help="Database to use.")]
Search = Annotated[str, typer.Option("--search", help="Part of the name (the web list's search box).", max=200)]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1_000_000, help="At most this many rows (the first by the list's order).")]


def _setup(database_url: str | None) -> None:
    from dealpilot.cli import setup_django

    setup_django(database_url)


def _name(user) -> str:
    return str(user) if user is not None else ""


@records_app.command("accounts")
def accounts(search: Search = "", limit: Limit = 1000, format: FormatOption = ListFormat.table, as_user: AsOption = None,
             database_url: DatabaseUrl = None) -> None:
    """Accounts with their scores, quadrant and treatment, won revenue and open pipeline, ranked as on the
    Priorities page (the same rows as `dealpilot report accounts`)."""
    _setup(database_url)
    from dealpilot.planning.selectors import PriorityFilters, priority_rows

    user = scope_user(as_user) if as_user else None
    emit("accounts", priority_rows(user, PriorityFilters(q=search))[:limit], format, as_user=as_user)


@records_app.command("contacts")
def contacts(search: Search = "", account: Annotated[Optional[int], typer.Option(min=1, help="Only this account's.")] = None,
             limit: Limit = 1000, format: FormatOption = ListFormat.table, as_user: AsOption = None,
             database_url: DatabaseUrl = None) -> None:
    """Contacts with their account, title and how to reach them."""
    _setup(database_url)
    from dealpilot.crm.selectors import contact_list

    rows = [{"id": c.pk, "name": str(c), "title": c.title, "account_id": c.account_id,
             "account": c.account.name if c.account_id else "", "email": c.email, "phone": c.phone, "has_left": c.has_left}
            for c in contact_list(scope_user(as_user), q=search, account=account).select_related("account")[:limit]]
    emit("contacts", rows, format, as_user=as_user)


@records_app.command("opportunities")
def opportunities(search: Search = "",
                  status: Annotated[str, typer.Option(help="open, won, lost, lost-no-reason (data quality) or all")] = "open",
                  limit: Limit = 1000, format: FormatOption = ListFormat.table, as_user: AsOption = None,
                  database_url: DatabaseUrl = None) -> None:
    """Opportunities with stage, amount, close date and their soonest next step (the Opportunities page)."""
    if status not in ("open", "won", "lost", "lost-no-reason", "all"):
        typer.echo("--status must be open, won, lost, lost-no-reason or all", err=True)
        raise typer.Exit(2)
    _setup(database_url)
    from dealpilot.crm.selectors import opportunity_list, with_next_step

    deals = with_next_step(opportunity_list(scope_user(as_user), q=search, status="" if status == "all" else status))
    rows = [{"id": o.pk, "crm_id": o.crm_id or "", "name": str(o), "account": o.account.name if o.account_id else "",
             "owner": _name(o.owner), "stage": o.stage, "status": o.status, "amount": o.amount, "currency": o.currency,
             "close_date": o.close_date, "probability": o.probability, "next_step": o.next_step or "",
             "next_step_due": o.next_step_due} for o in deals[:limit]]
    emit("opportunities", rows, format, as_user=as_user)


@records_app.command("activities")
def activities(kind: Annotated[str, typer.Option(help="call, meeting, email, note, task or all")] = "all",
               limit: Limit = 1000, format: FormatOption = ListFormat.table, as_user: AsOption = None,
               database_url: DatabaseUrl = None) -> None:
    """Activities, newest first, with their outcome and what they were about."""
    if kind not in ("call", "meeting", "email", "note", "task", "all"):
        typer.echo("--kind must be call, meeting, email, note, task or all", err=True)
        raise typer.Exit(2)
    _setup(database_url)
    from dealpilot.crm.selectors import activity_list

    acts = activity_list(scope_user(as_user), kind="" if kind == "all" else kind).select_related("owner", "account", "opportunity", "contact")
    rows = [{"id": a.pk, "date": a.activity_date, "kind": a.kind, "subject": a.subject, "outcome": a.outcome,
             "owner": _name(a.owner), "account": a.account.name if a.account_id else "",
             "opportunity": str(a.opportunity) if a.opportunity_id else "", "contact": str(a.contact) if a.contact_id else ""}
            for a in acts[:limit]]
    emit("activities", rows, format, as_user=as_user)


@records_app.command("next-steps")
def next_steps(when: Annotated[str, typer.Option(help="overdue, today, week (overdue included), later or all")] = "week",
               status: Annotated[str, typer.Option(help="open, done or cancelled")] = "open",
               mine: Annotated[bool, typer.Option("--mine/--all-owners", help="Only the --as person's own steps.")] = True,
               limit: Limit = 1000, format: FormatOption = ListFormat.table, as_user: AsOption = None,
               database_url: DatabaseUrl = None) -> None:
    """Next steps due, soonest first (the Next steps page); overdue ones say by how many days."""
    from dealpilot.crm.selectors import NEXT_STEP_WHEN

    if when not in NEXT_STEP_WHEN or status not in ("open", "done", "cancelled"):
        typer.echo(f"--when must be one of {', '.join(NEXT_STEP_WHEN)}; --status open, done or cancelled", err=True)
        raise typer.Exit(2)
    _setup(database_url)
    from django.utils import timezone

    from dealpilot.crm.selectors import next_steps as steps_of

    user = scope_user(as_user)
    today = timezone.localdate()
    steps = steps_of(user, owner=user.pk if mine and as_user else None, status=status, when=when)
    rows = [{"id": s.pk, "subject": s.subject, "due_date": s.due_date, "days_overdue": max((today - s.due_date).days, 0)
             if s.is_open else 0, "status": s.status, "owner": _name(s.owner),
             "opportunity": str(s.opportunity) if s.opportunity_id else "", "account": s.account.name if s.account_id else "",
             "contact": str(s.contact) if s.contact_id else ""} for s in steps[:limit]]
    emit("next-steps", rows, format, as_user=as_user)
