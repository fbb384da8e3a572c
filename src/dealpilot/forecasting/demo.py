"""The demo organisation's forecast, added by `dealpilot demo` after the deal scores (idempotent: nothing
is added once any call or snapshot exists).

Two weeks of the rhythm for the first demo manager's team, the manager and the sales leader:
- last week's snapshot, reconstructed from the stage history as the deals stood a week before the demo
  data's last day (stages, amounts and close dates of each change; the win probability scored as of that
  day), with the calls made that week;
- this week: reps move deals between categories (one of them overridden by the manager, with a note),
  most reps submit a call (one adjusts it with a note, one has not submitted yet), the manager overrides a
  rep's call and submits the team's, the leader submits the organisation's; then this week's snapshot.
So the forecast page shows calls beside the model, an override, the week-by-week trend and what changed
in the deals between the two snapshots. The last three closed quarters get their start-of-quarter forecasts
(the backtest's reconstruction, with made-up calls that follow each person's habit), so the accuracy page
has a history. The demo data ends on the generator's TODAY, which may be a week
or more before the real one: the snapshots are labelled with the real weeks.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, User
from dealpilot.crm.visibility import team_subtree_ids

from . import selectors, services
from .models import CallKind, DealSnapshot, ForecastCall, ForecastSnapshot, SnapshotWeek
from .rollup import ZERO, Period, crm_category, derive, outcome_range, period_of, week_of


def seed_demo() -> None:
    from dealpilot.demo.generator import TODAY
    from dealpilot.demo.loader import demo_org

    managers = demo_org().managers
    if not managers or ForecastCall.objects.exists() or SnapshotWeek.objects.exists():
        return
    manager = User.objects.filter(crm_id=managers[0].id, role=Role.MANAGER, is_active=True).select_related("team").first()
    if manager is None or manager.team is None:
        return
    today = timezone.localdate()
    seed_team(manager, today=today, data_day=min(today, TODAY))
    seed_past_quarters(today)


# Each person's habit in the demo's past calls (a share of the model's forecast): the accuracy page then has
# sandbaggers, optimists and people about right to tell apart. Made up, and said to be in docs/forecasting.md.
HABITS = (0.75, 1.0, 1.25, 0.9, 1.1, 0.8, 1.2)


def seed_past_quarters(today: date, quarters: int = 3) -> int:
    """The start-of-quarter forecasts of the last `quarters` closed quarters, as the backtest reconstructs them
    (each deal as it stood, a win model trained only on what had closed before), with each person's call;
    the snapshots the accuracy page reads. Returns how many were kept."""
    from .backtest import History

    history = History()
    current = period_of(today)
    past = [q for q in history.quarters() if q.end < current.start][-quarters:]
    people = list(User.objects.filter(is_active=True, role__in=selectors.FORECAST_ROLES).order_by("role", "id"))
    rows = []
    for n, quarter in enumerate(past):
        then = history.forecast_on(quarter.start, history.train(quarter))
        for i, person in enumerate(people):
            scope = selectors.scope_of(person)
            deals = [d for d in then.deals if scope is None or d.owner_id in scope]
            if not deals:
                continue
            r = outcome_range([(d.probability, d.amount) for d in deals])
            won = history.won_by(scope, quarter, before=quarter.start)
            habit = HABITS[i % len(HABITS)] * (1 + 0.04 * ((n + i) % 3 - 1))  # a little different each quarter
            call = _round(Decimal(str((won + r.expected) * habit)))
            targets = selectors.targets_by_owner(scope, quarter)
            rows.append(ForecastSnapshot(
                week=week_of(quarter.start), person=person, period_kind=quarter.kind, period_start=quarter.start,
                period_end=quarter.end, call_commit=call, call_best_case=_round(call * Decimal("1.15")), derived_commit=call,
                derived_best_case=_round(call * Decimal("1.15")), won=Decimal(str(round(won, 2))),
                model_expected=round(won + r.expected, 2), model_p10=round(won + r.p10, 2), model_p50=round(won + r.p50, 2),
                model_p90=round(won + r.p90, 2), stage_weighted=round(won + sum(d.stage_weight * d.amount for d in deals), 2),
                target=sum(targets.values(), Decimal(0)) if targets else None, open_deals=len(deals), won_deals=0,
                taken_at=_at(quarter.start, 9)))
    ForecastSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


# ---- last week, from the stage history ---------------------------------------------------------------


def deals_as_of(day: date, period: Period) -> list[DealSnapshot]:
    """Each deal as it stood at the end of `day` (unsaved DealSnapshot rows, without a week): the stage,
    amount and close date of its last change by then, closed only if its closing change came by then,
    its category the CRM's for that stage, its win probability scored as of that day."""
    from dealpilot.deals.records import load_records
    from dealpilot.deals.scoring import score_records, scoring_context

    categories = dict(Opportunity.objects.exclude(forecast_category="").values_list("stage", "forecast_category").distinct())
    ids = Opportunity.objects.filter(Q(is_closed=False) | Q(close_date__gte=period.previous().start)).filter(
        Q(created_date__lte=day) | Q(created_date__isnull=True)).values_list("id", flat=True)
    records = load_records(list(ids))
    rows, open_then = [], {}
    for rec in records.values():
        steps = [s for s in rec.steps if s.on <= day]
        closed_then = rec.is_closed and bool(rec.steps) and rec.steps[-1].on <= day
        if closed_then or not steps:
            stage, amount, close, closed, won = rec.stage, rec.amount, rec.close_date, rec.is_closed and closed_then, rec.is_won
        else:
            stage = steps[-1].stage
            amount = next((s.amount for s in reversed(steps) if s.amount is not None), rec.amount)
            close = next((s.close_date for s in reversed(steps) if s.close_date is not None), rec.close_date)
            closed, won = False, False
        row = DealSnapshot(opportunity_id=rec.id, owner_id=rec.owner_id, stage=stage[:120],
                           amount=None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01")),
                           currency=rec.currency, close_date=close, is_closed=closed, is_won=closed and won,
                           category=crm_category(categories.get(stage, ""), is_closed=closed, is_won=closed and won),
                           rep_probability=rec.rep_probability)
        rows.append(row)
        if not closed:
            # scored as the deal stood then: open, at that stage, amount and close date
            rec.is_closed, rec.is_won, rec.stage, rec.amount, rec.close_date = False, False, stage, amount, close
            open_then[rec.id] = rec
    _, scores = score_records(open_then, scoring_context(), today=day)
    probability = {s.opportunity_id: s.probability for s in scores}
    for row in rows:
        if not row.is_closed:
            row.probability = probability.get(row.opportunity_id)
    return rows


def forecasts_from(deals: list[DealSnapshot], people: list[User], period: Period, week: date, taken_at: datetime,
                   calls: dict[int, ForecastCall]) -> list[ForecastSnapshot]:
    """Each person's forecast from snapshot rows (last week's, reconstructed): the same rules as the page
    (won + open deals at their probability, the range, the categories' call); no stage-weighted figure."""
    out = []
    for person in people:
        scope = selectors.scope_of(person)
        mine = [d for d in deals if period.contains(d.close_date) and (scope is None or d.owner_id in scope)]
        won_rows = [d for d in mine if d.is_won]
        open_rows = [d for d in mine if not d.is_closed]
        won = sum((d.amount or ZERO) for d in won_rows)
        derived = derive(won, [(d.category, d.amount) for d in open_rows])
        r = outcome_range([(d.probability or 0.0, d.amount) for d in open_rows])
        targets = selectors.targets_by_owner(scope, period)
        target = sum(targets.values(), Decimal(0)) if targets else None
        call = calls.get(person.pk)
        out.append(ForecastSnapshot(
            week=week, person=person, period_kind=period.kind, period_start=period.start, period_end=period.end, call=call,
            call_commit=call.commit if call else None, call_best_case=call.best_case if call else None,
            derived_commit=derived.commit, derived_best_case=derived.best_case, won=won,
            model_expected=round(float(won) + r.expected, 2), model_p10=round(float(won) + r.p10, 2),
            model_p50=round(float(won) + r.p50, 2), model_p90=round(float(won) + r.p90, 2), stage_weighted=None,
            target=target, open_deals=len(open_rows), won_deals=len(won_rows),
            unscored_deals=sum(1 for d in open_rows if d.probability is None), taken_at=taken_at))
    return out


def _round(value: Decimal, to: int = 1000) -> Decimal:
    return (Decimal(value) / to).quantize(Decimal(1)) * to


def seed_team(manager: User, *, today: date, data_day: date) -> None:
    period = period_of(today, "quarter")
    this_week = week_of(today)
    last_week = this_week - timedelta(days=7)
    then = data_day - timedelta(days=7)
    last_friday = _at(last_week + timedelta(days=4), 16)
    reps = list(User.objects.filter(team_id__in=team_subtree_ids(manager.team_id), role=Role.REP, is_active=True)
                .order_by("id"))
    leader = User.objects.filter(role=Role.LEADER, is_active=True).order_by("id").first()
    people = list(User.objects.filter(is_active=True, role__in=selectors.FORECAST_ROLES).order_by("id"))

    # last week: the deals as they stood, the calls made then, each person's forecast
    deals = deals_as_of(then, period)
    for d in deals:
        d.week = last_week
    DealSnapshot.objects.bulk_create(deals, batch_size=1000)
    by_person = {f.person_id: f for f in forecasts_from(deals, people, period, last_week, last_friday, {})}
    calls = {}
    for i, person in enumerate(reps + [manager]):
        base = by_person[person.pk]
        commit = _round(base.derived_commit * Decimal("1.05" if i % 3 == 0 else "1"))
        best = max(_round(base.derived_best_case), commit)
        calls[person.pk] = ForecastCall.objects.create(
            person=person, period_kind=period.kind, period_start=period.start, period_end=period.end, seq=1,
            kind=CallKind.CALL, commit=commit, best_case=best, derived_commit=base.derived_commit,
            derived_best_case=base.derived_best_case, model_expected=base.model_expected, model_p10=base.model_p10,
            model_p90=base.model_p90, target=base.target, submitted_by=person, submitted_at=last_friday, week=last_week,
            note="Two deals waiting on legal" if commit != base.derived_commit else "")
    snapshots = forecasts_from(deals, people, period, last_week, last_friday, calls)
    ForecastSnapshot.objects.bulk_create(snapshots)
    SnapshotWeek.objects.create(week=last_week, as_of=then, period_kind=period.kind, period_start=period.start, period_end=period.end,
                                taken_at=last_friday, deals=len(deals), people=len(snapshots),
                                note=f"demo: reconstructed from the stage history as of {then.isoformat()}")

    # this week: categories, calls, an override, the team's and the organisation's calls, then the snapshot
    now = timezone.now()
    open_deals = {rep.pk: list(Opportunity.objects.filter(owner=rep, is_closed=False, close_date__gte=period.start,
                                                          close_date__lte=period.end).order_by("-amount", "id"))
                  for rep in reps}
    for i, rep in enumerate(reps[:3]):
        mine = open_deals[rep.pk]
        best = [o for o in mine if crm_category(o.forecast_category, is_closed=False, is_won=False) == "best_case"]
        if best:
            services.set_category(rep, best[0].pk, "commit", "Verbal yes from the CFO; paperwork next week",
                                  now=now - timedelta(days=1, hours=i))
        if i == 0 and len(mine) > 1:
            services.set_category(manager, mine[1].pk, "best_case", "No signed budget yet: not a commit until it is",
                                  now=now - timedelta(hours=20))
        pipeline = [o for o in mine if crm_category(o.forecast_category, is_closed=False, is_won=False) == "pipeline"]
        if pipeline and i == 1:
            services.set_category(rep, pipeline[-1].pk, "omitted", "Customer froze the budget until next year",
                                  now=now - timedelta(hours=30))
    submitted = reps[:-1] if len(reps) > 2 else reps  # the last rep has not submitted this week
    for i, rep in enumerate(submitted):
        f = selectors.person_forecast(rep, period)
        if i == 1:
            services.submit_call(rep, rep.pk, period, commit=_round(f.derived.commit * Decimal("1.1")),
                                 best_case=max(_round(f.derived.best_case), _round(f.derived.commit * Decimal("1.1"))),
                                 note="Expecting the Q4 renewal to land early", now=now - timedelta(hours=6 + i))
        else:
            services.submit_call(rep, rep.pk, period, now=now - timedelta(hours=6 + i))
    if len(submitted) > 1:
        rep = submitted[1]
        f = selectors.person_forecast(rep, period)
        services.submit_call(manager, rep.pk, period, commit=_round(f.derived.commit), best_case=_round(f.calls.own.best_case),
                             note="Renewal depends on procurement: keep it out of commit until the PO", now=now - timedelta(hours=3))
    services.submit_call(manager, manager.pk, period, note="", now=now - timedelta(hours=2))
    if leader is not None:
        f = selectors.person_forecast(leader, period)
        services.submit_call(leader, leader.pk, period, commit=_round(f.derived.commit * Decimal("0.95")),
                             best_case=_round(f.derived.best_case), note="Haircut on teams without calls this week",
                             now=now - timedelta(hours=1))
    services.take_snapshot(now=now)
