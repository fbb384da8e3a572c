"""The demo organisation's records of this app, added by `dealpilot demo` after the CRM import.

`seed_demo()` runs at every `dealpilot demo` start, inside a transaction, and must be idempotent
(it adds what is missing and leaves what a user changed alone):
- the default questions, knowledge rules and thresholds (once);
- qualification answers on demo deals that have none, dated a third of the way into each deal;
- call plans, business cases and mutual action plans on some demo deals (when there are none);
- a trained win model (the first time) and a stored score for every open deal.

The stages' exit criteria need nothing here: their defaults are written after migrate, and the
demo deals' stages and qualification answers are Salesforce's standard ones.

The answers are seeded from what the demo records say (decision makers engaged, account size)
plus seeded noise; for closed deals, budget and compelling event lean with the outcome, more so
when the buyer's organisational change is small: the pattern the knowledge rules describe
(domain.md section 3), so that the model has a context-dependent signal to find.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from dealpilot.crm.models import Opportunity

DEMO_NAME_PREFIX = "demo:"


def _rng(key: str) -> random.Random:
    return random.Random(int(hashlib.sha256(f"deals-demo:{key}".encode()).hexdigest()[:16], 16))


def _answers_for(rec, employees: int | None, r: random.Random) -> dict[str, str]:
    from .records import DECISION_ROLES

    engaged = {t.contact_id for t in rec.touches if t.contact_id}
    dm_known = any(role in DECISION_ROLES for role in rec.roles.values())
    dm_met = any(rec.roles.get(c) in DECISION_ROLES for c in engaged)
    size = employees or 0
    change = "small" if size < 1000 else "medium" if size < 10000 else "large"
    if r.random() < 0.25:  # a rep's judgement is not the headcount
        change = r.choice(["small", "medium", "large"])
    answers = {"org_change": change, "decision_maker_identified": "yes" if dm_known or r.random() < 0.3 else "no",
               "decision_maker_met": "yes" if dm_met else "no"}
    won = rec.is_closed and rec.is_won
    lean = 0.0 if not rec.is_closed else (0.45 if won and change == "small" else 0.15 if won else -0.1)
    answers["budget_confirmed"] = "yes" if r.random() < 0.4 + lean else "no"
    if r.random() < 0.7:
        answers["compelling_event"] = "yes" if r.random() < 0.35 + (0.2 if won else 0.0) else "no"
    if r.random() < 0.6:
        answers["champion_power"] = r.choice(["none", "low", "high", "high"] if len(engaged) > 1 else ["none", "low", "low"])
    if r.random() < 0.4:
        answers["competition"] = r.choice(["none", "competitor", "competitor", "incumbent"])
    return answers


def seed_qualification_answers() -> int:
    """Answers for demo deals without any; returns how many deals got answers."""
    from dealpilot.crm.models import Account

    from .models import QualificationAnswer, QualificationAnswerChange, QualificationQuestion
    from .records import load_records

    questions = {q.key: q for q in QualificationQuestion.objects.filter(is_active=True)}
    answered = set(QualificationAnswerChange.objects.values_list("opportunity_id", flat=True).distinct())
    ids = list(Opportunity.objects.exclude(id__in=answered).exclude(crm_id__isnull=True).order_by("id").values_list("id", flat=True))
    employees = dict(Account.objects.values_list("id", "employees"))
    seeded = 0
    for start in range(0, len(ids), 1000):
        records = load_records(ids[start:start + 1000])
        answers, changes = [], []
        for rec in records.values():
            if rec.created is None:
                continue
            end = rec.close_date if rec.is_closed and rec.close_date else timezone.localdate()
            day = rec.created + timedelta(days=max(0, (end - rec.created).days // 3))
            when = timezone.make_aware(datetime.combine(day, time(9)))
            for key, value in _answers_for(rec, employees.get(rec.account_id), _rng(str(rec.id))).items():
                if key not in questions:
                    continue
                answers.append(QualificationAnswer(opportunity_id=rec.id, question=questions[key], value=value,
                                                   answered_at=when, answered_by_id=rec.owner_id))
                changes.append(QualificationAnswerChange(opportunity_id=rec.id, question=questions[key], old_value="",
                                                         new_value=value, changed_by_id=rec.owner_id, changed_at=when))
            seeded += 1
        QualificationAnswer.objects.bulk_create(answers, batch_size=1000, ignore_conflicts=True)
        QualificationAnswerChange.objects.bulk_create(changes, batch_size=1000)
    return seeded


PLAN_OBJECTIVES = ("Confirm the budget owner and the buying process", "Agree a shared vision of success",
                   "Test our value proposition with the operations lead", "Walk the CFO through the business case",
                   "Agree the pilot scope and success measures")


def seed_call_plans(limit: int = 200) -> int:
    """Plans for recent calls and meetings on open demo deals, most reviewed; only if none exist."""
    from dealpilot.crm.models import Activity

    from .models import CallPlan, OutcomeMet

    if CallPlan.objects.exists():
        return 0
    today = timezone.localdate()
    calls = list(Activity.objects.filter(opportunity__is_closed=False, kind__in=("call", "meeting"), owner__isnull=False,
                                         activity_date__gte=today - timedelta(days=60))
                 .order_by("id").values_list("id", "opportunity_id", "owner_id", "contact_id", "activity_date")[:limit * 3])
    plans, ahead = [], []
    for activity_id, opp_id, owner_id, contact_id, day in calls:
        r = _rng(f"plan:{activity_id}")
        if r.random() > 0.35:  # most calls go unplanned: the point of the report
            continue
        reviewed = day < today and r.random() < 0.8
        met = r.choice([OutcomeMet.YES, OutcomeMet.YES, OutcomeMet.PARTLY, OutcomeMet.NO]) if reviewed else ""
        plans.append(CallPlan(opportunity_id=opp_id, owner_id=owner_id, contact_id=contact_id, call_date=day,
                              objective=r.choice(PLAN_OBJECTIVES), our_outcomes="Next step agreed with a date",
                              customer_outcomes="A clear view of the return and the risk",
                              customer_expected_value="An insight from peers in their industry",
                              failure_risks="The decision maker sends a delegate", questions="Who else decides? What happens if you wait?",
                              outcome_met=met, advanced=(met == OutcomeMet.YES and r.random() < 0.8) if reviewed else None,
                              next_step="Send the proposal" if reviewed else "",
                              reviewed_at=timezone.make_aware(datetime.combine(day, time(17))) if reviewed else None))
        ahead.append(day - timedelta(days=1 + int(r.random() * 3)) if r.random() < 0.8 else day + timedelta(days=1))
        if len(plans) >= limit:
            break
    created = CallPlan.objects.bulk_create(plans)
    for plan, written in zip(created, ahead):  # when the rep wrote it (auto_now_add says now)
        CallPlan.objects.filter(pk=plan.pk).update(created_at=timezone.make_aware(datetime.combine(written, time(8))))
    return len(created)


def seed_business_cases(limit: int = 20) -> int:
    """Business cases for the largest open demo deals; only if none exist."""
    from decimal import Decimal

    from .models import BusinessCase

    if BusinessCase.objects.exists():
        return 0
    cases = []
    for opp in Opportunity.objects.filter(is_closed=False, amount__isnull=False).order_by("-amount", "id")[:limit]:
        r = _rng(f"case:{opp.pk}")
        investment = (opp.amount * Decimal("1.3")).quantize(Decimal("1"))
        ramp = [Decimal(0), Decimal("0.15"), Decimal("0.3"), Decimal("0.4"), Decimal("0.45"), Decimal("0.45"), Decimal("0.5"),
                Decimal("0.5")]
        scale = Decimal(str(round(0.7 + r.random() * 0.6, 2)))
        cases.append(BusinessCase(opportunity=opp, currency=opp.currency, investment=investment, period="quarter",
                                  benefits=[str((investment * share * scale).quantize(Decimal("0.01"))) for share in ramp],
                                  risk_share=Decimal(r.choice([0, 10, 20, 25])),
                                  leading_indicators="Order-to-delivery time\nShare of orders shipped on time\nHours spent on reporting",
                                  assumptions="Benefits net of the buyer's internal costs; adoption by 80% of users by quarter 3."))
    BusinessCase.objects.bulk_create(cases)
    return len(cases)


PLAN_STEPS = (  # (title, side): the road to a decision, both sides' steps
    ("Discovery workshop with the operations team", "seller"), ("Pilot results shared", "seller"),
    ("Security and IT review", "buyer"), ("Business case signed off by finance", "buyer"),
    ("Proposal and contract draft sent", "seller"), ("Contract redlines returned", "buyer"), ("Signature", "buyer"),
)


def seed_mutual_plans(limit: int = 25) -> int:
    """Mutual action plans for the largest open demo deals in the later stages, agreed a few weeks
    ago: early steps mostly done, some late, and now and then the end moved; only if none exist."""
    from dealpilot.crm.models import Contact

    from .models import MutualPlan, MutualPlanStep

    if MutualPlan.objects.exists():
        return 0
    today = timezone.localdate()
    late_stages = ("Perception Analysis", "Proposal/Price Quote", "Negotiation/Review")
    deals = list(Opportunity.objects.filter(is_closed=False, stage__in=late_stages, close_date__gt=today, account__isnull=False)
                 .select_related("owner").order_by("-amount", "id")[:limit])
    steps = []
    for opp in deals:
        r = _rng(f"mutual:{opp.pk}")
        agreed = today - timedelta(days=14 + int(r.random() * 21))
        span = max((opp.close_date - agreed).days, len(PLAN_STEPS))
        buyers = list(Contact.objects.filter(account_id=opp.account_id).order_by("id")[:4])
        slips = r.random() < 0.4
        plan = MutualPlan.objects.create(opportunity=opp, updated_by=opp.owner)
        ends = []
        for i, (title, side) in enumerate(PLAN_STEPS):
            first_due = agreed + timedelta(days=round(span * (i + 1) / len(PLAN_STEPS)))
            due = first_due + timedelta(days=10) if slips and i >= len(PLAN_STEPS) - 3 else first_due
            done = due < today and r.random() < 0.75
            steps.append(MutualPlanStep(
                plan=plan, position=i + 1, title=title, side=side, seller=opp.owner if side == "seller" else None,
                buyer=buyers[i % len(buyers)] if side == "buyer" and buyers else None,
                owner_name="" if side == "seller" or buyers else "Procurement", due_date=due, first_due=first_due,
                done_at=timezone.make_aware(datetime.combine(due, time(16))) if done else None, done_by=opp.owner if done else None,
                created_by=opp.owner))
            ends.append(first_due)
        MutualPlan.objects.filter(pk=plan.pk).update(first_end=max(ends), created_at=timezone.make_aware(datetime.combine(agreed, time(9))))
    MutualPlanStep.objects.bulk_create(steps)
    return len(deals)


def seed_demo() -> None:
    from .knowledge import ensure_defaults
    from .models import ModelStatus, WinModelRun
    from .scoring import active_run, score_open_deals, train_model

    ensure_defaults()
    if not Opportunity.objects.exists():
        return
    seeded = seed_qualification_answers()
    seed_call_plans()
    seed_business_cases()
    seed_mutual_plans()
    if active_run() is None and not WinModelRun.objects.filter(status=ModelStatus.TOO_LITTLE_DATA).exists():
        train_model(WinModelRun.objects.create())  # scores the open deals too
        return
    missing = list(Opportunity.objects.filter(is_closed=False, win_score__isnull=True).values_list("id", flat=True))
    if seeded or missing:
        score_open_deals(None if seeded else missing)
