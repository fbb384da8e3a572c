"""A worklist item and the thresholds that decide what becomes one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# How urgent each kind is, before its own weight (overdue days, amount): the first sort key of Today.
KIND_WEIGHT = {
    "next_step_overdue": 100,
    "deal_risk": 80,
    "meeting_without_plan": 75,
    "next_step_due": 70,
    "rep_attention": 65,
    "forecast_gap": 65,
    "plan_review": 55,
    "big_deal_risk": 60,
    "pipeline_short": 55,
    "deal_changed": 45,
    "account_quiet": 40,
    "contact_lapsed": 30,
}

KIND_LABELS = {
    "next_step_overdue": "Next step overdue",
    "next_step_due": "Next step due",
    "deal_risk": "Deal at risk",
    "meeting_without_plan": "Meeting without a call plan",
    "account_quiet": "Quiet priority account",
    "contact_lapsed": "Lapsed key contact",
    "plan_review": "Account plan review",
    "rep_attention": "Rep needs attention",
    "deal_changed": "Deal changed since last week",
    "forecast_gap": "Forecast gap",
    "pipeline_short": "Pipeline creation short",
    "big_deal_risk": "Big deal at risk",
}


@dataclass(frozen=True)
class Thresholds:
    """The sales leader's settings (today.models.TodaySettings holds them; these are the defaults)."""

    due_soon_days: int = 2  # next steps due within this many days are listed
    probability_drop_points: int = 10  # a week-over-week drop of the win probability this big is a risk
    account_quiet_days: int = 30  # an A or B account with no touch this long is listed
    contact_lapse_days: int = 90  # a key contact with no touch this long has lapsed (neutral, or no attitude known)
    contact_lapse_days_backers: int = 45  # ... a champion or supporter: the people who back us hear from us often
    contact_lapse_days_critics: int = 60  # ... a sceptic or opponent: someone who may block is watched closely
    plan_review_days: int = 7  # plan reviews due within this many days are listed
    creation_short_share: float = 0.75  # a team creating fewer deals than this share of its usual four weeks is short
    big_deals: int = 10  # how many of the biggest deals at risk a leader sees
    changed_deals: int = 10  # how many of the most changed deals a manager sees
    big_deal_amount: float | None = None  # alerts: a deal this big is "big" (None: the top tenth of open deals)


BACKERS = ("champion", "supporter")
CRITICS = ("sceptic", "opponent")


def lapse_days(th: Thresholds, attitude: str) -> int:
    """How long a key contact may go without contact before the relationship has lapsed, by their attitude to
    us (the account team's people map): backers and critics sooner than the neutral or unknown."""
    if attitude in BACKERS:
        return th.contact_lapse_days_backers
    if attitude in CRITICS:
        return th.contact_lapse_days_critics
    return th.contact_lapse_days


@dataclass(frozen=True)
class Item:
    """One thing to do: what, why (the evidence in words) and the one action that resolves it.

    `key` names the situation, not the day: a dismissed item stays dismissed while the situation
    lasts and comes back when it is a new one (a new next step, another week's risk)."""

    key: str
    kind: str
    title: str
    why: str
    action: str
    url: str
    weight: float = 0.0  # within a kind: bigger first (days overdue, amount at stake)
    owner: str = ""
    owner_id: int | None = None
    due: date | None = None
    amount: float | None = None
    currency: str = ""
    evidence: list[str] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def rank(self) -> tuple:
        return (-KIND_WEIGHT.get(self.kind, 0), -self.weight, self.due or date.max, self.title)

    def as_row(self) -> dict:
        return {"key": self.key, "kind": self.kind, "kind_label": self.kind_label, "title": self.title, "why": self.why,
                "action": self.action, "url": self.url, "owner": self.owner,
                "due": self.due.isoformat() if self.due else None, "amount": self.amount, "currency": self.currency}


def ranked(items: list[Item]) -> list[Item]:
    """Most urgent first; one item per key (two sources naming the same situation keep the first)."""
    seen: set[str] = set()
    out = []
    for item in sorted(items, key=lambda i: i.rank):
        if item.key not in seen:
            seen.add(item.key)
            out.append(item)
    return out
