"""The Deal intelligence API: a ninja router mounted at /api/deals/ (see dealpilot/api.py).

A deal the caller may not see is a 404, like one that does not exist. Editing the rules and
training the model are for sales leaders and administrators (others get 404 too)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.db import transaction
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from dealpilot.api_types import Code, Day, Line, Money, Note, RecordId
from dealpilot.pagination import Pages as PageNumberPagination  # the page number bounded
from dealpilot.validation import COMMENT_MAX, LINE_MAX, NOTE_MAX, YAML_MAX

from dealpilot.web.access import can_run_imports

from . import selectors, services
from .knowledge import ConfigError, export_config, load_config
from .scoring import active_run, score_open_deals
from .tasks import request_training

router = Router(tags=["deals"])


def _deal(request, pk: int):
    opportunity = selectors.visible_opportunity(request.user, pk)
    if opportunity is None:
        raise HttpError(404, f"Opportunity {pk} not found")
    return opportunity


def _leader(request):
    if not can_run_imports(request.user):
        raise HttpError(404, "Not found")


class ReasonOut(Schema):
    text: str
    effect: float = Field(description="Effect on the log-odds of winning")
    strength: str


class VulnerabilityOut(Schema):
    code: str
    title: str
    evidence: str
    action: str


class CoverageGroupOut(Schema):
    code: str
    label: str
    known: list[str]
    engaged: list[str]


class IntelligenceOut(Schema):
    opportunity_id: int
    is_open: bool
    probability: float | None = Field(description="Computed win probability, 0..1 (never written over the rep's)")
    method: str = Field(description="model (trained win model) or rules (too little history: knowledge rules + stage win rate)")
    rep_probability: float | None = Field(description="The rep's own probability, 0..1, as entered in the CRM")
    difference: str
    note: str
    reasons_up: list[ReasonOut]
    reasons_down: list[ReasonOut]
    vulnerabilities: list[VulnerabilityOut]
    coverage: list[CoverageGroupOut]
    rule_score: float


class AnswerOut(Schema):
    key: str
    question: str
    kind: str
    allowed: list[str]
    answer: str
    answered_by: str
    answered_at: datetime | None


class ChangeOut(Schema):
    key: str
    old_value: str
    new_value: str
    changed_by: str
    changed_at: datetime


class QualificationOut(Schema):
    opportunity_id: int
    answers: list[AnswerOut]
    history: list[ChangeOut]


class QualificationIn(Schema):
    answers: dict[Code, Code] = Field(description='Question key -> answer ("" clears it)')


class RulesIn(Schema):
    yaml: str = Field(max_length=YAML_MAX)


class RulesOut(Schema):
    yaml: str


class WinModelOut(Schema):
    active: bool
    run_id: int | None
    status: str
    trained_at: datetime | None
    deals_train: int
    deals_calibration: int
    deals_test: int
    metrics: dict
    message: str


class TrainOut(Schema):
    run_id: int
    status: str


class ScoreOut(Schema):
    opportunity_id: int
    name: str
    probability: float
    rep_probability: float | None
    method: str
    scored_at: datetime
    reasons_up: list[ReasonOut]
    reasons_down: list[ReasonOut]

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj.opportunity)

    @staticmethod
    def resolve_rep_probability(obj) -> float | None:
        p = obj.opportunity.probability
        return float(p) / 100 if p is not None else None


@router.get("/opportunities/{pk}/intelligence", response=IntelligenceOut)
def intelligence(request, pk: int):
    """Computed and rep probability side by side, reasons, vulnerabilities and buying-group coverage."""
    panel = selectors.deal_panel(request.user, _deal(request, pk))
    return {
        "opportunity_id": pk, "is_open": panel.is_open, "probability": panel.probability, "method": panel.method,
        "rep_probability": panel.rep_probability, "difference": panel.difference, "note": panel.note,
        "reasons_up": panel.reasons_up, "reasons_down": panel.reasons_down,
        "vulnerabilities": [v.__dict__ for v in panel.vulnerabilities],
        "coverage": [g.__dict__ for g in panel.coverage.groups] if panel.coverage else [], "rule_score": panel.rule_score,
    }


def _qualification(opportunity) -> dict:
    rows, history = selectors.qualification(opportunity)
    return {
        "opportunity_id": opportunity.pk,
        "answers": [{"key": r.question.key, "question": r.question.text, "kind": r.question.kind, "allowed": r.question.allowed_answers,
                     "answer": r.answer, "answered_by": r.answered_by, "answered_at": r.answered_at} for r in rows],
        "history": [{"key": c.question.key, "old_value": c.old_value, "new_value": c.new_value,
                     "changed_by": str(c.changed_by) if c.changed_by else "", "changed_at": c.changed_at} for c in history],
    }


@router.get("/opportunities/{pk}/qualification", response=QualificationOut)
def qualification(request, pk: int):
    return _qualification(_deal(request, pk))


@router.put("/opportunities/{pk}/qualification", response=QualificationOut)
def answer_qualification(request, pk: int, payload: QualificationIn):
    """Set answers (all or none); each change is kept in the history with who and when."""
    opportunity = _deal(request, pk)
    try:
        services.answer_questions(opportunity, payload.answers, user=request.user)
    except services.AnswerError as exc:
        raise HttpError(400, str(exc)) from None
    score_open_deals([opportunity.pk])
    return _qualification(opportunity)


@router.get("/scores", response=list[ScoreOut])
@paginate(PageNumberPagination, page_size=50)
def scores(request):
    """The last stored score of each open deal you can see (refreshed by training and `dealpilot deals score`)."""
    return selectors.stored_scores(request.user)


@router.get("/rules", response=RulesOut)
def rules(request):
    """Questions, knowledge rules and thresholds as YAML."""
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise HttpError(404, "Not found")
    return {"yaml": export_config()}


@router.put("/rules", response=RulesOut)
def load_rules(request, payload: RulesIn):
    """Replace questions, rules and settings from YAML (sales leaders); all or nothing."""
    _leader(request)
    try:
        load_config(payload.yaml)
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from None
    return {"yaml": export_config()}


def _model_out(run) -> dict:
    if run is None:
        return {"active": False, "run_id": None, "status": "none", "trained_at": None, "deals_train": 0, "deals_calibration": 0,
                "deals_test": 0, "metrics": {}, "message": "No win model: probabilities come from the knowledge rules."}
    return {"active": run.is_active, "run_id": run.pk, "status": run.status, "trained_at": run.finished_at,
            "deals_train": run.deals_train, "deals_calibration": run.deals_calibration, "deals_test": run.deals_test,
            "metrics": run.metrics, "message": run.message}


@router.get("/model", response=WinModelOut)
def model(request):
    """The active win model and its held-out evaluation."""
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise HttpError(404, "Not found")
    return _model_out(active_run())


@router.post("/model/train", response={202: TrainOut})
def train(request):
    """Queue a training of the win model (sales leaders)."""
    _leader(request)
    with transaction.atomic():
        run = request_training(request.user)
    run.refresh_from_db()
    return Status(202, {"run_id": run.pk, "status": run.status})


# ---- call plans -------------------------------------------------------------------------------------


class CallPlanIn(Schema):
    call_date: Day
    objective: str = Field(min_length=1, max_length=LINE_MAX)
    our_outcomes: str = Field(min_length=1, max_length=NOTE_MAX)
    customer_outcomes: Note = ""
    customer_expected_value: Note = ""
    failure_risks: Note = ""
    questions: Note = ""
    insight: Note = ""
    content: Note = ""
    contact_id: RecordId | None = None


class CallReviewIn(Schema):
    outcome_met: Literal["yes", "partly", "no"]
    advanced: bool
    next_step: Line = ""


class CallPlanOut(Schema):
    id: int
    opportunity_id: int
    owner_id: int | None
    contact_id: int | None
    call_date: date
    objective: str
    our_outcomes: str
    customer_outcomes: str
    customer_expected_value: str
    failure_risks: str
    questions: str
    insight: str
    content: str
    planned_ahead: bool
    outcome_met: str
    advanced: bool | None
    next_step: str
    reviewed_at: datetime | None
    effective: bool | None


class RepCallStatsOut(Schema):
    owner_id: int
    name: str
    calls: int
    plans: int
    planned_ahead: int
    reviewed: int
    effective: int
    share_planned: float | None
    share_effective: float | None


def _plan_data(request, opportunity, payload: CallPlanIn) -> dict:
    data = payload.dict(exclude={"contact_id"})
    data["contact"] = None
    if payload.contact_id is not None:
        from dealpilot.crm.models import Contact

        contact = Contact.objects.visible_to(request.user).filter(pk=payload.contact_id).first()
        if contact is None:
            raise HttpError(400, f"contact {payload.contact_id} not found")
        data["contact"] = contact
    return data


def _validated(write, *args, **kwargs):
    """Run a write path; a model validation error is the caller's 400, never a 500."""
    from django.core.exceptions import ValidationError

    try:
        return write(*args, **kwargs)
    except ValidationError as exc:
        raise HttpError(400, "; ".join(exc.messages)) from None


def _plan_or_404(request, plan_id: int):
    plan = selectors.visible_call_plan(request.user, plan_id)
    if plan is None:
        raise HttpError(404, f"Call plan {plan_id} not found")
    return plan


@router.get("/opportunities/{pk}/call-plans", response=list[CallPlanOut])
def list_call_plans(request, pk: int):
    return selectors.call_plans_of(_deal(request, pk))


@router.post("/opportunities/{pk}/call-plans", response={201: CallPlanOut})
def create_call_plan(request, pk: int, payload: CallPlanIn):
    """Plan a call: objective, desired outcomes (ours and the customer's), what the customer expects
    to get, why it might fail, questions, insight, content."""
    opportunity = _deal(request, pk)
    plan = _validated(services.save_call_plan, opportunity, _plan_data(request, opportunity, payload), user=request.user)
    return Status(201, plan)


@router.get("/call-plans/report", response=list[RepCallStatsOut])
def call_plan_report(request, start: Day, end: Day):
    """Share of calls planned ahead and share effective, per rep you can see, between two dates."""
    if end < start:
        raise HttpError(400, "end is before start")
    return [{**r.__dict__, "share_planned": r.share_planned, "share_effective": r.share_effective}
            for r in selectors.call_plan_report(request.user, start, end)]


@router.get("/call-plans/{plan_id}", response=CallPlanOut)
def get_call_plan(request, plan_id: int):
    return _plan_or_404(request, plan_id)


@router.put("/call-plans/{plan_id}", response=CallPlanOut)
def update_call_plan(request, plan_id: int, payload: CallPlanIn):
    plan = _plan_or_404(request, plan_id)
    return _validated(services.save_call_plan, plan.opportunity, _plan_data(request, plan.opportunity, payload), user=request.user,
                      plan=plan)


@router.post("/call-plans/{plan_id}/review", response=CallPlanOut)
def review_call_plan(request, plan_id: int, payload: CallReviewIn):
    """After the call: was the outcome met, did the deal advance, what is the next step."""
    plan = _plan_or_404(request, plan_id)
    return _validated(services.review_call_plan, plan, payload.dict(), user=request.user)


# ---- business case ----------------------------------------------------------------------------------


class BusinessCaseIn(Schema):
    investment: Money
    period: Literal["month", "quarter", "year"]
    benefits: list[Decimal] = Field(min_length=1, max_length=120, description="Net benefit of each period, in order")
    risk_share: Decimal = Field(Decimal(0), ge=0, le=100, description="Share of our fees at risk, %")
    leading_indicators: list[Annotated[str, Field(max_length=COMMENT_MAX)]] = Field(default_factory=list, max_length=50)
    assumptions: Note = ""


class BusinessCaseOut(Schema):
    opportunity_id: int
    currency: str
    investment: Decimal
    period: str
    benefits: list[Decimal]
    cumulative: list[Decimal]
    total_benefit: Decimal
    net_return: Decimal
    roi: Decimal | None
    first_return_period: int | None
    payback_periods: Decimal | None
    risk_share: Decimal
    fees_at_risk: Decimal | None
    leading_indicators: list[str]
    assumptions: str


def _case_out(case) -> dict:
    f = selectors.business_case_figures(case)
    return {"opportunity_id": case.opportunity_id, "currency": case.currency, "investment": case.investment, "period": case.period,
            "benefits": f.benefits, "cumulative": f.cumulative, "total_benefit": f.total_benefit, "net_return": f.net_return,
            "roi": f.roi, "first_return_period": f.first_return_period, "payback_periods": f.payback_periods,
            "risk_share": case.risk_share, "fees_at_risk": f.fees_at_risk,
            "leading_indicators": [i for i in case.leading_indicators.splitlines() if i.strip()], "assumptions": case.assumptions}


@router.get("/opportunities/{pk}/business-case", response=BusinessCaseOut)
def get_business_case(request, pk: int):
    case = selectors.business_case_of(_deal(request, pk))
    if case is None:
        raise HttpError(404, "No business case for this opportunity yet")
    return _case_out(case)


@router.put("/opportunities/{pk}/business-case", response=BusinessCaseOut)
def put_business_case(request, pk: int, payload: BusinessCaseIn):
    """Create or replace the business case: investment, benefits per period, risk share, indicators."""
    opportunity = _deal(request, pk)
    if any(abs(b) >= Decimal("1e15") for b in payload.benefits):
        raise HttpError(400, "a benefit is too large")
    data = payload.dict()
    data["benefits"] = [b.quantize(Decimal("0.01")) for b in payload.benefits]
    data["leading_indicators"] = "\n".join(i.strip().replace("\n", " ") for i in payload.leading_indicators if i.strip())
    return _case_out(_validated(services.save_business_case, opportunity, data, user=request.user))
