"""A sales organisation with enough closed deals to train the win model, built quickly with
bulk inserts. Deals whose decision maker was met early are won far more often (a pattern the
model must find); everything is seeded, so the data are the same on every run."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from dealpilot.crm.models import Activity, ContactRole, Opportunity, OpportunityContactRole, StageHistory
from tests.factories import make_account, make_contact, make_user

PATH = [("Prospecting", 10), ("Qualification", 20), ("Proposal", 60), ("Negotiation", 80)]


def _at(day):
    return timezone.make_aware(datetime.combine(day, time(10)))


def build_history_org(closed: int = 300, open_deals: int = 12, seed: int = 5) -> dict:
    r = random.Random(seed)
    today = timezone.localdate()
    reps = [make_user(username=f"hist_rep{i}", full_name=f"History Rep {i}") for i in range(4)]
    accounts = [make_account(reps[i % 4], name=f"History account {i}") for i in range(12)]
    contacts = {}
    for a in accounts:
        contacts[a.pk] = (make_contact(a, first_name="Dora", last_name=f"Decider {a.pk}"),
                          make_contact(a, first_name="Milo", last_name=f"Middle {a.pk}"))
    opps, plans = [], []
    for i in range(closed + open_deals):
        is_open = i >= closed
        account = accounts[r.randrange(len(accounts))]
        owner = next(rep for rep in reps if rep.pk == account.owner_id)
        length = r.randint(30, 90)
        created = today - timedelta(days=r.randint(20, 60) if is_open else 60 + (closed - i) * 2)
        close = created + timedelta(days=length)
        met_dm = r.random() < 0.5
        won = (r.random() < (0.75 if met_dm else 0.15)) if not is_open else False
        amount = Decimal(r.choice([20000, 40000, 80000]))
        stage = PATH[min(3, r.randint(0, 3))][0] if is_open else ("Closed Won" if won else "Closed Lost")
        opps.append(Opportunity(name=f"History deal {i}", crm_id=f"HIST{i:05d}", owner=owner, account=account, stage=stage, amount=amount,
                                created_date=created, close_date=close if not is_open else today + timedelta(days=30),
                                is_closed=not is_open, is_won=won, source=r.choice(["inbound", "outbound", "referral"]),
                                probability=Decimal(40)))
        plans.append((met_dm, created, close, is_open))
    opps = Opportunity.objects.bulk_create(opps)
    history, activities, roles = [], [], []
    for opp, (met_dm, created, close, is_open) in zip(opps, plans):
        dm, mid = contacts[opp.account_id]
        roles += [OpportunityContactRole(opportunity=opp, contact=dm, role=ContactRole.DECISION_MAKER),
                  OpportunityContactRole(opportunity=opp, contact=mid, role=ContactRole.INFLUENCER, is_primary=True)]
        end = timezone.localdate() if is_open else close
        span = max(4, (end - created).days)
        for k, (stage, prob) in enumerate(PATH):
            day = created + timedelta(days=span * k // 5)
            if is_open and day > timezone.localdate():
                break
            history.append(StageHistory(opportunity=opp, stage=stage, probability=Decimal(prob), amount=opp.amount,
                                        close_date=created + timedelta(days=60), changed_at=_at(day)))
        if not is_open:
            history.append(StageHistory(opportunity=opp, stage=opp.stage, probability=Decimal(100 if opp.is_won else 0),
                                        amount=opp.amount, close_date=close, changed_at=_at(close)))
        activities.append(Activity(kind="call", owner=opp.owner, opportunity=opp, account=opp.account, contact=mid,
                                   activity_date=created + timedelta(days=2), direction="outbound"))
        if met_dm:
            activities.append(Activity(kind="meeting", owner=opp.owner, opportunity=opp, account=opp.account, contact=dm,
                                       activity_date=created + timedelta(days=span // 6), direction="outbound"))
    StageHistory.objects.bulk_create(history)
    Activity.objects.bulk_create(activities)
    OpportunityContactRole.objects.bulk_create(roles)
    return {"reps": reps, "accounts": accounts, "closed": opps[:closed], "open": opps[closed:]}
