"""Write paths of the forecast: a deal's category, a forecast call (or a manager's override of one), and
the weekly snapshot. Plain functions taking the actor and explicit arguments; nothing is overwritten:
every write is a new row.

Errors: `NotVisible` (the person or deal is not one the actor may see: a 404, like one that does not
exist), `ForecastError` (a refusal with the reason: a 400), `StaleWrite` (the forecast or the category
changed since the actor loaded it: a 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dealpilot.concurrency import StaleWrite
from dealpilot.crm.models import MAX_SAFE_AMOUNT, Opportunity, User

from . import selectors
from .models import (
    NOTE_LENGTH,
    OPEN_CATEGORIES,
    CallKind,
    Category,
    CategoryChange,
    DealSnapshot,
    ForecastCall,
    ForecastSnapshot,
    SnapshotWeek,
)
from .rollup import Period, period_of, week_of

# a call is for a period still running or to come, at most this far ahead
MAX_PERIODS_AHEAD_DAYS = 2 * 366


class ForecastError(ValueError):
    """A write refused with the reason (answered 400)."""


class NotVisible(LookupError):
    """Not a person or deal the actor may see (answered 404, like one that does not exist)."""


def _note(note: str | None, *, required: bool, why: str) -> str:
    note = (note or "").strip()
    if "\x00" in note:
        raise ForecastError("the note contains a NUL character")
    if len(note) > NOTE_LENGTH:
        raise ForecastError(f"the note is longer than {NOTE_LENGTH} characters ({len(note)})")
    if required and not note:
        raise ForecastError(why)
    return note


# ---- a deal's category ----------------------------------------------------------------------------------


def set_category(actor: User, opportunity_id: int, category: str, note: str = "", *,
                 expected_version: int | None = None, now: datetime | None = None) -> CategoryChange:
    """Set an open deal's forecast category. Its owner may, and whoever sees the deal above them (a manager
    of their team subtree, a leader, an admin): that is an override, and needs a note."""
    opportunity = Opportunity.objects.visible_to(actor).filter(pk=opportunity_id).first()
    if opportunity is None or not actor.is_active:
        raise NotVisible(f"Opportunity {opportunity_id} not found")
    if category not in Category.values:
        raise ForecastError(f"{str(category)[:40]!r} is not a forecast category: one of {', '.join(OPEN_CATEGORIES)}")
    if category == Category.CLOSED:
        raise ForecastError("closed is not chosen: a deal is closed when it is won (its stage); "
                            "use commit for a deal you are sure of")
    if opportunity.is_closed:
        raise ForecastError(f"this deal is {'won' if opportunity.is_won else 'lost'}: its category follows its outcome "
                            f"({'closed' if opportunity.is_won else 'omitted'})")
    override = opportunity.owner_id != actor.pk
    note = _note(note, required=override, why=(
        f"say why in a note: you are changing the category of {opportunity.owner or 'a deal without an owner'}'s deal"))
    now = now or timezone.now()
    with transaction.atomic():
        last = CategoryChange.objects.filter(opportunity=opportunity).order_by("-seq").first()
        seq = last.seq if last else 0
        version = seq + 1  # versions start at 1: nothing set yet
        if expected_version is not None and expected_version != version:
            raise _stale("forecast category", version, expected_version, last.changed_at if last else None,
                         last.changed_by if last else None)
        previous = selectors.current_category(opportunity, last)
        try:
            with transaction.atomic():
                return CategoryChange.objects.create(opportunity=opportunity, seq=seq + 1, category=category,
                                                     previous=previous, note=note, is_override=override, changed_by=actor,
                                                     changed_at=now)
        except IntegrityError:  # someone else wrote version + 1 between our read and our write
            raise _stale_category(opportunity, expected_version if expected_version is not None else version) from None


def _stale(label: str, current: int, expected: int, at, by) -> StaleWrite:
    return StaleWrite(label, current_version=current, expected_version=expected, changed_at=at, changed_by=by)


def _stale_category(opportunity, expected: int) -> StaleWrite:
    last = CategoryChange.objects.filter(opportunity=opportunity).order_by("-seq").first()
    return _stale("forecast category", (last.seq if last else 0) + 1, expected, last.changed_at if last else None,
                  last.changed_by if last else None)


# ---- forecast calls --------------------------------------------------------------------------------------


def check_period(period: Period, today: date) -> None:
    if period.end < today:
        raise ForecastError(f"{period.label} ended on {period.end.isoformat()}: a call is for a period still running or to come")
    if period.start > today + timedelta(days=MAX_PERIODS_AHEAD_DAYS):
        raise ForecastError(f"{period.label} is more than two years ahead")


def _amount(value, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ForecastError(f"{name} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_SAFE_AMOUNT:
        raise ForecastError(f"{name} must be an amount from 0 to {MAX_SAFE_AMOUNT - 1:,}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ForecastError(f"{name} has more than two decimals")
    return amount.quantize(Decimal("0.01"))


def submit_call(actor: User, person_id: int, period: Period, *, commit=None, best_case=None, note: str = "",
                expected_version: int | None = None, now: datetime | None = None) -> ForecastCall:
    """A person's call for a period (a new row; the earlier ones stay). Submitted by the person: their call;
    by a manager above them, a leader or an admin: an override, which needs a note. Commit and best case
    default to what the deals' categories imply (for a manager: the calls of the people below, overrides
    included); a call that differs from that needs a note."""
    person = selectors.subject_for(actor, person_id)
    if person is None or not actor.is_active:
        raise NotVisible(f"Person {person_id} not found")
    override = person.pk != actor.pk
    if override and not selectors.may_override(actor, person):
        raise NotVisible(f"Person {person_id} not found")
    now = now or timezone.now()
    today = timezone.localdate(now)
    check_period(period, today)
    commit, best_case = _amount(commit, "commit"), _amount(best_case, "best case")
    # what the call is measured against (the stage-weighted forecast is not stored with a call: skip its query)
    forecast = selectors.person_forecast(person, period, today=today, weighted={})
    derived = forecast.derived
    commit = derived.commit if commit is None else commit
    best_case = max(derived.best_case, commit) if best_case is None else best_case
    if commit > best_case:
        raise ForecastError(f"commit ({commit:,.2f}) cannot exceed best case ({best_case:,.2f}): best case includes the commit")
    adjusted = (commit, best_case) != (derived.commit, derived.best_case)
    if override:
        why = f"say why in a note: you are overriding {person}'s call"
    else:
        why = (f"say why in a note: your call differs from what your deals' categories add up to "
               f"(commit {derived.commit:,.2f}, best case {derived.best_case:,.2f})")
    note = _note(note, required=override or adjusted, why=why)
    model = forecast.model
    with transaction.atomic():
        last = (ForecastCall.objects.filter(person=person, period_start=period.start, period_end=period.end)
                .select_related("submitted_by").order_by("-seq").first())
        seq = last.seq if last else 0
        version = seq + 1  # versions start at 1: no call yet
        if expected_version is not None and expected_version != version:
            raise _stale(f"forecast of {person} for {period.label}", version, expected_version,
                         last.submitted_at if last else None, last.submitted_by if last else None)
        try:
            with transaction.atomic():
                return ForecastCall.objects.create(
                    person=person, period_kind=period.kind, period_start=period.start, period_end=period.end,
                    seq=seq + 1, kind=CallKind.OVERRIDE if override else CallKind.CALL, commit=commit,
                    best_case=best_case, note=note, derived_commit=derived.commit, derived_best_case=derived.best_case,
                    model_expected=model.expected, model_p10=model.p10, model_p90=model.p90, target=forecast.unit.target,
                    submitted_by=actor, submitted_at=now, week=week_of(today),
                    currency=_currency(forecast))
        except IntegrityError:
            latest = (ForecastCall.objects.filter(person=person, period_start=period.start, period_end=period.end)
                      .select_related("submitted_by").order_by("-seq").first())
            raise _stale(f"forecast of {person} for {period.label}", (latest.seq if latest else 0) + 1,
                         expected_version if expected_version is not None else version,
                         latest.submitted_at if latest else None, latest.submitted_by if latest else None) from None


def _currency(forecast) -> str:
    currencies = {d.currency for d in forecast.deals if d.currency}
    return currencies.pop() if len(currencies) == 1 else "USD"


# ---- the weekly snapshot ---------------------------------------------------------------------------------


@dataclass
class SnapshotResult:
    week: date
    taken: bool  # False: that week had been taken already (nothing written)
    deals: int
    people: int
    scored: int
    taken_at: datetime
    period: Period

    def summary(self) -> str:
        if not self.taken:
            return (f"the week of {self.week.isoformat()} was taken already on {timezone.localtime(self.taken_at):%Y-%m-%d %H:%M} "
                    f"({self.deals:,} deals, {self.people:,} forecasts); nothing written")
        return (f"snapshot of the week of {self.week.isoformat()}: {self.deals:,} deals and {self.people:,} forecasts "
                f"for {self.period.label}" + (f"; {self.scored:,} open deals scored first" if self.scored else ""))


def deals_to_snapshot(week: date, period: Period):
    """Open deals, deals closed since the start of the previous period, and every deal of the latest
    earlier snapshot (so a deal closed since then is seen closed)."""
    previous = SnapshotWeek.objects.filter(week__lt=week).order_by("-week").values_list("week", flat=True).first()
    condition = Q(is_closed=False) | Q(close_date__gte=period.previous().start)
    if previous is not None:
        condition |= Q(id__in=DealSnapshot.objects.filter(week=previous).values("opportunity_id"))
    return Opportunity.objects.filter(condition)


def deal_snapshot_rows(week: date, opportunities) -> list[DealSnapshot]:
    from dealpilot.deals.models import WinScore

    ids = list(opportunities.values_list("id", flat=True))
    changes = selectors.latest_category_changes(ids) if ids else {}
    scores = dict(WinScore.objects.filter(opportunity_id__in=opportunities.values("id")).values_list("opportunity_id", "probability"))
    rows = []
    for o in opportunities.only("id", "owner_id", "stage", "amount", "currency", "close_date", "is_closed", "is_won",
                                "forecast_category", "probability").order_by("id"):
        rows.append(DealSnapshot(week=week, opportunity_id=o.pk, owner_id=o.owner_id, stage=o.stage[:120], amount=o.amount,
                                 currency=o.currency, close_date=o.close_date, is_closed=o.is_closed, is_won=o.is_won,
                                 category=selectors.current_category(o, changes.get(o.pk)),
                                 probability=None if o.is_closed else scores.get(o.pk),
                                 rep_probability=float(o.probability) / 100 if o.probability is not None else None))
    return rows


def take_snapshot(*, now: datetime | None = None, period_kind: str = "quarter", score: bool = True) -> SnapshotResult:
    """The weekly snapshot (`dealpilot forecast snapshot`): every deal that matters this week and every
    sales person's forecast for the period containing today. Once per ISO week: a second run in the same
    week writes nothing and says when the week was taken."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    week = week_of(today)
    period = period_of(today, period_kind)
    done = SnapshotWeek.objects.filter(week=week).first()
    if done is not None:
        return SnapshotResult(week, False, done.deals, done.people, 0, done.taken_at,
                              Period(done.period_kind, done.period_start, done.period_end))
    scored = 0
    if score:  # the forecast reads stored scores: store the missing ones first
        from dealpilot.deals.scoring import score_open_deals

        missing = list(Opportunity.objects.filter(is_closed=False, win_score__isnull=True).values_list("id", flat=True))
        if missing:
            scored = score_open_deals(missing)
    with transaction.atomic():
        if SnapshotWeek.objects.filter(week=week).exists():  # another run got there first
            done = SnapshotWeek.objects.get(week=week)
            return SnapshotResult(week, False, done.deals, done.people, scored, done.taken_at, period)
        deals = deal_snapshot_rows(week, deals_to_snapshot(week, period))
        DealSnapshot.objects.bulk_create(deals, batch_size=1000, ignore_conflicts=True)
        people = forecast_snapshot_rows(week, period, now)
        ForecastSnapshot.objects.bulk_create(people, batch_size=500, ignore_conflicts=True)
        SnapshotWeek.objects.create(week=week, as_of=today, period_kind=period.kind, period_start=period.start, period_end=period.end,
                                    taken_at=now, deals=len(deals), people=len(people))
    return SnapshotResult(week, True, len(deals), len(people), scored, now, period)


def forecast_snapshot_rows(week: date, period: Period, now: datetime) -> list[ForecastSnapshot]:
    """Each active rep's, manager's and leader's forecast for the period, as the page shows it."""
    weighted = selectors.stage_weighted_by_owner(None, period)
    history = selectors.model_history()
    rows = []
    for person in User.objects.filter(is_active=True, role__in=selectors.FORECAST_ROLES).select_related("team").order_by("id"):
        f = selectors.person_forecast(person, period, today=timezone.localdate(now), weighted=weighted, history=history)
        call = f.call
        rows.append(ForecastSnapshot(
            week=week, person=person, period_kind=period.kind, period_start=period.start, period_end=period.end, call=call,
            call_commit=call.commit if call else None, call_best_case=call.best_case if call else None,
            derived_commit=f.derived.commit, derived_best_case=f.derived.best_case, won=Decimal(str(round(f.model.won, 2))),
            model_expected=f.model.expected, model_p10=f.model.p10, model_p50=f.model.p50, model_p90=f.model.p90,
            stage_weighted=f.unit.stage_weighted, target=f.unit.target, open_deals=f.model.open_deals,
            won_deals=f.model.won_deals, unscored_deals=f.model.methods.get("scored now", 0) + f.model.methods.get("none", 0),
            taken_at=now))
    return rows

