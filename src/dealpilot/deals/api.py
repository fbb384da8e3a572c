"""The Deal intelligence API: a ninja router mounted at /api/deals/ (see dealpilot/api.py).

A deal the caller may not see is a 404, like one that does not exist. Editing the rules and
training the model are for sales leaders and administrators (others get 404 too)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate

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
    answers: dict[str, str] = Field(description='Question key -> answer ("" clears it)')


class RulesIn(Schema):
    yaml: str = Field(max_length=256 * 1024)


class RulesOut(Schema):
    yaml: str


class ModelOut(Schema):
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


@router.get("/model", response=ModelOut)
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
