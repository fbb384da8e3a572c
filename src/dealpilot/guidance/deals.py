"""Deals at risk: the deal signals now and a week ago, and the win probability against last week's.

The same reading feeds the Today list, the opportunity lists (probability, its change, the number of
vulnerabilities), the team dashboard's "deals at risk" and the pipeline and 1:1 agendas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet

from dealpilot.crm.models import Opportunity
from dealpilot.deals import scoring
from dealpilot.deals.models import WinScore
from dealpilot.deals.records import contact_names, load_records, state_as_of
from dealpilot.deals.signals import Vulnerability
from dealpilot.forecasting.models import DealSnapshot, SnapshotWeek
from dealpilot.forecasting.rollup import week_of

from .items import Item, Thresholds

# Signals that put a deal on Today whether or not they are new: the ones the issue names by name.
ALWAYS_A_RISK = {"no_activity", "gatekeeper_stall", "close_date_slipped"}


@dataclass
class DealRisk:
    opportunity_id: int
    probability: float | None = None  # the calibrated win probability now, in percent
    last_week: float | None = None  # at the last weekly snapshot before this week, in percent
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    new: list[Vulnerability] = field(default_factory=list)  # not there a week ago
    close_date_passed: bool = False

    @property
    def change(self) -> float | None:
        """Points since last week (negative: down)."""
        if self.probability is None or self.last_week is None:
            return None
        return round(self.probability - self.last_week, 1)

    def reasons(self, th: Thresholds) -> list[str]:
        """Why this deal is at risk, in words; empty when it is not."""
        out = []
        if self.change is not None and self.change <= -th.probability_drop_points:
            out.append(f"Win probability down {-self.change:.0f} points since last week ({self.last_week:.0f}% \u2192 {self.probability:.0f}%)")
        if self.close_date_passed:
            out.append("Close date passed")
        new_codes = {v.code for v in self.new}
        for v in self.vulnerabilities:
            if v.code in new_codes:
                out.append(f"New this week: {v.title}. {v.evidence}")
            elif v.code in ALWAYS_A_RISK:
                out.append(f"{v.title}. {v.evidence}")
        return out


def sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def last_snapshot_week(today: date) -> date | None:
    """The latest weekly snapshot taken before this week: "last week" for a probability change."""
    return SnapshotWeek.objects.filter(week__lt=week_of(today)).order_by("-week").values_list("week", flat=True).first()


def deal_risks(opportunities: QuerySet[Opportunity], today: date) -> dict[int, DealRisk]:
    """Every open deal of `opportunities` (already limited to what the reader may see) with its signals
    now and a week ago and its probability against last week's snapshot. A few queries however many deals."""
    deals = opportunities.filter(is_closed=False)
    records = load_records(deals)
    if not records:
        return {}
    contact_names(records)
    ctx = scoring.scoring_context(with_model=False)
    ids = list(records)
    now = dict(WinScore.objects.filter(opportunity_id__in=ids).values_list("opportunity_id", "probability"))
    week = last_snapshot_week(today)
    then = dict(DealSnapshot.objects.filter(week=week, opportunity_id__in=ids, probability__isnull=False)
                .values_list("opportunity_id", "probability")) if week else {}
    a_week_ago = today - timedelta(days=7)
    out = {}
    for deal_id, record in records.items():
        current = scoring.insight(state_as_of(record, today), ctx).vulnerabilities
        # a deal created this week has no "a week ago": everything it shows is new
        before = ({v.code for v in scoring.insight(state_as_of(record, a_week_ago), ctx).vulnerabilities}
                  if record.created and record.created <= a_week_ago else set())
        out[deal_id] = DealRisk(
            deal_id,
            probability=round(now[deal_id] * 100, 1) if deal_id in now else None,
            last_week=round(then[deal_id] * 100, 1) if deal_id in then else None,
            vulnerabilities=current, new=[v for v in current if v.code not in before],
            close_date_passed=bool(record.close_date and record.close_date < today))
    return out


def missing_exit_criteria(opportunity: Opportunity) -> list[str]:
    """The open exit criteria of the deal's current stage (the sales leader's checklist), by label."""
    from dealpilot.deals.guided import stage_checklist

    return [i.criterion.label for i in stage_checklist(opportunity).open_items]


def risk_items(opportunities: QuerySet[Opportunity], today: date, th: Thresholds, *, kind: str = "deal_risk",
               limit: int | None = None) -> list[Item]:
    """One Today item per deal at risk: the evidence, and the action of its most serious signal."""
    risks = deal_risks(opportunities, today)
    deals = {o.pk: o for o in Opportunity.objects.filter(id__in=[i for i, r in risks.items() if r.reasons(th)])
             .select_related("owner", "account")}
    items = []
    for deal_id, deal in deals.items():
        risk = risks[deal_id]
        reasons = risk.reasons(th)
        top = (risk.new or [v for v in risk.vulnerabilities if v.code in ALWAYS_A_RISK] or [None])[0]
        action = top.action if top else "Agree a new close date with the buyer, or close the deal"
        amount = float(deal.amount) if deal.amount is not None else None
        items.append(Item(
            key=f"{kind}:{deal_id}:{week_of(today).isoformat()}", kind=kind,
            title=f"{deal.name}" + (f" \u00b7 {deal.account.name}" if deal.account_id else ""),
            why=" ".join(sentence(r) for r in reasons), action=action, url=f"/opportunities/{deal_id}/",
            weight=(amount or 0) if kind == "big_deal_risk" else len(reasons) * 1e12 + (amount or 0),
            owner=str(deal.owner) if deal.owner_id else "", owner_id=deal.owner_id, due=deal.close_date, amount=amount, currency=deal.currency,
            evidence=reasons))
    items.sort(key=lambda i: i.rank)
    return items[:limit] if limit else items
