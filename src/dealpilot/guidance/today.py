"""Today: one ranked worklist per person, from every source that applies to their role.

A rep sees their own work and deals; a manager the same for the team (the records they may see)
plus the reps who need them and the deals that changed most; a leader the forecast gaps by team,
the teams short of new pipeline and the biggest deals at risk. Read-only: dismissals and snoozes are
applied by the caller (today.services), which also owns the thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.urls import reverse
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, User
from dealpilot.forecasting.rollup import week_of

from . import team, work
from .deals import risk_items
from .items import Item, Thresholds, ranked

Source = Callable[[User, date, Thresholds], list[Item]]


def deal_risk_items(user: User, today: date, th: Thresholds) -> list[Item]:
    return risk_items(Opportunity.objects.visible_to(user), today, th)


SELLER: list[Source] = [work.next_step_items, deal_risk_items, work.quiet_account_items, work.lapsed_contact_items,
                        work.plan_review_items, work.meeting_items]
SOURCES: dict[str, list[Source]] = {
    Role.REP: SELLER,
    Role.MANAGER: SELLER + [team.rep_attention_items, team.changed_deal_items],
    Role.LEADER: [team.forecast_gap_items, team.short_pipeline_items, team.big_deal_risk_items, work.plan_review_items],
    Role.ADMIN: [team.forecast_gap_items, team.short_pipeline_items, team.big_deal_risk_items],
}


# A manager does not call each rep's lapsed contacts: one line per rep and kind, to raise in the 1:1.
ROLLED_UP_FOR_MANAGERS = {"contact_lapsed": ("key contact lapsed", "key contacts lapsed"),
                          "account_quiet": ("priority account quiet", "priority accounts quiet")}


def _named(item: Item) -> str:
    """"Henrik Olsen (177 days)" from a lapsed-contact or quiet-account item."""
    who = item.title.split(" \u00b7 ")[0]
    how_long = item.why.rsplit(" for ", 1)[-1] if " for " in item.why else item.why.rsplit("; ", 1)[-1]
    return f"{who} ({how_long})"


def rolled_up(items: list[Item], manager: User, today: date) -> list[Item]:
    keep: list[Item] = []
    groups: dict[tuple[str, int], list[Item]] = {}
    for item in items:
        if item.kind in ROLLED_UP_FOR_MANAGERS and item.owner_id and item.owner_id != manager.pk:
            groups.setdefault((item.kind, item.owner_id), []).append(item)
        else:
            keep.append(item)
    coaching = reverse("cadence:coaching")
    for (kind, owner_id), group in groups.items():
        group.sort(key=lambda i: -i.weight)
        one, many = ROLLED_UP_FOR_MANAGERS[kind]
        named = ", ".join(_named(i) for i in group[:3])
        keep.append(Item(
            key=f"{kind}:rep{owner_id}:{week_of(today).isoformat()}", kind=kind,
            title=f"{group[0].owner}: {len(group)} {one if len(group) == 1 else many}",
            why=f"{named}{' and more' if len(group) > 3 else ''}.", action=f"Raise it in your 1:1 with {group[0].owner}",
            url=f"{coaching}?rep={owner_id}", weight=group[0].weight, owner=group[0].owner, owner_id=owner_id))
    return keep


def sources_for(user: User) -> list[Source]:
    return SOURCES.get(user.role, [])


def today_items(user: User, th: Thresholds | None = None, today: date | None = None) -> list[Item]:
    """Everything `user` should look at today, most urgent first (enablement authors: nothing)."""
    th = th or Thresholds()
    today = today or timezone.localdate()
    items: list[Item] = []
    for source in sources_for(user):
        items.extend(source(user, today, th))
    if user.role == Role.MANAGER:
        items = rolled_up(items, user, today)
    return ranked(items)
