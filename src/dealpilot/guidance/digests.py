"""What the e-mail digests say: the daily one is the Today list; the weekly one (managers and leaders) is
the team's changes since last week, the coaching due and how the forecast moved.

Read-only like the rest of guidance: notifications renders, records and sends these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dealpilot.crm.models import Role, User
from dealpilot.forecasting.models import ForecastSnapshot
from dealpilot.forecasting.rollup import period_of, week_of

from . import team
from .items import Item, Thresholds

# The weekly digest is the manager's cadence in one read; a rep's week is their daily list.
WEEKLY_ROLES = (Role.MANAGER, Role.LEADER, Role.ADMIN)
MAX_ITEMS = 25  # an e-mail is a summary: the rest is one click away on Today


@dataclass
class Section:
    title: str
    items: list[Item] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # plain statements (no action), e.g. the forecast's movement
    more: int = 0  # items left out of the e-mail


@dataclass
class Digest:
    period: str  # daily or weekly
    user: User
    day: date
    title: str
    sections: list[Section]

    @property
    def is_empty(self) -> bool:
        return not any(s.items or s.lines for s in self.sections)

    @property
    def count(self) -> int:
        return sum(len(s.items) + s.more for s in self.sections)


def _capped(title: str, items: list[Item], limit: int = MAX_ITEMS) -> Section:
    return Section(title, items[:limit], more=max(0, len(items) - limit))


def daily_digest(user: User, items: list[Item], day: date) -> Digest:
    """The Today list (`items`, already less what the person set aside), by kind, most urgent first."""
    by_kind: dict[str, list[Item]] = {}
    for item in items:
        by_kind.setdefault(item.kind_label, []).append(item)
    sections = [_capped(label, group, 10) for label, group in by_kind.items()]
    return Digest("daily", user, day, f"Today: {len(items)} thing{'s' if len(items) != 1 else ''} to do" if items
                  else "Today: nothing needs you", sections)


def forecast_movement(user: User, day: date) -> list[str]:
    """This quarter's forecast against last week's snapshot: the model's expected figure and the call."""
    period = period_of(day)
    snaps = list(ForecastSnapshot.objects.filter(person=user, period_start=period.start, period_end=period.end,
                                                 week__lte=week_of(day)).order_by("-week")[:2])
    if not snaps:
        return [f"No forecast snapshot for {period.label} yet: the weekly snapshot runs with the forecast."]
    now = snaps[0]
    lines = [f"{period.label}: the model expects {now.model_expected:,.0f} (P10 {now.model_p10:,.0f} \u2013 "
             f"P90 {now.model_p90:,.0f})" + (f", target {float(now.target):,.0f}" if now.target is not None else "") + "."]
    if len(snaps) == 2:
        before = snaps[1]
        moved = now.model_expected - before.model_expected
        lines.append(f"Since the week of {before.week:%d %b}: the model's forecast {'up' if moved >= 0 else 'down'} "
                     f"{abs(moved):,.0f}.")
        if now.call_commit is not None and before.call_commit is not None:
            called = float(now.call_commit - before.call_commit)
            lines.append(f"The commit call {'up' if called >= 0 else 'down'} {abs(called):,.0f}.")
    if now.call_commit is None:
        lines.append("No commit call submitted this week.")
    return lines


def weekly_digest(user: User, day: date, th: Thresholds) -> Digest | None:
    """For managers and leaders: what changed in the team, who needs coaching, how the forecast moved.
    None for a role that gets no weekly digest."""
    if user.role not in WEEKLY_ROLES:
        return None
    sections = [_capped("Deals that changed most since last week", team.changed_deal_items(user, day, th)),
                _capped("Coaching due", team.rep_attention_items(user, day, th))]
    if user.role != Role.MANAGER:
        sections.append(_capped("Forecast gaps by team", team.forecast_gap_items(user, day, th)))
        sections.append(_capped("Biggest deals at risk", team.big_deal_risk_items(user, day, th)))
    sections.append(Section("Forecast movement", lines=forecast_movement(user, day)))
    return Digest("weekly", user, day, f"Your team's week of {week_of(day):%d %b %Y}", sections)
