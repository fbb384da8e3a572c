"""`dealpilot digests send|preview|deliveries` and `dealpilot alerts scan|list`: the scheduler's jobs by hand,
and what the bell and the deliveries page show."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from dealpilot.listing import FormatOption, ListFormat, emit

DatabaseUrl = Annotated[Optional[str], typer.Option("--database-url", envvar="DATABASE_URL", help="Database to use.")]

digests_app = typer.Typer(help="The daily and weekly digests by e-mail.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts: what happened to the deals people follow.", no_args_is_help=True)


class Period(str, Enum):
    daily = "daily"
    weekly = "weekly"


@digests_app.command("send")
def send(period: Annotated[Period, typer.Option("--period", help="daily (the Today list) or weekly (the team's week).")] = Period.daily,
         as_user: Annotated[Optional[str], typer.Option("--as", help="Only this person's digest (default: everyone subscribed).")] = None,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digests; record and send nothing.")] = False,
         database_url: DatabaseUrl = None) -> None:
    """Make and send the digest of every subscribed person for their local day, once: a second run the
    same day sends nothing new. Without DEALPILOT_EMAIL_URL nothing is sent (--dry-run prints them)."""
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from dealpilot.listing import scope_user

    from .delivery import EmailUrlError
    from .digests import run_digests

    users = [scope_user(as_user)] if as_user else None
    try:
        run = run_digests(period.value, users=users, dry_run=dry_run)
    except EmailUrlError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if run.email_off:
        typer.echo("E-mail is not set up (DEALPILOT_EMAIL_URL is empty): nothing sent. --dry-run prints the digests.", err=True)
        raise typer.Exit(1)
    for to, subject, text in run.previews:
        typer.echo(f"To: {to}\nSubject: {subject}\n\n{text}\n{'-' * 72}")
    typer.echo(f"{period.value} digests: {len(run.previews) if dry_run else len(run.made)} {'previewed' if dry_run else 'made'}, "
               f"{run.sent.sent} sent, {run.sent.failed} failed (retried later), {run.already} already sent, "
               f"{run.empty} with nothing to say" + (f", no e-mail address: {', '.join(run.no_address)}" if run.no_address else ""),
               err=True)
    if run.sent.failed:
        raise typer.Exit(1)


@digests_app.command("deliveries")
def deliveries(as_user: Annotated[Optional[str], typer.Option("--as", help="Whose deliveries (an administrator: everyone's).")] = None,
               status: Annotated[str, typer.Option("--status", help="pending, sending, sent or failed (default: all).")] = "",
               format: FormatOption = ListFormat.table, database_url: DatabaseUrl = None) -> None:
    """Every digest and alert message made: sent, waiting for a retry (with the error) or given up."""
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from dealpilot.listing import scope_user

    from .models import Delivery
    from .selectors import delivery_rows

    if status and status not in Delivery.Status.values:
        typer.echo(f"--status is one of {', '.join(Delivery.Status.values)}", err=True)
        raise typer.Exit(2)
    emit("deliveries", delivery_rows(scope_user(as_user), status=status), format, as_user=as_user)


@alerts_app.command("scan")
def scan(database_url: DatabaseUrl = None) -> None:
    """Look for what happened since the last scan (the scheduler does it every 2 minutes) and tell people."""
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from .alerts import scan as run_scan

    result = run_scan()
    if result.baseline:
        typer.echo(f"First scan: {result.baseline} open deals remembered; alerts start from now.")
    else:
        typer.echo(f"{result.changed} deals changed; {len(result.events)} new alert(s), {result.notified} notified; "
                   f"{result.sent.sent} message(s) sent, {result.sent.failed} failed (retried later).")


@alerts_app.command("list")
def list_alerts(as_user: Annotated[str, typer.Option("--as", help="Whose alerts (the bell).")],
                unread_only: Annotated[bool, typer.Option("--unread", help="Only the unread ones.")] = False,
                format: FormatOption = ListFormat.table, database_url: DatabaseUrl = None) -> None:
    """A person's alerts, newest first, as the bell shows them."""
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from dealpilot.listing import scope_user

    from .selectors import alerts_of

    user = scope_user(as_user)
    rows = [{"title": n.event.title, "text": n.event.text, "kind": n.event.kind, "url": n.event.url,
             "happened_at": n.event.happened_at.isoformat(timespec="minutes"), "read": n.read_at is not None}
            for n in alerts_of(user, unread_only=unread_only)]
    emit("alerts", rows, format, as_user=as_user)


@alerts_app.command("webhooks")
def list_webhooks(as_user: Annotated[str, typer.Option("--as", help="Whose view: the teams they may set the channel of.")],
                  format: FormatOption = ListFormat.table, database_url: DatabaseUrl = None) -> None:
    """The team chat channels a person may set (the address masked), as the settings page lists them."""
    from dealpilot.cli import setup_django

    setup_django(database_url)
    from dealpilot.listing import scope_user

    from .services import webhooks_for

    rows = [{"team": str(h.team), "name": h.name, "url": h.masked_url, "flavour": h.flavour,
             "alerts": ", ".join(k for k in ("closed_lost", "big_deal_pushed", "vulnerability") if getattr(h, f"alert_{k}")),
             "active": h.is_active} for h in webhooks_for(scope_user(as_user))]
    emit("webhooks", rows, format, as_user=as_user)
