"""Read paths of deal intelligence. Every function takes the caller and reads only deals
`visible_to` them; `visible_opportunity` answers None for a deal they may not see."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, User

from . import scoring
from .knowledge import ensure_defaults
from .models import BusinessCase, QualificationAnswer, QualificationAnswerChange, QualificationQuestion, WinModelRun, WinScore
from .records import contact_names, current_state, load_records
from .signals import Coverage, Vulnerability


def visible_opportunity(user: User, pk: int) -> Opportunity | None:
    return Opportunity.objects.visible_to(user).select_related("account", "owner").filter(pk=pk).first()


@dataclass
class QuestionRow:
    question: QualificationQuestion
    answer: str
    answered_by: str
    answered_at: object


@dataclass
class DealPanel:
    opportunity: Opportunity
    questions: list[QuestionRow]
    history: list[QualificationAnswerChange]
    is_open: bool
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    coverage: Coverage | None = None
    probability: float | None = None
    method: str = ""
    note: str = ""
    reasons_up: list[dict] = field(default_factory=list)
    reasons_down: list[dict] = field(default_factory=list)
    rep_probability: float | None = None
    difference: str = ""
    rule_score: float = 0.0
    call_plans: int = 0
    has_business_case: bool = False


def qualification(opportunity: Opportunity) -> tuple[list[QuestionRow], list[QualificationAnswerChange]]:
    """The questions asked at the deal's stage with their current answers, and the answer history."""
    ensure_defaults()
    answers = {a.question_id: a for a in QualificationAnswer.objects.filter(opportunity=opportunity).select_related("answered_by")}
    rows = []
    for q in QualificationQuestion.objects.filter(is_active=True):
        a = answers.get(q.id)
        if q.asked_at(opportunity.stage) or a:
            rows.append(QuestionRow(q, a.value if a else "", str(a.answered_by) if a and a.answered_by else "",
                                    a.answered_at if a else None))
    history = list(QualificationAnswerChange.objects.filter(opportunity=opportunity)
                   .select_related("question", "changed_by").order_by("-changed_at", "-id")[:20])
    return rows, history


def deal_panel(user: User, opportunity: Opportunity) -> DealPanel:
    """Probability (computed and the rep's), reasons, vulnerabilities, coverage and qualification
    of a deal the caller may see (the caller checks with `visible_opportunity`)."""
    questions, history = qualification(opportunity)
    rep = float(opportunity.probability) / 100 if opportunity.probability is not None else None
    panel = DealPanel(opportunity, questions, history, not opportunity.is_closed, rep_probability=rep,
                      call_plans=opportunity.call_plans.count(),
                      has_business_case=BusinessCase.objects.filter(opportunity=opportunity).exists())
    if opportunity.is_closed:
        return panel
    records = load_records([opportunity.pk])
    contact_names(records)
    stored = WinScore.objects.filter(opportunity=opportunity).first()
    if stored is not None and scoring.is_fresh(stored):
        # the stored score still holds: the signals are computed now, without loading the model
        ctx = scoring.scoring_context(with_model=False)
        item = scoring.insight(current_state(records[opportunity.pk]), ctx)
        panel.probability, panel.method, panel.note = stored.probability, stored.method, stored.note
        panel.reasons_up, panel.reasons_down = stored.reasons_up, stored.reasons_down
    else:
        ctx = scoring.scoring_context()
        items, scores = scoring.score_records(records, ctx)
        item, score = items[0], scores[0]
        panel.probability, panel.method, panel.note = score.probability, score.method, score.note
        panel.reasons_up = [r.as_dict() for r in score.reasons_up]
        panel.reasons_down = [r.as_dict() for r in score.reasons_down]
    panel.vulnerabilities, panel.coverage, panel.rule_score = item.vulnerabilities, item.coverage, item.rule_score
    panel.difference = scoring.explain_difference(panel.probability, rep, panel.reasons_up, panel.reasons_down)
    return panel


def stored_scores(user: User) -> QuerySet[WinScore]:
    """The last stored score of every open deal the caller may see."""
    return (WinScore.objects.filter(opportunity__in=Opportunity.objects.visible_to(user).filter(is_closed=False))
            .select_related("opportunity").order_by("-probability", "opportunity_id"))


def open_deal_rows(user: User, *, score_missing: bool = True) -> list[dict]:
    """Every open deal the caller may see with its win probability (the model's, else the knowledge rules'),
    the reasons for and against, and its vulnerabilities: what each deal page shows, as rows (the CLI's
    `deals list` / `deals score`). Deals never scored are scored first (and stored) unless told not to."""
    deals = Opportunity.objects.visible_to(user).filter(is_closed=False)
    if score_missing:
        missing = list(deals.filter(win_score__isnull=True).values_list("id", flat=True))
        if missing:
            scoring.score_open_deals(missing)
    scores = {s.opportunity_id: s for s in WinScore.objects.filter(opportunity__in=deals)}
    ids = list(deals.values_list("id", flat=True))
    vulnerabilities = signals_for(user, ids)
    rows = []
    for deal in deals.select_related("account", "owner").order_by("close_date", "id"):
        score = scores.get(deal.pk)
        rows.append({
            "id": deal.pk, "name": str(deal), "account": deal.account.name if deal.account_id else "",
            "owner": str(deal.owner) if deal.owner_id else "", "stage": deal.stage, "amount": deal.amount,
            "currency": deal.currency, "close_date": deal.close_date,
            "win_probability": round(score.probability * 100, 1) if score else None,
            "rep_probability": deal.probability, "method": score.method if score else "",
            "reasons_for": [r["text"] for r in score.reasons_up] if score else [],
            "reasons_against": [r["text"] for r in score.reasons_down] if score else [],
            "vulnerabilities": [v.title for v in vulnerabilities.get(deal.pk, [])],
            "scored_at": score.scored_at if score else None,
        })
    return rows


def model_runs(limit: int = 10) -> list[WinModelRun]:
    return list(WinModelRun.objects.select_related("requested_by")[:limit])


def signals_for(user: User, opportunity_ids: list[int] | None = None) -> dict[int, list[Vulnerability]]:
    """Vulnerabilities of the caller's open deals (or of those ids among them), in a few queries."""
    qs = Opportunity.objects.visible_to(user).filter(is_closed=False)
    if opportunity_ids is not None:
        qs = qs.filter(id__in=opportunity_ids)
    records = load_records(qs)
    contact_names(records)
    ctx = scoring.scoring_context(with_model=False)
    return {r.id: scoring.insight(current_state(r), ctx).vulnerabilities for r in records.values()}


# ---- call plans and business cases ----------------------------------------------------------------


def visible_call_plan(user: User, pk: int):
    from .models import CallPlan

    return (CallPlan.objects.filter(opportunity__in=Opportunity.objects.visible_to(user))
            .select_related("opportunity", "owner", "contact").filter(pk=pk).first())


def call_plans_of(opportunity: Opportunity):
    from .models import CallPlan

    return list(CallPlan.objects.filter(opportunity=opportunity).select_related("owner", "contact"))


@dataclass
class RepCallStats:
    owner_id: int
    name: str
    calls: int
    plans: int
    planned_ahead: int
    reviewed: int
    effective: int

    @property
    def share_planned(self) -> float | None:
        """Plans written before the call, of the calls and meetings logged (or planned, if more)."""
        base = max(self.calls, self.plans)
        return self.planned_ahead / base if base else None

    @property
    def share_effective(self) -> float | None:
        """Reviewed plans whose outcome was met and whose deal advanced."""
        return self.effective / self.reviewed if self.reviewed else None


def call_plan_report(user: User, start, end) -> list[RepCallStats]:
    """Per owner the caller may see, between start and end (dates, inclusive): calls and meetings
    logged on deals, plans, plans written ahead, reviewed, effective. Three grouped queries."""
    from django.db.models import Count, F, Q

    from dealpilot.crm.models import Activity

    from .models import CallPlan, OutcomeMet

    deals = Opportunity.objects.visible_to(user)
    calls = dict(Activity.objects.visible_to(user).filter(kind__in=("call", "meeting"), opportunity__in=deals,
                                                          activity_date__range=(start, end), owner__isnull=False)
                 .values_list("owner").annotate(n=Count("id")))
    plans = (CallPlan.objects.filter(opportunity__in=deals, call_date__range=(start, end), owner__isnull=False)
             .values("owner").annotate(plans=Count("id"), ahead=Count("id", filter=Q(created_at__date__lte=F("call_date"))),
                                       reviewed=Count("id", filter=Q(reviewed_at__isnull=False)),
                                       effective=Count("id", filter=Q(reviewed_at__isnull=False, outcome_met=OutcomeMet.YES,
                                                                      advanced=True))))
    by_owner = {p["owner"]: p for p in plans}
    owners = set(calls) | set(by_owner)
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=owners)}
    rows = [RepCallStats(o, names.get(o, str(o)), calls.get(o, 0), by_owner.get(o, {}).get("plans", 0),
                         by_owner.get(o, {}).get("ahead", 0), by_owner.get(o, {}).get("reviewed", 0),
                         by_owner.get(o, {}).get("effective", 0)) for o in owners]
    return sorted(rows, key=lambda r: r.name)


def business_case_of(opportunity: Opportunity):
    from .models import BusinessCase

    return BusinessCase.objects.filter(opportunity=opportunity).first()


def business_case_figures(case):
    from decimal import Decimal

    from .business_case import figures

    fees = case.opportunity.amount
    return figures(case.investment, [Decimal(b) for b in case.benefits], risk_share=case.risk_share, fees=fees)


# ---- guided selling: who may change a deal's checklist and plan; the mutual action plan --------------


def may_edit(user: User) -> bool:
    """Whoever may see a deal may change its checklist and mutual plan, as they may edit the deal
    (crm.services.editable_opportunity); an enablement author reads only."""
    return bool(user.is_authenticated and (user.role != Role.ENABLEMENT or user.sees_everything))


def buyer_contacts(opportunity: Opportunity):
    """The people a buyer-side step may name: contacts of the deal's account, or with a role on the deal."""
    from django.db.models import Q

    from dealpilot.crm.models import Contact

    people = Q(opportunity_roles__opportunity=opportunity)
    if opportunity.account_id:
        people |= Q(account_id=opportunity.account_id)
    return Contact.objects.filter(people).distinct().order_by("last_name", "first_name", "id")


def seller_people(user: User, opportunity: Opportunity):
    """The people a seller-side step may name: active sales people the caller can see, and the deal's
    owner and their manager (a rep sees only themselves). Same answer for one out of reach and none."""
    from django.db.models import Q

    team = Q(pk__in=User.objects.visible_to(user).values("pk"))
    if opportunity.owner_id:
        team |= Q(pk=opportunity.owner_id)
        if opportunity.owner.manager_id:
            team |= Q(pk=opportunity.owner.manager_id)
    return User.objects.filter(team, is_active=True).exclude(role=Role.ENABLEMENT).order_by("full_name", "username", "id")


@dataclass
class StepView:
    """A step with its slippage as of a day."""

    step: object
    overdue: bool  # open and past its due date
    days_late: int  # open: days past due; done: days it was done after its due date
    moved_days: int  # its due date now against the one first agreed (+ later)

    @property
    def done(self) -> bool:
        return self.step.done_at is not None


@dataclass
class MutualPlanView:
    opportunity: Opportunity
    steps: list[StepView]
    version: int  # the whole plan's (1 before the first step: what the first write creates)
    first_end: object  # the plan's end when it was first set
    end: object  # its latest due date now
    as_of: object

    @property
    def end_moved_days(self) -> int | None:
        return (self.end - self.first_end).days if self.end and self.first_end else None

    @property
    def overdue(self) -> int:
        return sum(s.overdue for s in self.steps)

    @property
    def done(self) -> int:
        return sum(s.done for s in self.steps)


def step_view(step, today) -> StepView:
    if step.done_at is not None:
        finished = timezone.localtime(step.done_at).date()
        late, overdue = max(0, (finished - step.due_date).days), False
    else:
        late = max(0, (today - step.due_date).days)
        overdue = late > 0
    return StepView(step, overdue, late, (step.due_date - step.first_due).days)


def mutual_plan_of(opportunity: Opportunity, today=None) -> MutualPlanView:
    """The deal's mutual action plan with its slippage: steps overdue and by how many days, each
    step's due date against the first agreed, and how far the plan's end moved since first set."""
    from .models import MutualPlan, MutualPlanStep

    today = today or timezone.localdate()
    plan = MutualPlan.objects.filter(opportunity=opportunity).first()
    if plan is None:
        return MutualPlanView(opportunity, [], 1, None, None, today)
    steps = list(MutualPlanStep.objects.filter(plan=plan).select_related("seller", "buyer", "done_by"))
    return MutualPlanView(opportunity, [step_view(s, today) for s in steps], plan.version, plan.first_end,
                          max((s.due_date for s in steps), default=None), today)


def visible_plan_step(user: User, pk: int):
    """A mutual-plan step of a deal the caller may see, or None."""
    from .models import MutualPlanStep

    return (MutualPlanStep.objects.filter(plan__opportunity__in=Opportunity.objects.visible_to(user))
            .select_related("plan__opportunity__account", "plan__opportunity__owner").filter(pk=pk).first())
