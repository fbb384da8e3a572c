"""The demo organisation: a seeded Salesforce export, imported once, with logins and targets.

`ensure_demo_organisation()` is what `dealpilot demo` runs. The first time, it writes a
demo-scale export with the generator, imports it with the ordinary Salesforce importer (so the
demo shows exactly what an import of real data would), then gives the demo people a known
password, sets quarterly sales targets and adds an administrator. All of it is one transaction:
either the demo is there in full or not at all. Later calls find the demo's sales leader and
only return the logins.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Count, Q, Sum

from .generator import TODAY, WINDOW_DAYS, SalesOrg, sales_org, write_salesforce_export

DEMO_SEED = 7
DEMO_SCALE = {"accounts": 300, "opportunities": 3000, "activities": 30000}
DEMO_PASSWORD = "dealpilot-demo"
ADMIN_USERNAME = "admin"
# the reps shown on the login list: one of each working style, in this order
SHOWN_STYLES = ("star", "efficient", "busy", "struggling")


class DemoImportError(RuntimeError):
    """The generated export did not import cleanly (a bug in the generator or the importer)."""


def demo_org() -> SalesOrg:
    return sales_org(DEMO_SEED, DEMO_SCALE["opportunities"])


def demo_exists() -> bool:
    from dealpilot.crm.models import User

    leader = demo_org().leader
    return User.objects.filter(crm_id=leader.id, username=leader.username).exists()


def ensure_demo_organisation(console=None) -> dict:
    """Create the demo organisation unless the database holds it already; return the logins:
    {"password": ..., "users": [(username, description), ...]}."""
    if not demo_exists():
        _create(console)
    seed_app_demos()
    return {"password": DEMO_PASSWORD, "users": _logins()}


def seed_app_demos() -> None:
    """Each domain app's demo records (account plans, qualification answers, content...), on top of
    the CRM records; every seeder is idempotent, so this runs at each start."""
    from dealpilot.cadence.demo import seed_demo as seed_cadence
    from dealpilot.deals.demo import seed_demo as seed_deals
    from dealpilot.enablement.demo import seed_demo as seed_enablement
    from dealpilot.forecasting.demo import seed_demo as seed_forecasting
    from dealpilot.planning.demo import seed_demo as seed_planning

    # the forecast reads the deals' win scores: after the deals
    for seed in (seed_planning, seed_deals, seed_enablement, seed_cadence, seed_forecasting):
        with transaction.atomic():
            seed()


# ---- creating it ----------------------------------------------------------------------------------


def _create(console) -> None:
    from dealpilot.imports.engine import import_export

    with _Bar(console) as bar, tempfile.TemporaryDirectory(prefix="dealpilot-demo-") as tmp:
        write_salesforce_export(Path(tmp), seed=DEMO_SEED, progress=bar.step("Writing the demo CRM export"),
                                **DEMO_SCALE)
        importing = bar.step("Importing it")
        with transaction.atomic():
            result = import_export("salesforce", Path(tmp), progress=lambda done, total, _label: importing(done, total))
            if result.rows_rejected or not result.committed:
                raise DemoImportError(f"the demo export did not import cleanly: {result.summary()}")
            finish = bar.step("Logins and sales targets")
            _set_roles_and_passwords()
            finish(1, 3)
            _set_targets()
            finish(2, 3)
            _ensure_admin()
            finish(3, 3)


def _set_roles_and_passwords() -> None:
    """The importer infers roles from the hierarchy (people with reports are managers, the top a
    leader): check, fix what differs, and give every demo person the demo password."""
    from dealpilot.crm.models import Role, User

    org = demo_org()
    hashed = make_password(DEMO_PASSWORD)  # hashed once: Argon2 is slow on purpose
    wanted = {org.leader.id: Role.LEADER, **{m.id: Role.MANAGER for m in org.managers},
              **{r.id: Role.REP for r in org.reps}}
    for user in User.objects.filter(crm_id__in=wanted):
        user.role = wanted[user.crm_id]
        user.password = hashed
        user.is_active = True
        user.save(update_fields=["role", "password", "is_active", "updated_at"])


def _quarters() -> list[tuple[date, date]]:
    """The calendar quarters of the year before TODAY's and of TODAY's year."""
    out = []
    for year in (TODAY.year - 1, TODAY.year):
        for q in range(4):
            start = date(year, 3 * q + 1, 1)
            end = date(year + (q == 3), (3 * q + 3) % 12 + 1, 1) - timedelta(days=1)
            out.append((start, end))
    return out


def _set_targets() -> None:
    """A target per rep per quarter, set the way a sales leader would: half the team's average
    won revenue per quarter, half the rep's own record, raised 10% and growing 2% a quarter.
    So strong reps beat their targets and weak ones miss them, as in real teams."""
    from dealpilot.crm.models import Opportunity, SalesTarget, User

    org = demo_org()
    reps = {u.crm_id: u for u in User.objects.filter(crm_id__in=[r.id for r in org.reps])}
    start = TODAY - timedelta(days=WINDOW_DAYS)
    won = dict(
        Opportunity.objects.filter(owner__in=reps.values(), is_won=True, close_date__gte=start, close_date__lte=TODAY)
        .values_list("owner__crm_id")
        .annotate(total=Sum("amount"))
    )
    per_quarter = {crm_id: (won.get(crm_id) or Decimal(0)) / 8 for crm_id in reps}
    team_totals: dict[str, list[Decimal]] = defaultdict(list)
    for rep in org.reps:
        team_totals[rep.manager_id].append(per_quarter[rep.id])
    targets = []
    for rep in org.reps:
        team = team_totals[rep.manager_id]
        base = Decimal("0.5") * sum(team) / len(team) + Decimal("0.5") * per_quarter[rep.id]
        for q, (q_start, q_end) in enumerate(_quarters()):
            amount = (base * Decimal("1.1") * Decimal("1.02") ** q / 1000).quantize(Decimal(1)) * 1000
            targets.append(SalesTarget(owner=reps[rep.id], period_start=q_start, period_end=q_end,
                                       amount=max(amount, Decimal(10000)), currency="USD"))
    SalesTarget.objects.bulk_create(targets, ignore_conflicts=True)


def _ensure_admin() -> None:
    """An administrator, unless someone already has the name (then it is left as it is)."""
    from dealpilot.crm.models import Role, User

    if User.objects.filter(username=ADMIN_USERNAME).exists():
        return
    User.objects.create(username=ADMIN_USERNAME, role=Role.ADMIN, is_staff=True, is_superuser=True,
                        full_name="Demo Administrator", email="admin@dealpilot-demo.example",
                        password=make_password(DEMO_PASSWORD))


# ---- the logins ---------------------------------------------------------------------------------


def _logins() -> list[tuple[str, str]]:
    """The leader, each manager, one rep of each shown working style (with their numbers from the
    database, so the description is what the app will show), and the administrator."""
    from dealpilot.crm.models import Activity, Opportunity, Role, User

    org = demo_org()
    weeks = WINDOW_DAYS / 7
    logins = [(org.leader.username, f"sales leader ({org.leader.title}): the whole organisation")]
    for m in org.managers:
        team = [r for r in org.reps if r.manager_id == m.id]
        logins.append((m.username, f"sales manager, {m.region} team of {len(team)} reps"))
    shown = [next(r for r in org.reps if r.archetype.key == style) for style in SHOWN_STYLES
             if any(r.archetype.key == style for r in org.reps)]
    users = {u.crm_id: u for u in User.objects.filter(crm_id__in=[r.id for r in shown])}
    deals = {
        row["owner"]: row
        for row in Opportunity.objects.filter(owner__in=users.values()).values("owner").annotate(
            created=Count("id"), closed=Count("id", filter=Q(is_closed=True)), won=Count("id", filter=Q(is_won=True)))
    }
    activities = dict(Activity.objects.filter(owner__in=users.values()).values_list("owner").annotate(n=Count("id")))
    for rep in shown:
        user = users.get(rep.id)
        if user is None:
            continue
        row = deals.get(user.pk, {"created": 0, "closed": 0, "won": 0})
        win = 100 * row["won"] / row["closed"] if row["closed"] else 0
        logins.append((rep.username, (
            f"sales rep, {rep.region}: {rep.archetype.description} "
            f"({row['created'] / weeks:.1f} new deals and {activities.get(user.pk, 0) / weeks:.1f} activities a week, "
            f"{win:.0f}% of closed deals won)"
        )))
    admin = User.objects.filter(username=ADMIN_USERNAME, role=Role.ADMIN).first()
    if admin is not None and admin.check_password(DEMO_PASSWORD):
        logins.append((ADMIN_USERNAME, "administrator: users, settings, imports"))
    return logins


# ---- progress ---------------------------------------------------------------------------------


class _Bar:
    """A rich progress bar with one line per step when a console is given; silent otherwise."""

    def __init__(self, console):
        self.progress = None
        if console is not None:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), TaskProgressColumn(),
                                     TimeElapsedColumn(), console=console)

    def __enter__(self):
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            return self.progress.__exit__(*exc)
        return False

    def step(self, description: str):
        if self.progress is None:
            return lambda done, total: None
        task = self.progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            self.progress.update(task, completed=done, total=total)

        return update
