"""The sellers' own work on Today: next steps, quiet priority accounts, lapsed key contacts, plan
reviews and tomorrow's meetings without a call plan. Each reads the records the reader may see (a
rep: their own; a manager: the team's), so the same functions serve both."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.urls import reverse

from dealpilot.crm.models import Account, Activity, ActivityKind, Contact, ContactRole, NextStep, NextStepStatus, Opportunity, OpportunityContactRole, User
from dealpilot.crm.visibility import ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, OPPORTUNITY_NOT_IN_BIN
from dealpilot.deals.models import CallPlan
from dealpilot.planning.models import AccountPlan, ContactProfile
from dealpilot.planning.selectors import KEY_ROLES, priority_rows

from .items import Item, Thresholds, lapse_days


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def next_step_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """Open next steps overdue or due within `due_soon_days`; the action is to do it and log it."""
    steps = (NextStep.objects.visible_to(user).filter(status=NextStepStatus.OPEN, due_date__lte=today + timedelta(days=th.due_soon_days))
             .select_related("owner", "opportunity", "account", "contact"))
    items = []
    for s in steps:
        about = s.opportunity or s.account or s.contact
        url = (f"/opportunities/{s.opportunity_id}/#log" if s.opportunity_id else
               f"/accounts/{s.account_id}/#log" if s.account_id else f"/contacts/{s.contact_id}/" if s.contact_id else "/next-steps/")
        late = (today - s.due_date).days
        overdue = late > 0
        kind = "next_step_overdue" if overdue else "next_step_due"  # overdue is a new situation: a dismissed "due" comes back
        items.append(Item(
            key=f"{kind}:{s.pk}:{s.due_date.isoformat()}", kind=kind,
            title=s.subject + (f" \u00b7 {about}" if about else ""),
            why=(f"Due {s.due_date:%d %b}, {_days(late)} overdue" if overdue else
                 "Due today" if late == 0 else f"Due {s.due_date:%a %d %b}"),
            action="Do it and log the activity", url=url, weight=late, owner=str(s.owner), owner_id=s.owner_id, due=s.due_date))
    return items


def quiet_account_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """A and B accounts (high future value) with no buyer touch for `account_quiet_days`."""
    rows = [r for r in priority_rows(user) if r["quadrant"] in ("A", "B")]
    if not rows:
        return []
    ids = [r["account_id"] for r in rows]
    # a touch counts for the account it was logged on, or the account of its deal or contact
    last = dict(Activity.objects.filter(ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, activity_date__lte=today)
                .filter(Q(account_id__in=ids) | Q(opportunity__account_id__in=ids) | Q(contact__account_id__in=ids))
                .annotate(about=Coalesce("account_id", "opportunity__account_id", "contact__account_id"))
                .values("about").annotate(last=Max("activity_date")).values_list("about", "last"))
    owners = dict(Account.objects.filter(id__in=ids).values_list("id", "owner_id"))
    items = []
    for r in rows:
        day = last.get(r["account_id"])
        quiet = (today - day).days if day else None
        if quiet is not None and quiet <= th.account_quiet_days:
            continue
        items.append(Item(
            key=f"account_quiet:{r['account_id']}:{day.isoformat() if day else 'never'}", kind="account_quiet",
            title=r["account"],
            why=(f"Quadrant {r['quadrant']} ({r['treatment']}); no contact for {_days(quiet)}" if quiet is not None else
                 f"Quadrant {r['quadrant']} ({r['treatment']}); no contact ever logged"),
            action="Call a key contact with an insight for their business, then log it",
            url=f"/accounts/{r['account_id']}/#log", weight=quiet if quiet is not None else 10_000, owner=r["owner"],
            owner_id=owners.get(r["account_id"])))
    return items


def lapsed_contact_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """The loyalty list, every account in one: key people (a key person in the account team's profile,
    or a decision maker, economic buyer, sponsor or champion on a deal) not touched for longer than their
    attitude allows (items.lapse_days: backers and critics sooner than the neutral)."""
    accounts = Account.objects.visible_to(user)
    flagged = set(ContactProfile.objects.filter(key_person=True, contact__account__in=accounts).values_list("contact_id", flat=True))
    flagged |= set(ContactProfile.objects.filter(decision_role__in=KEY_ROLES, contact__account__in=accounts).values_list("contact_id", flat=True))
    flagged |= set(OpportunityContactRole.objects.filter(OPPORTUNITY_NOT_IN_BIN, role__in=KEY_ROLES, contact__account__in=accounts)
                   .values_list("contact_id", flat=True))
    if not flagged:
        return []
    last = dict(Activity.objects.filter(ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, contact_id__in=flagged, activity_date__lte=today)
                .values("contact_id").annotate(last=Max("activity_date")).values_list("contact_id", "last"))
    roles = dict(ContactRole.choices)
    deal_role = dict(OpportunityContactRole.objects.filter(OPPORTUNITY_NOT_IN_BIN, contact_id__in=flagged)
                     .order_by("contact_id", "-id").values_list("contact_id", "role"))
    attitudes = dict(ContactProfile.objects.filter(contact_id__in=flagged).values_list("contact_id", "attitude"))
    items = []
    for c in Contact.objects.filter(id__in=flagged, has_left=False).select_related("account", "owner", "account__owner"):
        day = last.get(c.pk)
        quiet = (today - day).days if day else None
        if quiet is not None and quiet <= lapse_days(th, attitudes.get(c.pk, "")):
            continue
        role = roles.get(deal_role.get(c.pk, ""), "key person")
        items.append(Item(
            key=f"contact_lapsed:{c.pk}:{day.isoformat() if day else 'never'}", kind="contact_lapsed",
            title=f"{c} \u00b7 {c.account.name}" if c.account_id else str(c),
            why=f"{role.capitalize()}; " + (f"no contact for {_days(quiet)}" if quiet is not None else "never contacted"),
            action="Get back in touch: share something useful for their goals, then log it",
            url=f"/contacts/{c.pk}/", weight=quiet if quiet is not None else 10_000,
            owner=str(c.account.owner) if c.account_id and c.account.owner_id else "",
            owner_id=c.account.owner_id if c.account_id else None))
    return items


def plan_review_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """Account plans whose review date has passed or is within `plan_review_days`."""
    plans = (AccountPlan.objects.filter(account__in=Account.objects.visible_to(user), review_date__isnull=False,
                                        review_date__lte=today + timedelta(days=th.plan_review_days))
             .select_related("account", "account__owner"))
    items = []
    for plan in plans:
        late = (today - plan.review_date).days
        items.append(Item(
            key=f"plan_review:{plan.pk}:{plan.review_date.isoformat()}", kind="plan_review", title=f"{plan.title} \u00b7 {plan.account.name}",
            why=(f"Review was due {plan.review_date:%d %b}, {_days(late)} ago" if late > 0 else
                 "Review due today" if late == 0 else f"Review due {plan.review_date:%a %d %b}"),
            action="Hold the review and set the next review date", url=reverse("planning:plan", args=[plan.account_id]),
            weight=late, owner=str(plan.account.owner) if plan.account.owner_id else "", owner_id=plan.account.owner_id,
            due=plan.review_date))
    return items


def next_working_day(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def meeting_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """Meetings on a deal on the next working day with no call plan for that deal and day."""
    day = next_working_day(today)
    meetings = (Activity.objects.filter(ACTIVITY_NOT_IN_BIN, kind=ActivityKind.MEETING, activity_date=day, opportunity__isnull=False,
                                        opportunity__in=Opportunity.objects.visible_to(user).filter(is_closed=False))
                .select_related("opportunity", "owner", "contact"))
    planned = set(CallPlan.objects.filter(call_date=day, opportunity_id__in=[m.opportunity_id for m in meetings])
                  .values_list("opportunity_id", flat=True))
    items = []
    for m in meetings:
        if m.opportunity_id in planned:
            continue
        with_whom = f" with {m.contact}" if m.contact_id else ""
        items.append(Item(
            key=f"meeting_without_plan:{m.pk}", kind="meeting_without_plan",
            title=f"{m.subject or 'Meeting'}{with_whom} \u00b7 {m.opportunity.name}",
            why=f"Meeting on {day:%a %d %b} and no call plan for it yet",
            action="Write the call plan", url=reverse("deals:call_plans", args=[m.opportunity_id]),
            weight=float(m.opportunity.amount or 0), owner=str(m.owner) if m.owner_id else "", owner_id=m.owner_id, due=day))
    return items
