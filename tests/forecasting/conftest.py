"""The sample organisation (tests/factories.py) with a quarter of deals whose numbers are worked out by hand.

This quarter (Q, the one containing today), with win probabilities stored as the win model's:

| owner        | deal            | status | amount | p    | CRM category | target |
| rep_emea     | emea won        | won    | 10,000 |      |              | 60,000 |
|              | emea commit     | open   | 20,000 | 0.50 | Commit       |        |
|              | emea best       | open   | 40,000 | 0.25 | Best Case    |        |
|              | emea pipe       | open   |  5,000 | 0.10 | Pipeline     |        |
| rep_dach     | dach commit     | open   | 30,000 | 0.80 | Commit       | 40,000 |
| manager_emea | manager best    | open   | 10,000 | 0.50 | Best Case    |        |
| rep_amer     | amer commit     | open   | 50,000 | 0.60 | Commit       | 50,000 |
| (nobody)     | unowned deal    | open   |  1,000 | 0.20 | (none)       |        |

Deals of the sample organisation itself are moved to the quarter before, so they count nowhere here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealpilot.crm.models import Opportunity, SalesTarget
from dealpilot.deals.models import WinScore
from dealpilot.forecasting.rollup import Period, period_of
from tests.factories import make_opportunity


@dataclass
class Quarter:
    org: object
    period: Period
    deals: dict  # name -> Opportunity


def score(opportunity, p: float) -> None:
    WinScore.objects.update_or_create(opportunity=opportunity, defaults={
        "probability": p, "method": "model", "scored_at": timezone.now(), "note": "test"})


@pytest.fixture
def quarter(org) -> Quarter:
    today = timezone.localdate()
    period = period_of(today, "quarter")
    before = period.start - timedelta(days=40)
    Opportunity.objects.update(close_date=before)
    inside = period.start + timedelta(days=20) if period.start + timedelta(days=20) <= period.end else period.end
    deals = {}

    def deal(name, owner, amount, p=None, category="", status="open"):
        o = make_opportunity(owner, org.accounts.get(owner.username) if owner else None, name=name, amount=amount,
                             status=status, stage="Closed Won" if status == "won" else "Proposal/Price Quote",
                             close_date=period.start if status == "won" else inside, forecast_category=category)
        if p is not None:
            score(o, p)
        deals[name] = o

    deal("emea won", org.rep_emea, 10000, status="won", category="Closed")
    deal("emea commit", org.rep_emea, 20000, 0.5, "Commit")
    deal("emea best", org.rep_emea, 40000, 0.25, "Best Case")
    deal("emea pipe", org.rep_emea, 5000, 0.1, "Pipeline")
    deal("dach commit", org.rep_dach, 30000, 0.8, "Commit")
    deal("manager best", org.manager_emea, 10000, 0.5, "Best Case")
    deal("amer commit", org.rep_amer, 50000, 0.6, "Commit")
    deal("unowned deal", None, 1000, 0.2)
    for rep, amount in ((org.rep_emea, 60000), (org.rep_dach, 40000), (org.rep_amer, 50000)):
        SalesTarget.objects.create(owner=rep, period_start=period.start, period_end=period.end, amount=Decimal(amount))
    return Quarter(org, period, deals)
