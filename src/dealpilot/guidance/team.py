"""What a manager and a sales leader see on Today besides their team's own work: the reps who need them,
the deals that changed most, forecast gaps by team, teams short of new pipeline, the biggest deals at risk."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Count, Q
from django.urls import reverse

from dealpilot.cadence.selectors import attention
from dealpilot.crm.models import Opportunity, Team, User
from dealpilot.forecasting.changes import deal_changes
from dealpilot.forecasting.rollup import period_of, week_of
from dealpilot.forecasting.selectors import person_forecast, scope_of

from .deals import risk_items
from .items import Item, Thresholds


def rep_attention_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """Reps the diagnosis flags or who are under their coaching target this month (the cadence's reading)."""
    coaching = reverse("cadence:coaching")
    return [Item(key=f"rep_attention:{a.rep.pk}:{today:%Y-%m}", kind="rep_attention", title=str(a.rep),
                 why="; ".join(a.reasons) + (f". {a.sentence}" if a.sentence else ""),
                 action="Hold a coaching 1:1 and write the note", url=f"{coaching}?rep={a.rep.pk}",
                 weight=(2 if a.urgent else 1) * 1000 - a.minutes_this_month, owner=str(a.rep))
            for a in attention(user, today=today)]


def changed_deal_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """The deals of the team that moved most money since last week's snapshot (pushed, lost, amount down first)."""
    changes = deal_changes(user, scope_of(user), today=today)
    by_deal: dict[int, list] = {}
    for c in changes.rows:
        by_deal.setdefault(c.opportunity_id, []).append(c)
    items = []
    for deal_id, rows in by_deal.items():
        moved = sum(abs(r.change or 0) for r in rows)
        first = rows[0]
        why = "; ".join(f"{r.kind_label}" + (f" ({r.before} \u2192 {r.after})" if r.before or r.after else "") for r in rows)
        items.append(Item(key=f"deal_changed:{deal_id}:{changes.week.isoformat()}", kind="deal_changed",
                          title=f"{first.deal} \u00b7 {first.account}" if first.account else first.deal, why=why,
                          action="Ask the rep what changed in the 1:1", url=f"/opportunities/{deal_id}/",
                          weight=moved or (first.amount or 0), owner=first.owner, amount=first.amount))
    items.sort(key=lambda i: -i.weight)
    return items[:th.changed_deals]


def forecast_gap_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """Per team under the leader: this quarter's target against the team's call (else the model's forecast)."""
    period = period_of(today)
    forecast = person_forecast(user, period, today=today, score_missing=False)
    items = []
    for unit in forecast.rows:
        if unit.person is None or unit.is_own_deals or unit.target is None:
            continue
        call = unit.call
        expected = float(call.commit) if call is not None else (unit.model.expected if unit.model else 0.0)
        gap = float(unit.target) - expected
        if gap <= 0:
            continue
        basis = "the team's commit" if call is not None else "the model's forecast (no call submitted)"
        items.append(Item(
            key=f"forecast_gap:{unit.person.pk}:{period.start.isoformat()}:{week_of(today).isoformat()}", kind="forecast_gap",
            title=f"{unit.team or unit.label}: {gap:,.0f} short of target",
            why=f"Target {float(unit.target):,.0f} for {period.label}; {basis} {expected:,.0f}",
            action="Review the team's forecast call with its manager",
            url=reverse("forecasting:person", args=[unit.person.pk]),
            weight=gap, owner=str(unit.person), amount=round(gap, 2)))
    return items


def short_pipeline_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """Teams that created fewer deals in the last four weeks than `creation_short_share` of their usual
    four weeks (the twelve before)."""
    recent_from = week_of(today) - timedelta(weeks=4)
    usual_from = recent_from - timedelta(weeks=12)
    counts = (Opportunity.objects.visible_to(user).filter(owner__team__isnull=False, created_date__gte=usual_from,
                                                           created_date__lt=week_of(today))
              .values("owner__team").annotate(recent=Count("id", filter=Q(created_date__gte=recent_from)),
                                                usual=Count("id", filter=Q(created_date__lt=recent_from))))
    teams = {t.pk: t for t in Team.objects.filter(id__in=[c["owner__team"] for c in counts])}
    items = []
    for c in counts:
        usual = c["usual"] / 3  # per four weeks
        if usual < 1 or c["recent"] >= th.creation_short_share * usual:
            continue
        team = teams[c["owner__team"]]
        items.append(Item(
            key=f"pipeline_short:{team.pk}:{week_of(today).isoformat()}", kind="pipeline_short", title=team.name,
            why=f"{c['recent']} new deals in the last four weeks against {usual:.0f} in a usual four weeks",
            action="Ask the team's manager for a prospecting plan", url=reverse("performance:dashboard") + "?group_by=team#creation",
            weight=usual - c["recent"]))
    return items


def big_deal_risk_items(user: User, today: date, th: Thresholds) -> list[Item]:
    """The biggest open deals at risk (read among the largest open deals, so a leader's list stays fast)."""
    biggest = (Opportunity.objects.visible_to(user).filter(is_closed=False, amount__isnull=False)
               .order_by("-amount").values_list("id", flat=True)[:max(200, th.big_deals * 20)])
    return risk_items(Opportunity.objects.filter(id__in=list(biggest)), today, th, kind="big_deal_risk", limit=th.big_deals)
