"""The Deal intelligence API: a ninja router mounted at /api/deals/ (see dealpilot/api.py).

A deal the caller may not see is a 404, like one that does not exist. Editing the rules and
training the model are for sales leaders and administrators (others get 404 too). Guided selling:
the stages' exit criteria are edited by sales leaders (others 403); a deal's checklist ticks and
mutual plan by whoever may edit the deal (a read-only role gets 403)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.db import transaction
from django.http import HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict

from dealpilot.api_types import Code, Day, Line, Money, Name, Note, RecordId
from dealpilot.concurrency import Conflict, etag, if_match
from dealpilot.pagination import Pages as PageNumberPagination  # the page number bounded
from dealpilot.validation import COMMENT_MAX, LINE_MAX, NOTE_MAX, STAGE_MAX, YAML_MAX

from dealpilot.web.access import can_run_imports

from . import guided, selectors, services
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


# ---- guided selling: the stages' exit criteria ---------------------------------------------------------


class Problem(Schema):
    detail: str


def _may_edit(request):
    """A deal the caller sees but whose role only reads (403, after the 404 of visibility)."""
    if not selectors.may_edit(request.user):
        raise HttpError(403, "Your role reads deals; it does not change them.")


class ExitCriterionIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    label: str = Field(min_length=1, max_length=LINE_MAX)
    question: Code = Field("", description="A qualification question key whose answer checks it; empty: ticked by hand on the deal")
    answers: list[Code] = Field(default_factory=list, max_length=guided.MAX_ANSWERS,
                                description="The answers that meet it (empty: yes, for a yes/no question)")


class ExitStageIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    name: str = Field(min_length=1, max_length=STAGE_MAX, description="As the CRM names it (matched without case)")
    enforce: bool = Field(False, description="Refuse a move past open criteria instead of asking for a reason")
    exit_criteria: list[ExitCriterionIn] = Field(default_factory=list, max_length=guided.MAX_CRITERIA)


class ExitStagesIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    stages: list[ExitStageIn] = Field(max_length=guided.MAX_STAGES, description="The sales process in order")


class ExitCriterionOut(Schema):
    id: int
    label: str
    question: str
    answers: list[str]


class ExitStageOut(Schema):
    id: int
    position: int
    name: str
    enforce: bool
    exit_criteria: list[ExitCriterionOut]


class ExitStagesOut(Schema):
    stages: list[ExitStageOut]


def _stages_out() -> dict:
    return {"stages": [{**d, "position": i} for i, d in enumerate(guided.stage_documents(), start=1)]}


@router.get("/stages", response=ExitStagesOut)
def exit_stages(request):
    """The stages in order with their exit criteria (everyone reads them)."""
    return _stages_out()


@router.put("/stages", response={200: ExitStagesOut, 403: Problem})
def replace_exit_stages(request, payload: ExitStagesIn):
    """Replace the stages and their criteria, all or nothing (sales leaders and administrators; others 403).
    A stage keeps its rows while its name stays, a criterion (and its ticks on deals) while its label stays."""
    if not can_run_imports(request.user):
        raise HttpError(403, "Sales leaders and administrators edit the stages.")
    try:
        guided.replace_stages(payload.dict()["stages"], user=request.user)
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from None
    return _stages_out()


class CriterionStateOut(Schema):
    criterion_id: int
    stage: str
    label: str
    done: bool
    auto: bool = Field(description="Checked by a qualification answer (else ticked by hand)")
    question: str = Field(description="The question's text, when an answer checks it")
    answer: str
    checked_by: str
    checked_at: datetime | None


class UnmetOut(Schema):
    stage: str
    label: str


class StageOverrideOut(Schema):
    from_stage: str
    to_stage: str
    unmet: list[UnmetOut]
    reason: str
    overridden_by: str
    overridden_at: datetime


class DealChecklistOut(Schema):
    opportunity_id: int
    stage: str
    in_order: bool = Field(description="The deal's stage is one of the configured stages (else moves from it are not checked)")
    enforce: bool
    next_stage: str
    criteria: list[CriterionStateOut]
    overrides: list[StageOverrideOut] = Field(description="Moves past open criteria, with the reason given (newest first)")


class CriterionTickIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    criterion_id: RecordId
    done: bool = Field(description="true ticks it, false unticks it")


def _checklist_out(opportunity) -> dict:
    c = guided.stage_checklist(opportunity)
    return {"opportunity_id": opportunity.pk, "stage": c.stage_name, "in_order": c.stage is not None,
            "enforce": bool(c.stage and c.stage.enforce), "next_stage": c.next_stage,
            "criteria": [{"criterion_id": i.criterion.pk, "stage": i.stage, "label": i.criterion.label, "done": i.done, "auto": i.auto,
                          "question": i.question, "answer": i.answer, "checked_by": i.checked_by, "checked_at": i.checked_at}
                         for i in c.items],
            "overrides": [{"from_stage": o.from_stage, "to_stage": o.to_stage, "unmet": o.unmet, "reason": o.reason,
                           "overridden_by": str(o.overridden_by or ""), "overridden_at": o.overridden_at} for o in c.overrides]}


@router.get("/opportunities/{pk}/exit-criteria", response=DealChecklistOut)
def deal_exit_criteria(request, pk: int):
    """The exit criteria of the deal's stage, met or open (and how), and the moves made past open ones."""
    return _checklist_out(_deal(request, pk))


@router.post("/opportunities/{pk}/exit-criteria", response={200: DealChecklistOut, 403: Problem})
def tick_exit_criterion(request, pk: int, payload: CriterionTickIn):
    """Tick or untick a criterion checked by hand (whoever may edit the deal); one an answer checks is a 400."""
    opportunity = _deal(request, pk)
    _may_edit(request)
    try:
        guided.tick_criterion(request.user, opportunity, payload.criterion_id, payload.done)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return _checklist_out(opportunity)


# ---- guided selling: the mutual action plan ---------------------------------------------------------------


class MutualStepIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    title: str = Field(min_length=1, max_length=LINE_MAX, description="What is to be done")
    side: Literal["seller", "buyer"] = "seller"
    seller_id: RecordId | None = Field(None, description="Our side: the dealpilot user who owns it")
    buyer_id: RecordId | None = Field(None, description="The buyer's side: a contact of the deal's account who owns it")
    owner_name: Name = Field("", description="Or the owner's name (either side), when not a user or a contact")
    due_date: Day
    internal_note: Note = Field("", description="For our side only: never in the exports")
    position: int | None = Field(None, ge=1, le=services.MAX_PLAN_STEPS, description="1-based; default: at the end")
    done: bool = False


class MutualStepPatchIn(Schema):
    """The fields to change (others stay). `done` ticks or unticks the step, `position` moves it."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=LINE_MAX)
    side: Literal["seller", "buyer"] | None = None
    seller_id: RecordId | None = None
    buyer_id: RecordId | None = None
    owner_name: Name | None = None
    due_date: Day | None = None
    internal_note: Note | None = None
    position: int | None = Field(None, ge=1, le=services.MAX_PLAN_STEPS)
    done: bool | None = None


class MutualStepOut(Schema):
    id: int
    position: int
    title: str
    side: str
    seller_id: int | None
    buyer_id: int | None
    owner: str = Field(description="The owner as shown: the user's or contact's name, or the name typed")
    owner_name: str
    due_date: date
    first_due: date = Field(description="The due date first agreed")
    moved_days: int = Field(description="Days the due date moved since first agreed (+ later)")
    done: bool
    done_at: datetime | None
    done_by: str
    overdue: bool
    days_late: int = Field(description="Open: days past due; done: days it was done after its due date")
    internal_note: str


class MutualPlanOut(Schema):
    opportunity_id: int
    version: int = Field(description="The whole plan's; send it back as If-Match: \"<version>\" with a change (also the ETag header)")
    as_of: date
    first_end: date | None = Field(description="The plan's end when first set")
    end: date | None = Field(description="The latest due date now")
    end_moved_days: int | None
    steps_done: int
    steps_overdue: int
    steps: list[MutualStepOut]


def _plan_out(opportunity, response: HttpResponse | None = None) -> dict:
    view = selectors.mutual_plan_of(opportunity)
    if response is not None:
        response["ETag"] = etag(view.version)
    return {"opportunity_id": opportunity.pk, "version": view.version, "as_of": view.as_of, "first_end": view.first_end,
            "end": view.end, "end_moved_days": view.end_moved_days, "steps_done": view.done, "steps_overdue": view.overdue,
            "steps": [{"id": s.step.pk, "position": s.step.position, "title": s.step.title, "side": s.step.side,
                       "seller_id": s.step.seller_id, "buyer_id": s.step.buyer_id, "owner": s.step.owner_label,
                       "owner_name": s.step.owner_name, "due_date": s.step.due_date, "first_due": s.step.first_due,
                       "moved_days": s.moved_days, "done": s.done, "done_at": s.step.done_at,
                       "done_by": str(s.step.done_by or ""), "overdue": s.overdue, "days_late": s.days_late,
                       "internal_note": s.step.internal_note} for s in view.steps]}


def _step_or_404(request, step_id: int):
    step = selectors.visible_plan_step(request.user, step_id)
    if step is None:
        raise HttpError(404, f"Mutual plan step {step_id} not found")
    return step


@router.get("/opportunities/{pk}/mutual-plan", response=MutualPlanOut)
def get_mutual_plan(request, pk: int, response: HttpResponse):
    """The deal's mutual action plan: the steps both sides agreed, their owners and dates, with the
    slippage (overdue steps, days late, how far each due date and the plan's end moved)."""
    return _plan_out(_deal(request, pk), response)


@router.post("/opportunities/{pk}/mutual-plan/steps", response={201: MutualPlanOut, 403: Problem, 409: Conflict})
def add_mutual_plan_step(request, pk: int, payload: MutualStepIn, response: HttpResponse):
    """Add a step (whoever may edit the deal). With If-Match, refused (409) when the plan changed since."""
    opportunity = _deal(request, pk)
    _may_edit(request)
    try:
        services.add_plan_step(request.user, opportunity, payload.dict(), expected_version=if_match(request))
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, _plan_out(opportunity, response))


@router.patch("/plan-steps/{step_id}", response={200: MutualPlanOut, 403: Problem, 409: Conflict})
def patch_mutual_plan_step(request, step_id: int, payload: MutualStepPatchIn, response: HttpResponse):
    """Change a step: its fields, `done` (tick / untick), `position` (move). A new due date keeps the first agreed one."""
    step = _step_or_404(request, step_id)
    _may_edit(request)
    try:
        services.update_plan_step(request.user, step, payload.dict(exclude_unset=True), expected_version=if_match(request))
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return _plan_out(step.plan.opportunity, response)


@router.delete("/plan-steps/{step_id}", response={200: MutualPlanOut, 403: Problem, 409: Conflict})
def delete_mutual_plan_step(request, step_id: int, response: HttpResponse):
    """Delete a step (whoever may edit the deal)."""
    step = _step_or_404(request, step_id)
    _may_edit(request)
    services.delete_plan_step(request.user, step, expected_version=if_match(request))
    return _plan_out(step.plan.opportunity, response)


# ---- win/loss analysis (deals.winloss) ------------------------------------------------------------------------

WinLossDimension = Literal["stage_reached", "segment", "product", "competitor", "size", "rep", "reasons"]


class ReasonCountOut(Schema):
    reason: str
    deals: int


class WinLossGroupOut(Schema):
    group: str
    won: int
    lost: int
    closed: int = Field(description="The sample size: closed deals in the group")
    win_rate: float | None
    win_rate_low: float | None = Field(description="95% Wilson interval, lower end")
    win_rate_high: float | None = Field(description="95% Wilson interval, upper end")
    small_sample: bool = Field(description="Fewer closed deals than min_sample: too few to tell")
    caveat: str
    top_lost_reasons: list[ReasonCountOut]
    top_win_reasons: list[ReasonCountOut] = Field(description="Close comments of won deals (free text)")


class WinLossReasonOut(Schema):
    kind: Literal["lost", "won"]
    reason: str
    deals: int
    share: float | None = Field(description="Of the lost (or won) deals")
    of: int
    small_sample: bool


class WinLossOut(Schema):
    dimension: str
    label: str
    start: date | None
    end: date | None
    won: int
    lost: int
    closed: int
    win_rate: float | None
    win_rate_low: float | None
    win_rate_high: float | None
    small_sample: bool
    min_sample: int
    caveats: list[str]
    rows: list[WinLossGroupOut | WinLossReasonOut] = Field(description="Groups; for dimension=reasons, one row per reason")


@router.get("/win-loss", response=WinLossOut)
def win_loss(request, dimension: WinLossDimension, start: Day | None = None, end: Day | None = None):
    """How the closed deals you can see ended (closed between start and end), by stage reached, segment, product,
    competitor, deal size or rep, with sample sizes, 95% intervals and the caveats; or the lost and win reasons."""
    from .winloss import win_loss_breakdown

    if start and end and end < start:
        raise HttpError(400, "end is before start")
    return win_loss_breakdown(request.user, dimension, start, end)


class KnowledgeRefOut(Schema):
    id: int
    title: str
    created_at: datetime


class SimilarDealOut(Schema):
    id: int
    name: str
    account: str
    owner: str
    outcome: Literal["won", "lost"]
    amount: Decimal | None
    currency: str
    close_date: date | None
    lost_reason: str
    competitor: str
    close_comment: str
    knowledge: list[KnowledgeRefOut] = Field(description="Win/loss analyses written about the deal")


class SimilarDealsOut(Schema):
    opportunity_id: int
    criteria: list[str] = Field(description="The criteria the deals match")
    relaxed: list[str] = Field(description="Criteria dropped because too few deals matched them all")
    not_applicable: list[str] = Field(description="Criteria this deal has no value for")
    segment: str
    size_band: str
    competitor: str
    matched: int
    won: int
    lost: int
    win_rate: float | None
    win_rate_low: float | None
    win_rate_high: float | None
    small_sample: bool
    top_lost_reasons: list[ReasonCountOut]
    deals: list[SimilarDealOut]


@router.get("/opportunities/{pk}/similar", response=SimilarDealsOut)
def similar_deals(request, pk: int, limit: Annotated[int, Field(ge=1, le=50)] = 10):
    """Closed deals like this one (same segment, deal size, competitor, stage path; relaxed when too few match),
    how they ended and why, with the win/loss analyses written about them."""
    from .winloss import deals_like_this

    return deals_like_this(request.user, _deal(request, pk), limit)
