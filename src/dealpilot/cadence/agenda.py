"""Agendas written from the data: each meeting type has a list of section builders.

A builder takes an `AgendaContext` (who is reading, which occurrence, the team's deals the reader
may see) and returns a `Section` (a titled table whose rows may name a deal, so the meeting page
offers a note per deal) or None to leave the section out. Adding a section to a meeting type is
one line, e.g. when deal intelligence lands:

    SECTIONS[MeetingType.OPPORTUNITY_REVIEW].append(deal_vulnerabilities)

Every query goes through `visible_to(reader)`, so two people reading the same agenda each see
only the deals they may see; the team's records are the deals owned by its people (the team and
the teams below it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone

from dealpilot.crm.models import Account, Activity, Opportunity, StageHistory, Team, User
from dealpilot.crm.visibility import BUYER_TOUCH

from . import access
from .models import MeetingType, Occurrence, OccurrenceStatus
from .recurrence import Slot, previous_start

DEFAULT_LOOKBACK_DAYS = 7
REVIEW_FALLBACK_DEALS = 10      # an opportunity review with no deals chosen: the team's largest open deals...
REVIEW_FALLBACK_DAYS = 90       # ...closing in the next 90 days
PLANNING_FALLBACK_ACCOUNTS = 10  # an account-planning session with no accounts chosen: the largest open pipelines


@dataclass
class Cell:
    text: str = ""
    url: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    num: bool = False
    flag: bool = False  # shown as a warning (e.g. "Missing")


@dataclass
class Row:
    cells: list[Cell]
    opportunity_id: int | None = None  # the deal the row is about: the page offers a note on it


@dataclass
class Section:
    key: str
    title: str
    rule: str  # what the section lists, in one sentence
    columns: list[str]
    rows: list[Row]
    empty: str = "Nothing to discuss."

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "rule": self.rule, "columns": self.columns,
                "rows": [{"opportunity_id": r.opportunity_id,
                          "cells": [c.text if not c.links else ", ".join(t for t, _ in c.links) for c in r.cells]}
                         for r in self.rows]}


@dataclass
class AgendaContext:
    reader: User
    slot: Slot

    @property
    def meeting(self):
        return self.slot.meeting

    @cached_property
    def team(self) -> Team:
        return self.meeting.cadence.team

    @cached_property
    def day(self) -> date:
        """The meeting's day, in its time zone."""
        return self.slot.local_start.date()

    @cached_property
    def people_ids(self) -> list[int]:
        return list(access.team_members(self.team).values_list("id", flat=True))

    @cached_property
    def deals(self):
        """The team's deals the reader may see."""
        return Opportunity.objects.visible_to(self.reader).filter(owner_id__in=self.people_ids).select_related("owner", "account")

    @cached_property
    def since(self) -> date:
        """'Since the last one': the day of the last occurrence of this meeting that was held
        (as planned or rescheduled) before this one; else its previous scheduled date; else 7 days."""
        last_held = (Occurrence.objects.filter(meeting=self.meeting, scheduled_start__lt=self.slot.scheduled_start,
                                               status__in=[OccurrenceStatus.HELD, OccurrenceStatus.RESCHEDULED])
                     .order_by("-scheduled_start").first())
        if last_held is not None:
            when = last_held.new_start if last_held.status == OccurrenceStatus.RESCHEDULED and last_held.new_start else last_held.scheduled_start
            return timezone.localtime(when, self.slot.local_start.tzinfo).date()
        previous = previous_start(self.meeting, self.slot.scheduled_start)
        if previous is not None:
            return timezone.localtime(previous, self.slot.local_start.tzinfo).date()
        return self.day - timedelta(days=DEFAULT_LOOKBACK_DAYS)

    @cached_property
    def meeting_report(self) -> dict:
        """`analytics.metrics.meeting_report` for the meeting day over the reader's frames (its
        'since the last meeting' is the 7 days before the meeting day)."""
        from dealpilot.analytics.frames import frames_for
        from dealpilot.analytics.metrics import meeting_report

        return meeting_report(frames_for(self.reader), meeting_day=self.day)

    @cached_property
    def deal_ids(self) -> set[int]:
        return set(self.deals.values_list("id", flat=True))


# ---- cells -------------------------------------------------------------------------------------


def _deal_cell(o: Opportunity) -> Cell:
    return Cell(o.name or str(o), url=reverse("crm:opportunity_detail", args=[o.pk]))


def _money(amount, currency: str) -> Cell:
    if amount is None:
        return Cell("\u2014", num=True)
    return Cell(f"{currency} {Decimal(amount):,.0f}", num=True)


def _date(d: date | None) -> str:
    return d.strftime("%-d %b %Y") if d else "\u2014"


def _metric_rows(ctx: AgendaContext, name: str) -> list[dict]:
    return [r for r in ctx.meeting_report[name] if r["id"] in ctx.deal_ids]


def _deals_by_id(ctx: AgendaContext, rows: list[dict]) -> dict[int, Opportunity]:
    return {o.pk: o for o in ctx.deals.filter(id__in={r["id"] for r in rows})}


# ---- pipeline meeting ----------------------------------------------------------------------------


def new_opportunities(ctx: AgendaContext) -> Section:
    """Each rep's new opportunities since the last pipeline meeting (every rep, none included)."""
    new = list(ctx.deals.filter(created_date__gte=ctx.since, created_date__lt=ctx.day).order_by("created_date", "id"))
    by_rep: dict[int, list[Opportunity]] = {}
    for o in new:
        by_rep.setdefault(o.owner_id, []).append(o)
    reps = list(User.objects.visible_to(ctx.reader).filter(id__in=ctx.people_ids, role="rep", is_active=True)
                .order_by("full_name", "username"))
    rows = []
    for rep in reps + [u for u in User.objects.filter(id__in=set(by_rep) - {r.pk for r in reps})]:
        deals = by_rep.get(rep.pk, [])
        amounts: dict[str, Decimal] = {}
        for o in deals:
            amounts[o.currency] = amounts.get(o.currency, Decimal(0)) + (o.amount or 0)
        rows.append(Row([
            Cell(str(rep)), Cell(str(len(deals)), num=True, flag=not deals),
            Cell(", ".join(f"{c} {v:,.0f}" for c, v in sorted(amounts.items())) or "\u2014", num=True),
            Cell(links=[(o.name or str(o), reverse("crm:opportunity_detail", args=[o.pk])) for o in deals]) if deals
            else Cell("No new opportunity", flag=True),
        ]))
    return Section("new", "New opportunities per rep",
                   f"Opportunities created from {_date(ctx.since)} (the last pipeline meeting) to the day before this one; "
                   "the meeting opens with these, not with last week's update on the same deals.",
                   ["Rep", "New", "Amount", "Opportunities"], rows, "No reps in this team.")


def stalled_deals(ctx: AgendaContext) -> Section:
    rows = _metric_rows(ctx, "same_as_last_week")
    deals = _deals_by_id(ctx, rows)
    return Section("stalled", "Stalled: same as last week",
                   "Open deals created before the last 7 days with no stage change and no activity in them.",
                   ["Opportunity", "Owner", "Stage", "Amount", "Close date"],
                   [Row([_deal_cell(deals[r["id"]]), Cell(r["owner"] or "\u2014"), Cell(r["stage"]),
                         _money(r["amount"], deals[r["id"]].currency), Cell(_date(r["close_date"]))], r["id"])
                    for r in rows], "No stalled deals.")


def slipped_deals(ctx: AgendaContext) -> Section:
    rows = _metric_rows(ctx, "slipped")
    deals = _deals_by_id(ctx, rows)
    return Section("slipped", "Slipped", "Open deals whose close date moved later in the last 7 days, or has passed.",
                   ["Opportunity", "Owner", "Close date", "Was", "Why"],
                   [Row([_deal_cell(deals[r["id"]]), Cell(r["owner"] or "\u2014"), Cell(_date(r["close_date"])),
                         Cell(_date(r.get("previous_close_date"))), Cell(r["why"], flag=True)], r["id"]) for r in rows],
                   "No slipped deals.")


def pushed_back_deals(ctx: AgendaContext) -> Section:
    rows = _metric_rows(ctx, "pushed_back")
    deals = _deals_by_id(ctx, rows)
    return Section("pushed_back", "Pushed back a stage", "Open deals whose stage went back in the last 7 days.",
                   ["Opportunity", "Owner", "From", "To", "When"],
                   [Row([_deal_cell(deals[r["id"]]), Cell(r["owner"] or "\u2014"), Cell(r["from_stage"] or "\u2014"),
                         Cell(r["to_stage"]), Cell(_date(r["changed_at"].date() if r["changed_at"] else None))], r["id"])
                    for r in rows], "No deals pushed back.")


# ---- opportunity review --------------------------------------------------------------------------


def reviewed_deals(ctx: AgendaContext) -> list[Opportunity]:
    chosen = ctx.deals.filter(id__in=ctx.meeting.reviewed_opportunities.values("id"))
    if ctx.meeting.reviewed_opportunities.exists():
        return list(chosen.order_by("close_date", "id"))
    return list(ctx.deals.filter(is_closed=False, close_date__lte=ctx.day + timedelta(days=REVIEW_FALLBACK_DAYS))
                .order_by("-amount", "id")[:REVIEW_FALLBACK_DEALS])


def deal_facts(ctx: AgendaContext) -> Section:
    """What the CRM shows about each reviewed deal."""
    deals = reviewed_deals(ctx)
    ids = [o.pk for o in deals]
    history: dict[int, list[StageHistory]] = {}
    for h in StageHistory.objects.visible_to(ctx.reader).filter(opportunity_id__in=ids).order_by("changed_at", "id"):
        history.setdefault(h.opportunity_id, []).append(h)
    acts = Activity.objects.visible_to(ctx.reader).filter(BUYER_TOUCH, opportunity_id__in=ids)
    last_activity = dict(acts.filter(activity_date__lte=ctx.day).values("opportunity_id").annotate(d=Max("activity_date"))
                         .values_list("opportunity_id", "d"))
    next_step = {}
    for a in acts.filter(activity_date__gte=ctx.day).order_by("activity_date", "id"):
        next_step.setdefault(a.opportunity_id, a)
    roles = dict(Opportunity.objects.filter(id__in=ids).annotate(n=Count("contact_roles")).values_list("id", "n"))
    rows = []
    for o in deals:
        steps = history.get(o.pk, [])
        since = steps[-1].changed_at.date() if steps else o.created_date
        in_stage = (ctx.day - since).days if since else None
        closes = [h.close_date for h in steps if h.close_date]
        slips = sum(1 for a, b in zip(closes, closes[1:]) if b > a)
        first_close = closes[0] if closes else None
        slip_text = f"{slips} (first {_date(first_close)})" if slips else "0"
        nxt = next_step.get(o.pk)
        rows.append(Row([
            _deal_cell(o), Cell(str(o.owner or "\u2014")), _money(o.amount, o.currency),
            Cell(f"{o.stage} ({in_stage} d)" if in_stage is not None else o.stage, flag=bool(in_stage and in_stage > 60)),
            Cell(_date(o.close_date)), Cell(slip_text, flag=slips > 0), Cell(_date(last_activity.get(o.pk))),
            Cell(str(roles.get(o.pk, 0)), num=True, flag=roles.get(o.pk, 0) < 2),
            Cell(f"{_date(nxt.activity_date)}: {nxt.subject or nxt.get_kind_display()}" if nxt else "Missing", flag=nxt is None),
        ], o.pk))
    chosen = ctx.meeting.reviewed_opportunities.exists()
    return Section("deals", "Deals under review",
                   ("The deals chosen for this review" if chosen else
                    f"No deals chosen for this review: the team's {REVIEW_FALLBACK_DEALS} largest open deals closing within "
                    f"{REVIEW_FALLBACK_DAYS} days")
                   + ". Days in stage since the last stage change; close-date slips from the stage history; the buying "
                     "group is the contacts with a role; the next step is the next activity dated on or after the meeting.",
                   ["Opportunity", "Owner", "Amount", "Stage (days in it)", "Close date", "Close date slips",
                    "Last activity", "Buying group", "Next step"], rows, "No deals to review.")


# ---- account planning ----------------------------------------------------------------------------


def account_facts(ctx: AgendaContext) -> Section:
    accounts = Account.objects.visible_to(ctx.reader)
    chosen = ctx.meeting.reviewed_accounts.exists()
    if chosen:
        accounts = accounts.filter(id__in=ctx.meeting.reviewed_accounts.values("id"))
    else:
        accounts = accounts.filter(Q(owner_id__in=ctx.people_ids) | Q(id__in=ctx.deals.values("account_id")))
    accounts = list(accounts.select_related("owner"))
    ids = [a.pk for a in accounts]
    pipeline: dict[int, dict[str, Decimal]] = {}
    open_count: dict[int, int] = {}
    for o in ctx.deals.filter(account_id__in=ids, is_closed=False).values("account_id", "currency", "amount"):
        per = pipeline.setdefault(o["account_id"], {})
        per[o["currency"]] = per.get(o["currency"], Decimal(0)) + (o["amount"] or 0)
        open_count[o["account_id"]] = open_count.get(o["account_id"], 0) + 1
    last = dict(Activity.objects.visible_to(ctx.reader).filter(BUYER_TOUCH, Q(account_id__in=ids) | Q(opportunity__account_id__in=ids))
                .values("account_id").annotate(d=Max("activity_date")).values_list("account_id", "d"))
    from dealpilot.crm.models import Contact

    contacts = dict(Contact.objects.visible_to(ctx.reader).filter(account_id__in=ids, has_left=False)
                    .values("account_id").annotate(n=Count("id")).values_list("account_id", "n"))
    def size(a):  # noqa: E306
        return sum(pipeline.get(a.pk, {}).values(), Decimal(0))

    if not chosen:
        accounts = sorted(accounts, key=lambda a: (-size(a), a.name))[:PLANNING_FALLBACK_ACCOUNTS]
    rows = [Row([
        Cell(a.name, url=reverse("crm:account_detail", args=[a.pk])), Cell(str(a.owner or "\u2014")),
        Cell(str(open_count.get(a.pk, 0)), num=True),
        Cell(", ".join(f"{c} {v:,.0f}" for c, v in sorted(pipeline.get(a.pk, {}).items())) or "\u2014", num=True),
        Cell(_date(last.get(a.pk)), flag=last.get(a.pk) is None or (ctx.day - last[a.pk]).days > 30),
        Cell(str(contacts.get(a.pk, 0)), num=True, flag=contacts.get(a.pk, 0) < 3),
    ]) for a in accounts]
    return Section("accounts", "Accounts under review",
                   ("The accounts chosen for this session" if chosen else
                    f"No accounts chosen: the team's {PLANNING_FALLBACK_ACCOUNTS} accounts with the largest open pipeline")
                   + ". Open pipeline per currency over the team's deals you can see; last activity flagged when older than "
                     "30 days; contacts who are still with the account.",
                   ["Account", "Owner", "Open deals", "Open pipeline", "Last activity", "Contacts"], rows, "No accounts to review.")


# ---- forecast, coaching, enablement --------------------------------------------------------------


def forecast_by_rep(ctx: AgendaContext) -> Section:
    """This quarter's forecast per rep (`analytics.metrics.forecast`)."""
    from dealpilot.analytics.frames import frames_for
    from dealpilot.analytics.metrics import forecast

    names = {(u.full_name or u.username) for u in User.objects.visible_to(ctx.reader).filter(id__in=ctx.people_ids)}
    rows = [r for r in forecast(frames_for(ctx.reader), as_of=ctx.day, period="quarter", periods=1) if r["group"] in names]

    def num(x):
        return Cell("\u2014" if x is None else f"{x:,.0f}", num=True)

    return Section("forecast", f"Forecast for {rows[0]['period'] if rows else 'this quarter'}",
                   "Per rep: target, closed won, open deals weighted by stage probability, forecast = won + weighted, "
                   "and the open pipeline closing in the quarter (Team performance's forecast metric).",
                   ["Rep", "Target", "Closed won", "Weighted open", "Forecast", "Gap", "Pipeline", "Open deals"],
                   [Row([Cell(r["group"]), num(r["target"]), num(r["closed_won"]), num(r["weighted_open"]), num(r["forecast"]),
                         num(r["gap"]), num(r["pipeline"]), Cell(str(r["open_deals"]), num=True)]) for r in rows],
                   "No deals close this quarter.")


def rep_diagnosis(ctx: AgendaContext) -> Section:
    """The diagnosis and this month's coaching minutes of the reps attending (a 1:1: the rep)."""
    from .selectors import coaching_minutes, diagnosis_by_rep

    reps = [u for u in ctx.meeting.attendees.filter(role="rep") if u.pk in set(ctx.people_ids)] or \
        list(User.objects.filter(id__in=ctx.people_ids, role="rep", is_active=True))
    verdicts = diagnosis_by_rep(ctx.reader)
    minutes = coaching_minutes(ctx.reader, months=1, today=ctx.day)
    visible = set(User.objects.visible_to(ctx.reader).values_list("id", flat=True))
    rows = []
    for rep in reps:
        if rep.pk not in visible:
            continue
        d = verdicts.get(rep.pk)
        m = minutes.get(rep.pk, [None])[-1]
        rows.append(Row([Cell(str(rep)), Cell(d["verdict"] if d else "no data", flag=bool(d and d["verdict"] in
                                                                                      ("too little activity", "too low effectiveness", "both"))),
                         Cell(d["reason"] if d else ""),
                         Cell(f"{m.minutes} of {m.target}" if m else "\u2014", num=True, flag=bool(m and not m.meets_target))]))
    return Section("diagnosis", "Activity or effectiveness",
                   "Team performance's diagnosis of each rep (against the team median), and the coaching minutes this "
                   "month against the team's target.", ["Rep", "Verdict", "Why", "Coaching this month"], rows, "No reps.")


# ---- risks from the guidance (the same reading as Today and the opportunity list) ----------------

AT_RISK_ROWS = 15


def _attending_reps(ctx: AgendaContext) -> list[int]:
    """A 1:1's rep(s); a team meeting: everyone in the team."""
    reps = [u.pk for u in ctx.meeting.attendees.filter(role="rep") if u.pk in set(ctx.people_ids)]
    return reps if ctx.meeting.kind == MeetingType.COACHING and reps else ctx.people_ids


def deals_at_risk(ctx: AgendaContext) -> Section:
    """The team's (a 1:1: the rep's) open deals at risk: probability and its change, signals, open exit criteria."""
    from dealpilot.guidance.deals import deal_risks, missing_exit_criteria
    from dealpilot.today.models import TodaySettings

    th = TodaySettings.current().thresholds()
    deals = ctx.deals.filter(owner_id__in=_attending_reps(ctx), is_closed=False)
    risks = {i: r for i, r in deal_risks(deals, ctx.day).items() if r.reasons(th) or r.vulnerabilities}
    ranked = sorted(deals.filter(id__in=list(risks)), key=lambda o: (-len(risks[o.pk].reasons(th)), -float(o.amount or 0)))
    rows = []
    for o in ranked[:AT_RISK_ROWS]:
        r = risks[o.pk]
        change = r.change
        probability = "\u2014" if r.probability is None else f"{r.probability:.0f}%" + (
            f" ({'+' if change > 0 else ''}{change:.0f})" if change is not None else "")
        missing = missing_exit_criteria(o)
        rows.append(Row([_deal_cell(o), Cell(str(o.owner or "\u2014")), _money(o.amount, o.currency),
                         Cell(probability, num=True, flag=change is not None and change <= -th.probability_drop_points),
                         Cell("; ".join(v.title + (" (new)" if v in r.new else "") for v in r.vulnerabilities) or "\u2014",
                              flag=bool(r.new)),
                         Cell("; ".join(missing) or "\u2014", flag=bool(missing))], o.pk))
    return Section("at_risk", "Deals at risk",
                   f"Open deals with signals, most at risk first (at most {AT_RISK_ROWS}): the win probability and its change "
                   "in points since last week's snapshot, the signals (new this week flagged) and the exit criteria of the "
                   "deal's stage still open.",
                   ["Opportunity", "Owner", "Amount", "Win % (change)", "Signals", "Open exit criteria"], rows,
                   "No deal at risk.")


def plan_reviews(ctx: AgendaContext) -> Section | None:
    """Account plans of the team (a 1:1: the rep's accounts) whose review is overdue or due by the meeting."""
    from dealpilot.planning.models import AccountPlan

    plans = (AccountPlan.objects.filter(account__in=Account.objects.visible_to(ctx.reader), account__owner_id__in=_attending_reps(ctx),
                                        review_date__isnull=False, review_date__lte=ctx.day)
             .select_related("account", "account__owner").order_by("review_date", "id"))
    rows = [Row([Cell(plan.title, url=reverse("planning:plan", args=[plan.account_id])), Cell(plan.account.name),
                 Cell(str(plan.account.owner or "\u2014")),
                 Cell(_date(plan.review_date), flag=plan.review_date < ctx.day)]) for plan in plans]
    return Section("plan_reviews", "Account plan reviews due",
                   "Account plans whose review date is on or before the meeting day (overdue flagged).",
                   ["Plan", "Account", "Owner", "Review due"], rows, "No plan review due.")


AgendaBuilder = Callable[[AgendaContext], "Section | None"]

SECTIONS: dict[str, list[AgendaBuilder]] = {
    MeetingType.PIPELINE: [new_opportunities, deals_at_risk, stalled_deals, slipped_deals, pushed_back_deals, plan_reviews,
                           rep_diagnosis],
    MeetingType.OPPORTUNITY_REVIEW: [deal_facts],
    MeetingType.FORECAST: [forecast_by_rep, slipped_deals],
    MeetingType.ACCOUNT_PLANNING: [account_facts],
    MeetingType.COACHING: [rep_diagnosis, deals_at_risk, plan_reviews],
    MeetingType.ENABLEMENT: [rep_diagnosis],
}


def build_agenda(reader: User, slot: Slot) -> list[Section]:
    ctx = AgendaContext(reader, slot)
    return [s for s in (build(ctx) for build in SECTIONS.get(slot.meeting.kind, [])) if s is not None]


def agenda_since(reader: User, slot: Slot) -> date:
    return AgendaContext(reader, slot).since


def noted_opportunities(sections: list[Section]) -> list[int]:
    """The deals the agenda names, in order, once each (the ones a note can be taken on)."""
    seen: list[int] = []
    for s in sections:
        for r in s.rows:
            if r.opportunity_id and r.opportunity_id not in seen:
                seen.append(r.opportunity_id)
    return seen
