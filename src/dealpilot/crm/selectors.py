"""Read paths over the CRM records."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Avg, Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import models


def record_counts() -> dict[str, int]:
    """How many records of each kind the database holds (for `dealpilot status`)."""
    return {
        "users": models.User.objects.count(),
        "teams": models.Team.objects.count(),
        "accounts": models.Account.objects.count(),
        "plan_units": models.PlanUnit.objects.count(),
        "contacts": models.Contact.objects.count(),
        "products": models.Product.objects.count(),
        "opportunities": models.Opportunity.objects.count(),
        "line_items": models.LineItem.objects.count(),
        "stage_history": models.StageHistory.objects.count(),
        "contact_roles": models.OpportunityContactRole.objects.count(),
        "activities": models.Activity.objects.count(),
        "targets": models.SalesTarget.objects.count(),
    }


# ---------------------------------------------------------------------------------------------
# Lists and details for the pages and the API. Every query starts from `visible_to(user)`, so a
# record the caller may not see is never listed, counted or summed.
# ---------------------------------------------------------------------------------------------

OPPORTUNITY_STATUSES = ("open", "won", "lost")

ACCOUNT_SORTS = {
    "name": [F("name").asc(), F("id").asc()],
    "-name": [F("name").desc(), F("id").desc()],
    "industry": [F("industry").asc(), F("name").asc()],
    "region": [F("region").asc(), F("name").asc()],
    "owner": [F("owner__last_name").asc(nulls_last=True), F("owner__username").asc(nulls_last=True), F("name").asc()],
    "open": [F("open_opportunities").desc(), F("name").asc()],
    "pipeline": [F("pipeline").desc(), F("name").asc()],
    "-pipeline": [F("pipeline").asc(), F("name").asc()],
}

OPPORTUNITY_SORTS = {
    "close_date": [F("close_date").asc(nulls_last=True), F("id").asc()],
    "-close_date": [F("close_date").desc(nulls_last=True), F("id").desc()],
    "amount": [F("amount").desc(nulls_last=True), F("id").asc()],
    "-amount": [F("amount").asc(nulls_last=True), F("id").asc()],
    "name": [F("name").asc(), F("id").asc()],
    "account": [F("account__name").asc(nulls_last=True), F("name").asc()],
    "stage": [F("stage").asc(), F("close_date").asc(nulls_last=True)],
    "owner": [F("owner__last_name").asc(nulls_last=True), F("owner__username").asc(nulls_last=True), F("close_date").asc(nulls_last=True)],
    "created": [F("created_date").desc(nulls_last=True), F("id").desc()],
}


def _money_zero() -> Value:
    return Value(Decimal(0), output_field=DecimalField(**models.MONEY))


def account_list(
    user: models.User,
    *,
    q: str = "",
    industry: str = "",
    region: str = "",
    owner: int | None = None,
    sort: str = "name",
) -> QuerySet[models.Account]:
    """The caller's accounts, filtered and sorted, each annotated with `open_opportunities` (count)
    and `pipeline` (sum of open amounts in the account's currency), both over the opportunities
    the caller may see; `open_other_currency` counts open ones in another currency."""
    open_opps = (
        models.Opportunity.objects.visible_to(user)
        .filter(account_id=OuterRef("pk"), is_closed=False)
        .order_by()
        .values("account_id")
    )
    same_currency = open_opps.filter(currency=OuterRef("currency"))
    other_currency = open_opps.exclude(currency=OuterRef("currency"))
    qs = models.Account.objects.visible_to(user).select_related("owner").annotate(
        open_opportunities=Coalesce(Subquery(open_opps.annotate(n=Count("id")).values("n")), 0),
        pipeline=Coalesce(
            Subquery(same_currency.annotate(total=Sum("amount")).values("total"), output_field=DecimalField(**models.MONEY)),
            _money_zero(),
        ),
        open_other_currency=Coalesce(Subquery(other_currency.annotate(n=Count("id")).values("n")), 0),
    )
    if q := (q or "").strip():
        qs = qs.filter(name__icontains=q)
    if industry:
        qs = qs.filter(industry=industry)
    if region:
        qs = qs.filter(region=region)
    if owner:
        qs = qs.filter(owner_id=owner)
    return qs.order_by(*ACCOUNT_SORTS.get(sort, ACCOUNT_SORTS["name"]))


def account_facets(user: models.User) -> dict:
    """The values the account filters offer: industries, regions (lists), owners (a queryset)."""
    accounts = models.Account.objects.visible_to(user).order_by()
    owners = models.User.objects.visible_to(user).filter(
        Exists(models.Account.objects.visible_to(user).filter(owner_id=OuterRef("pk")))
    )
    return {
        "industries": list(accounts.exclude(industry="").values_list("industry", flat=True).distinct().order_by("industry")),
        "regions": list(accounts.exclude(region="").values_list("region", flat=True).distinct().order_by("region")),
        "owners": owners.order_by("last_name", "first_name", "username"),
    }


def opportunity_list(
    user: models.User,
    *,
    q: str = "",
    stage: str = "",
    status: str = "",
    owner: int | None = None,
    account: int | None = None,
    close_from: date | None = None,
    close_to: date | None = None,
    sort: str = "close_date",
) -> QuerySet[models.Opportunity]:
    """The caller's opportunities, filtered and sorted. `status` is open, won or lost."""
    qs = models.Opportunity.objects.visible_to(user).select_related("account", "owner")
    if q := (q or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(account__name__icontains=q) | Q(crm_id=q))
    if stage:
        qs = qs.filter(stage=stage)
    if status == "open":
        qs = qs.filter(is_closed=False)
    elif status == "won":
        qs = qs.filter(is_closed=True, is_won=True)
    elif status == "lost":
        qs = qs.filter(is_closed=True, is_won=False)
    elif status == "lost-no-reason":  # data quality: the win/loss analysis cannot count them (lost_without_reason)
        qs = qs.filter(is_closed=True, is_won=False, lost_reason="")
    if owner:
        qs = qs.filter(owner_id=owner)
    if account:
        qs = qs.filter(account_id=account)
    if close_from:
        qs = qs.filter(close_date__gte=close_from)
    if close_to:
        qs = qs.filter(close_date__lte=close_to)
    return qs.order_by(*OPPORTUNITY_SORTS.get(sort, OPPORTUNITY_SORTS["close_date"]))


def opportunity_facets(user: models.User) -> dict:
    """Stages (a list, in funnel order: by average probability, then name) and owners (a queryset)."""
    opps = models.Opportunity.objects.visible_to(user).order_by()
    stages = (
        opps.values("stage").annotate(p=Avg("probability")).order_by(F("p").asc(nulls_last=True), "stage")
    )
    owners = models.User.objects.visible_to(user).filter(
        Exists(models.Opportunity.objects.visible_to(user).filter(owner_id=OuterRef("pk")))
    )
    return {
        "stages": [row["stage"] for row in stages if row["stage"]],
        "owners": owners.order_by("last_name", "first_name", "username"),
    }


@dataclass
class CurrencyTotal:
    currency: str
    count: int
    amount: Decimal


@dataclass
class OpportunityTotals:
    count: int
    by_currency: list[CurrencyTotal]


def opportunity_totals(opportunities: QuerySet[models.Opportunity]) -> OpportunityTotals:
    """How many opportunities a (filtered) list holds and their amounts, per currency: money in
    different currencies is never added up."""
    rows = (
        opportunities.order_by()
        .values("currency")
        .annotate(n=Count("id"), total=Coalesce(Sum("amount"), _money_zero()))
        .order_by("currency")
    )
    by_currency = [CurrencyTotal(r["currency"], r["n"], r["total"]) for r in rows]
    return OpportunityTotals(count=sum(t.count for t in by_currency), by_currency=by_currency)


def contact_list(user: models.User, *, q: str = "", account: int | None = None) -> QuerySet[models.Contact]:
    qs = models.Contact.objects.visible_to(user).select_related("account", "plan_unit", "reports_to")
    if q := (q or "").strip():
        qs = qs.filter(Q(last_name__icontains=q) | Q(first_name__icontains=q) | Q(email__icontains=q) | Q(title__icontains=q))
    if account:
        qs = qs.filter(account_id=account)
    return qs.order_by("last_name", "first_name", "id")


def activity_list(
    user: models.User,
    *,
    kind: str = "",
    account: int | None = None,
    opportunity: int | None = None,
    owner: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[models.Activity]:
    qs = models.Activity.objects.visible_to(user).select_related("owner", "contact", "opportunity", "account")
    if kind:
        qs = qs.filter(kind=kind)
    if account:
        qs = qs.filter(Q(account_id=account) | Q(opportunity__account_id=account))
    if opportunity:
        qs = qs.filter(opportunity_id=opportunity)
    if owner:
        qs = qs.filter(owner_id=owner)
    if date_from:
        qs = qs.filter(activity_date__gte=date_from)
    if date_to:
        qs = qs.filter(activity_date__lte=date_to)
    return qs.order_by("-activity_date", "-id")


@dataclass
class AccountDetail:
    account: models.Account
    parent: models.Account | None
    subsidiaries: list[models.Account]
    plan_units: list[models.PlanUnit]
    contacts: list[models.Contact]
    opportunities: list[models.Opportunity]
    activities: list[models.Activity]  # each with `visible_opportunity`: its deal, or None where the caller may not see it
    open_totals: OpportunityTotals
    won_totals: OpportunityTotals
    next_steps: list = None  # the open next steps on the account and its deals, soonest first


def account_detail(user: models.User, account: models.Account, *, activity_limit: int = 20) -> AccountDetail:
    """What the account page shows; the parent and subsidiaries only where the caller may see them."""
    visible_accounts = models.Account.objects.visible_to(user)
    opportunities = opportunity_list(user, account=account.pk, sort="close_date")
    activities = list(activity_list(user, account=account.pk)[:activity_limit])
    # an activity of the caller's may sit on someone else's deal: name the deal only if visible
    deal_ids = {a.opportunity_id for a in activities if a.opportunity_id}
    visible_deals = set(models.Opportunity.objects.visible_to(user).filter(pk__in=deal_ids).values_list("pk", flat=True))
    for a in activities:
        a.visible_opportunity = a.opportunity if a.opportunity_id in visible_deals else None
    return AccountDetail(
        account=account,
        parent=visible_accounts.filter(pk=account.parent_id).first() if account.parent_id else None,
        subsidiaries=list(visible_accounts.filter(parent=account).order_by("name")),
        plan_units=list(
            models.PlanUnit.objects.visible_to(user).filter(account=account).annotate(n_contacts=Count("contacts")).order_by("name")
        ),
        contacts=list(contact_list(user, account=account.pk)),
        opportunities=list(opportunities),
        activities=activities,
        open_totals=opportunity_totals(opportunities.filter(is_closed=False)),
        won_totals=opportunity_totals(opportunities.filter(is_closed=True, is_won=True)),
        next_steps=list(next_steps(user, account=account.pk)[:50]),
    )


@dataclass
class StageStep:
    stage: str
    changed_at: datetime
    amount: Decimal | None
    probability: Decimal | None
    close_date: date | None
    changed_by: models.User | None
    days: int | None  # days spent in this stage (until the next change, the close, or today)
    current: bool = False


def stage_timeline(history: list[models.StageHistory], *, closed: bool, close_date: date | None,
                   now: datetime | None = None) -> list[StageStep]:
    """The stage changes in order, with the days spent in each stage."""
    now = now or timezone.now()
    entries = sorted(history, key=lambda h: (h.changed_at, h.pk))
    steps = []
    for i, h in enumerate(entries):
        if i + 1 < len(entries):
            end = entries[i + 1].changed_at.date()
        elif closed:
            end = close_date or h.changed_at.date()
        else:
            end = timezone.localdate(now)
        start = timezone.localtime(h.changed_at).date() if timezone.is_aware(h.changed_at) else h.changed_at.date()
        steps.append(StageStep(
            stage=h.stage, changed_at=h.changed_at, amount=h.amount, probability=h.probability, close_date=h.close_date,
            changed_by=h.changed_by, days=max((end - start).days, 0), current=(i + 1 == len(entries) and not closed),
        ))
    return steps


@dataclass
class OpportunityDetail:
    opportunity: models.Opportunity
    timeline: list[StageStep]
    contact_roles: list[models.OpportunityContactRole]
    line_items: list[models.LineItem]
    activities: list[models.Activity]
    line_total: Decimal | None = None
    age_days: int | None = None
    next_steps: list = None  # open ones first (soonest first), then the closed ones


def opportunity_detail(user: models.User, opportunity: models.Opportunity, *, activity_limit: int = 50) -> OpportunityDetail:
    history = list(models.StageHistory.objects.visible_to(user).filter(opportunity=opportunity).select_related("changed_by"))
    line_items = list(
        models.LineItem.objects.visible_to(user).filter(opportunity=opportunity).select_related("product").order_by("id")
    )
    totals = [li.total_price for li in line_items if li.total_price is not None]
    age = None
    if opportunity.created_date:
        end = opportunity.close_date if opportunity.is_closed and opportunity.close_date else timezone.localdate()
        age = (end - opportunity.created_date).days
    return OpportunityDetail(
        opportunity=opportunity,
        timeline=stage_timeline(history, closed=opportunity.is_closed, close_date=opportunity.close_date),
        contact_roles=list(
            models.OpportunityContactRole.objects.visible_to(user).filter(opportunity=opportunity)
            .select_related("contact", "contact__plan_unit").order_by("-is_primary", "role", "contact__last_name")
        ),
        line_items=line_items,
        activities=list(activity_list(user, opportunity=opportunity.pk)[:activity_limit]),
        line_total=sum(totals, Decimal(0)) if totals else None,
        age_days=age,
        next_steps=sorted(next_steps(user, opportunity=opportunity.pk, status="")[:50], key=lambda s: not s.is_open),
    )


def lost_without_reason(user: models.User) -> QuerySet[models.Opportunity]:
    """Data quality: deals closed lost (in the CRM, and so imported) with no lost reason, which the
    win/loss analysis cannot count; a close in dealpilot always has one. Most recent first."""
    return (models.Opportunity.objects.visible_to(user).filter(is_closed=True, is_won=False, lost_reason="")
            .select_related("account", "owner").order_by("-close_date", "-id"))


# ---- next steps -------------------------------------------------------------------------------------

NEXT_STEP_WHEN = ("overdue", "today", "week", "later", "all")


def next_steps(user: models.User, *, owner: int | None = None, status: str = "open", when: str = "all",
               opportunity: int | None = None, account: int | None = None, contact: int | None = None,
               today: date | None = None) -> QuerySet[models.NextStep]:
    """Next steps the caller may see, soonest first; `when` (open steps): overdue, due today, due within
    seven days (overdue included), or later."""
    from datetime import timedelta

    today = today or timezone.localdate()
    qs = (models.NextStep.objects.visible_to(user)
          .select_related("owner", "opportunity", "account", "contact"))
    if status in models.NextStepStatus.values:
        qs = qs.filter(status=status)
    if owner:
        qs = qs.filter(owner_id=owner)
    if opportunity:
        qs = qs.filter(opportunity_id=opportunity)
    if account:
        qs = qs.filter(account_id=account)
    if contact:
        qs = qs.filter(contact_id=contact)
    if when == "overdue":
        qs = qs.filter(due_date__lt=today)
    elif when == "today":
        qs = qs.filter(due_date=today)
    elif when == "week":
        qs = qs.filter(due_date__lte=today + timedelta(days=7))
    elif when == "later":
        qs = qs.filter(due_date__gt=today + timedelta(days=7))
    return qs.order_by("due_date", "id")


def with_next_step(opportunities: QuerySet[models.Opportunity]) -> QuerySet[models.Opportunity]:
    """Each deal with its soonest open next step (`next_step`, `next_step_due`): what the lists show so
    a deal with nothing planned stands out."""
    soonest = (models.NextStep.objects.filter(opportunity_id=OuterRef("pk"), status=models.NextStepStatus.OPEN)
               .order_by("due_date", "id"))
    return opportunities.annotate(next_step=Subquery(soonest.values("subject")[:1]),
                                  next_step_due=Subquery(soonest.values("due_date")[:1]))
