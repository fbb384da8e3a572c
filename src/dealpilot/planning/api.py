"""The Account planning API: a ninja router mounted at /api/planning/ (see dealpilot/api.py).

Accounts go through `visible_to(request.user)`: an id the caller may not see answers 404, like an
id that does not exist. The scoring model is read by any sales user and written by leaders and
admins (others get 404, as on the pages)."""


from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from dealpilot.api_types import Code, Comment, Day, Line, Money, Name, Note, RecordId, SearchText, Short
from dealpilot.pagination import Pages as PageNumberPagination  # the page number bounded
from dealpilot.validation import STAGE_MAX

from dealpilot.concurrency import Conflict, etag, if_match
from dealpilot.history.schemas import HistoryOut, history_out
from dealpilot.recycle_bin.api import BinEntryOut, deleted_answer

from . import selectors, services
from .models import AccountPlan
from .scoring import SpecError, parse_spec

router = Router(tags=["planning"])


class Pages(PageNumberPagination):
    def __init__(self, **kwargs):
        super().__init__(page_size=50, max_page_size=1000, **kwargs)


class NotFound(Schema):
    detail: str


class Problem(Schema):
    detail: str


def _sales_user(request) -> None:
    user = request.user
    if user.role == "enablement" and not user.sees_everything:
        raise HttpError(404, "Not found")


def _account(request, account_id: int):
    _sales_user(request)
    try:
        return services.visible_account(request.user, account_id)
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None


# ---- scoring model ---------------------------------------------------------------------------------


# The texts' limits here are the API's outer bounds; the scoring model's own (planning/scoring.py, some
# narrower) then answer 400 with the reason.
class LevelIn(Schema):
    level: Code
    label: Code
    points: float
    definition: Note = ""
    min: float | None = None
    max: float | None = None


class ElementIn(Schema):
    key: Code
    axis: Literal["current", "future"]
    name: Name
    description: Note = ""
    kind: Literal["computed", "rated"]
    metric: Code = ""
    weight: float
    levels: list[LevelIn]


class ScoringModelIn(Schema):
    name: Name
    description: Note = ""
    thresholds: dict[Code, float | Literal["median"]] = Field(default_factory=lambda: {"current": "median", "future": "median"})
    revenue_window_days: int = Field(365, ge=1, le=3650)
    elements: list[ElementIn]


class ScoringModelOut(ScoringModelIn):
    pass


@router.get("/scoring-model", response={200: ScoringModelOut, 404: NotFound})
def get_scoring_model(request):
    _sales_user(request)
    return services.active_spec().model_dump()


@router.put("/scoring-model", response={200: ScoringModelOut, 400: Problem, 404: NotFound})
def put_scoring_model(request, body: ScoringModelIn):
    if not services.can_edit_model(request.user):
        raise HttpError(404, "Not found")
    try:
        spec = parse_spec(body.dict())
    except SpecError as exc:
        return Status(400, {"detail": str(exc)})
    services.save_spec(request.user, spec)
    return services.active_spec().model_dump()


# ---- priorities and scores -------------------------------------------------------------------------


class PriorityOut(Schema):
    rank: int
    account_id: int
    account: str
    owner: str
    industry: str
    region: str
    currency: str
    current_score: float
    future_score: float
    quadrant: Literal["A", "B", "C", "D"]
    treatment: str
    won_revenue: float
    open_pipeline: float
    has_plan: bool


class PriorityQuery(Schema):
    quadrant: Literal["", "A", "B", "C", "D"] = ""
    q: SearchText = ""
    owner: RecordId | None = None
    industry: SearchText = ""
    region: SearchText = ""
    sort: Literal[tuple(selectors.PRIORITY_SORTS)] = "priority"  # type: ignore[valid-type]


@router.get("/priorities", response=list[PriorityOut])
@paginate(Pages)
def list_priorities(request, filters: Query[PriorityQuery]):
    _sales_user(request)
    return selectors.priority_rows(request.user, selectors.PriorityFilters(**filters.dict()))


class ElementScoreOut(Schema):
    key: str
    axis: str
    name: str
    kind: str
    metric: str
    value: float | None
    level: str
    level_label: str
    definition: str
    points: float
    weight: float
    contribution: float
    rated_by: str
    rated_at: datetime | None
    note: str


class AccountScoreOut(Schema):
    account_id: int
    account: str
    current_score: float
    future_score: float
    current_threshold: float
    future_threshold: float
    quadrant: Literal["A", "B", "C", "D"]
    quadrant_meaning: str
    treatment: str
    won_revenue: float
    open_pipeline: float
    model: str
    elements: list[ElementScoreOut]


@router.get("/accounts/{account_id}/score", response={200: AccountScoreOut, 404: NotFound})
def get_account_score(request, account_id: int):
    return selectors.account_score(_account(request, account_id))


class AccountRatingIn(Schema):
    level: Code = Field(description="One of the element's levels; empty removes the rating")
    note: Note = ""


@router.put("/accounts/{account_id}/ratings/{element_key}", response={200: AccountScoreOut, 400: Problem, 404: NotFound})
def put_rating(request, account_id: int, element_key: str, body: AccountRatingIn):
    account = _account(request, account_id)
    try:
        services.rate_account(request.user, account.pk, element_key, body.level, body.note)
    except SpecError as exc:
        return Status(400, {"detail": str(exc)})
    return selectors.account_score(account)


@router.delete("/accounts/{account_id}/ratings/{element_key}", response={200: AccountScoreOut, 400: Problem, 404: NotFound})
def delete_rating(request, account_id: int, element_key: str):
    account = _account(request, account_id)
    try:
        services.rate_account(request.user, account.pk, element_key, "")
    except SpecError as exc:
        return Status(400, {"detail": str(exc)})
    return selectors.account_score(account)


# ---- account plans ---------------------------------------------------------------------------------


def _plan(request, account_id: int) -> AccountPlan:
    _account(request, account_id)
    try:
        return services.visible_plan(request.user, account_id)
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None


def _run(call):
    """A service call; bad input is a 400, something not visible a 404."""
    try:
        return call()
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except (ValueError, SpecError) as exc:
        raise HttpError(400, str(exc)) from None


class ActionOut(Schema):
    id: int
    title: str
    owner_id: int | None
    due_date: date | None
    status: str


class StrategyOut(Schema):
    id: int
    text: str
    actions: list[ActionOut]

    @staticmethod
    def resolve_actions(obj):
        return list(obj.actions.all())


class ObjectiveOut(Schema):
    id: int
    kind: str
    unit_id: int | None
    title: str
    target_amount: Decimal | None
    strategies: list[StrategyOut]

    @staticmethod
    def resolve_strategies(obj):
        return list(obj.strategies.all())


class UnitOut(Schema):
    id: int
    plan_unit_id: int
    name: str
    strategic: bool
    goals: str
    pressures: str
    initiatives: str
    obstacles: str

    @staticmethod
    def resolve_name(obj):
        return obj.plan_unit.name


class ResearchOut(Schema):
    id: int
    area: str
    text: str
    author_id: int | None
    created_at: datetime


class CheckOut(Schema):
    section: str
    done: bool
    missing: str


class CompletenessOut(Schema):
    percent: int
    done: int
    total: int
    checks: list[CheckOut]
    missing: list[str]


class RevenueObjectiveOut(Schema):
    objective_id: int
    title: str
    unit: str
    target: Decimal | None
    current: Decimal


class ScorecardOut(Schema):
    currency: str
    target_revenue: Decimal
    won_revenue: Decimal
    revenue_attainment: float | None
    pipeline_goal: Decimal | None
    open_pipeline: Decimal
    pipeline_coverage: float | None
    revenue_objectives: list[RevenueObjectiveOut]
    strategic_units: int
    strategic_units_penetrated: int
    penetration: float | None
    actions: int
    actions_done: int
    actions_overdue: int


class PlanOut(Schema):
    id: int
    account_id: int
    version: int = Field(description="The whole plan's; send it back as If-Match: \"<version>\" with a change (also the ETag header)")
    title: str
    period_start: date
    period_end: date
    review_date: date | None
    pipeline_goal: Decimal | None
    currency: str
    summary: str
    units: list[UnitOut]
    research: list[ResearchOut]
    objectives: list[ObjectiveOut]
    completeness: CompletenessOut
    scorecard: ScorecardOut


def _plan_out(request, account_id: int, response: HttpResponse) -> dict:
    plan = _plan(request, account_id)
    d = selectors.plan_detail(request.user, plan)
    p = d["plan"]
    response["ETag"] = etag(p.version)
    return {**{f: getattr(p, f) for f in ("id", "account_id", "version", "title", "period_start", "period_end", "review_date",
                                          "pipeline_goal", "currency", "summary")},
            "units": d["units"], "research": list(p.research.all()), "objectives": d["objectives"],
            "completeness": d["completeness"], "scorecard": d["scorecard"]}


class PlanCreateIn(Schema):
    title: Name = ""
    period_start: Day | None = None
    period_end: Day | None = None


class PlanPatchIn(Schema):
    title: Name | None = None
    period_start: Day | None = None
    period_end: Day | None = None
    review_date: Day | None = None
    pipeline_goal: Money | None = None
    summary: Note | None = None


class UnitIn(Schema):
    plan_unit_id: RecordId
    strategic: bool = False


class UnitPatchIn(Schema):
    strategic: bool | None = None
    goals: Note | None = None
    pressures: Note | None = None
    initiatives: Note | None = None
    obstacles: Note | None = None


class ResearchIn(Schema):
    area: Literal["customer", "competitor", "company"]
    text: Note


class ObjectiveIn(Schema):
    kind: Literal["revenue", "business_development", "account"]
    title: Short
    unit_id: RecordId | None = None
    target_amount: Money | None = None


class StrategyIn(Schema):
    text: Comment


class ActionIn(Schema):
    title: Short
    owner_id: RecordId | None = None
    due_date: Day | None = None


class ActionPatchIn(Schema):
    status: Literal["open", "in_progress", "done", "cancelled"] | None = None
    due_date: Day | None = None
    owner_id: RecordId | None = None


# Every write under /accounts/{account_id}/plan (the plan, its units, research, objectives, strategies
# and actions) checks If-Match against the whole plan's version when the caller sends one (409 if
# someone changed the plan since) and bumps it; without If-Match the write is accepted. Comments
# are a discussion feed, not the plan's content: they neither check nor bump it.
PLAN_RESPONSES = {200: PlanOut, 400: Problem, 404: NotFound, 409: Conflict}


@router.get("/accounts/{account_id}/plan", response={200: PlanOut, 404: NotFound})
def get_plan(request, account_id: int, response: HttpResponse):
    return _plan_out(request, account_id, response)


@router.post("/accounts/{account_id}/plan", response={201: PlanOut, 400: Problem, 404: NotFound})
def create_plan(request, account_id: int, body: PlanCreateIn, response: HttpResponse):
    _account(request, account_id)
    _run(lambda: services.create_plan(request.user, account_id, **body.dict()))
    return Status(201, _plan_out(request, account_id, response))


@router.patch("/accounts/{account_id}/plan", response=PLAN_RESPONSES)
def patch_plan(request, account_id: int, body: PlanPatchIn, response: HttpResponse):
    plan = _plan(request, account_id)
    changes = body.dict(exclude_unset=True)
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.update_plan(request.user, account_id, **changes))
    return _plan_out(request, account_id, response)


@router.delete("/accounts/{account_id}/plan", response={200: BinEntryOut, 404: NotFound})
def delete_plan(request, account_id: int):
    """Move the account's plan (with its units, objectives and actions) to the recycle bin."""
    plan = _plan(request, account_id)
    return deleted_answer(request.user, "plan", plan.pk)


@router.get("/accounts/{account_id}/plan/field-history", response={200: HistoryOut, 404: NotFound})
def plan_field_history(request, account_id: int):
    """Who changed which of the plan's fields when, newest first (`/plan/history` is the plan's event log)."""
    return history_out(_plan(request, account_id))


@router.post("/accounts/{account_id}/plan/units", response=PLAN_RESPONSES)
def add_unit(request, account_id: int, body: UnitIn, response: HttpResponse):
    plan = _plan(request, account_id)
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.add_unit(request.user, account_id, body.plan_unit_id, strategic=body.strategic))
    return _plan_out(request, account_id, response)


@router.patch("/accounts/{account_id}/plan/units/{unit_id}", response=PLAN_RESPONSES)
def patch_unit(request, account_id: int, unit_id: int, body: UnitPatchIn, response: HttpResponse):
    plan = _plan(request, account_id)
    if not plan.units.filter(pk=unit_id).exists():
        raise HttpError(404, f"Unit {unit_id} not found")
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.update_unit(request.user, unit_id, **body.dict(exclude_unset=True)))
    return _plan_out(request, account_id, response)


@router.delete("/accounts/{account_id}/plan/units/{unit_id}", response=PLAN_RESPONSES)
def delete_unit(request, account_id: int, unit_id: int, response: HttpResponse):
    plan = _plan(request, account_id)
    if not plan.units.filter(pk=unit_id).exists():
        raise HttpError(404, f"Unit {unit_id} not found")
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.remove_unit(request.user, unit_id))
    return _plan_out(request, account_id, response)


@router.post("/accounts/{account_id}/plan/research", response=PLAN_RESPONSES)
def add_research(request, account_id: int, body: ResearchIn, response: HttpResponse):
    plan = _plan(request, account_id)
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.add_research(request.user, account_id, body.area, body.text))
    return _plan_out(request, account_id, response)


@router.post("/accounts/{account_id}/plan/objectives", response=PLAN_RESPONSES)
def add_objective(request, account_id: int, body: ObjectiveIn, response: HttpResponse):
    plan = _plan(request, account_id)
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.add_objective(request.user, account_id, body.kind, body.title, unit_id=body.unit_id,
                                            target_amount=body.target_amount))
    return _plan_out(request, account_id, response)


@router.post("/accounts/{account_id}/plan/objectives/{objective_id}/strategies", response=PLAN_RESPONSES)
def add_strategy(request, account_id: int, objective_id: int, body: StrategyIn, response: HttpResponse):
    plan = _plan(request, account_id)
    if not plan.objectives.filter(pk=objective_id).exists():
        raise HttpError(404, f"Objective {objective_id} not found")
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.add_strategy(request.user, objective_id, body.text))
    return _plan_out(request, account_id, response)


@router.post("/accounts/{account_id}/plan/strategies/{strategy_id}/actions", response=PLAN_RESPONSES)
def add_action(request, account_id: int, strategy_id: int, body: ActionIn, response: HttpResponse):
    plan = _plan(request, account_id)
    if not services.Strategy.objects.filter(pk=strategy_id, objective__plan=plan).exists():
        raise HttpError(404, f"Strategy {strategy_id} not found")
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.add_action(request.user, strategy_id, body.title, owner_id=body.owner_id, due_date=body.due_date))
    return _plan_out(request, account_id, response)


@router.patch("/accounts/{account_id}/plan/actions/{action_id}", response=PLAN_RESPONSES)
def patch_action(request, account_id: int, action_id: int, body: ActionPatchIn, response: HttpResponse):
    plan = _plan(request, account_id)
    if not services.Action.objects.filter(pk=action_id, strategy__objective__plan=plan).exists():
        raise HttpError(404, f"Action {action_id} not found")
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.update_action(request.user, action_id, **body.dict(exclude_unset=True)))
    return _plan_out(request, account_id, response)


@router.delete("/accounts/{account_id}/plan/{kind}/{item_id}", response=PLAN_RESPONSES)
def delete_item(request, account_id: int, kind: Literal["research", "objective", "strategy", "action"], item_id: int,
                response: HttpResponse):
    plan = _plan(request, account_id)
    owned = {"research": services.ResearchNote.objects.filter(plan=plan),
             "objective": services.Objective.objects.filter(plan=plan),
             "strategy": services.Strategy.objects.filter(objective__plan=plan),
             "action": services.Action.objects.filter(strategy__objective__plan=plan)}[kind]
    if not owned.filter(pk=item_id).exists():
        raise HttpError(404, f"{kind.title()} {item_id} not found")
    with services.plan_change(plan, if_match(request)):
        _run(lambda: services.delete_plan_item(request.user, kind, item_id))
    return _plan_out(request, account_id, response)


# ---- people and influence, white space, account leads ---------------------------------------------------


class PlanPersonOut(Schema):
    id: int
    name: str
    title: str
    unit: str
    reports_to_id: int | None
    has_left: bool
    decision_role: str
    role_from: str
    power: str
    attitude: str
    decision_style: str
    key_person: bool
    last_contact: date | None
    days_since_contact: int | None
    last_direction: str
    last_by: str
    client_initiated_share: float | None
    lapsed: bool


class InfluenceOut(Schema):
    id: int
    source_id: int
    target_id: int
    note: str


class PeopleOut(Schema):
    people: list[PlanPersonOut]
    influences: list[InfluenceOut]
    gaps: list[str]
    alerts: list[str]
    days_since_contact: int | None


class ProfileIn(Schema):
    decision_role: Code = ""
    power: Literal["", "high", "medium", "low"] = ""
    attitude: Literal["", "champion", "supporter", "neutral", "sceptic", "opponent"] = ""
    decision_style: Literal["", "analytical", "driver", "amiable", "expressive"] = ""
    key_person: bool = False


class InfluenceIn(Schema):
    source_id: RecordId
    target_id: RecordId
    note: Short = ""


PEOPLE_RESPONSES = {200: PeopleOut, 400: Problem, 404: NotFound}


@router.get("/accounts/{account_id}/people", response={200: PeopleOut, 404: NotFound})
def get_people(request, account_id: int):
    return selectors.people_map(_account(request, account_id))


@router.put("/accounts/{account_id}/people/{contact_id}", response=PEOPLE_RESPONSES)
def put_profile(request, account_id: int, contact_id: int, body: ProfileIn):
    account = _account(request, account_id)
    _run(lambda: services.update_profile(request.user, account_id, contact_id, **body.dict()))
    return selectors.people_map(account)


@router.post("/accounts/{account_id}/influences", response=PEOPLE_RESPONSES)
def post_influence(request, account_id: int, body: InfluenceIn):
    account = _account(request, account_id)
    _run(lambda: services.add_influence(request.user, account_id, body.source_id, body.target_id, body.note))
    return selectors.people_map(account)


@router.delete("/accounts/{account_id}/influences/{influence_id}", response=PEOPLE_RESPONSES)
def delete_influence(request, account_id: int, influence_id: int):
    account = _account(request, account_id)
    _run(lambda: services.remove_influence(request.user, account_id, influence_id))
    return selectors.people_map(account)


class CellOut(Schema):
    unit_id: int
    product_id: int
    product_name: str
    status: str
    computed: str
    manual: bool
    note: str


class WhiteSpaceRowOut(Schema):
    unit_id: int
    unit: str
    cells: list[CellOut]


class LeadOut(Schema):
    id: int
    title: str
    description: str
    status: str
    plan_unit_id: int | None
    product_id: int | None
    opportunity_id: int | None
    created_at: datetime


class WhiteSpaceOut(Schema):
    rows: list[WhiteSpaceRowOut]
    leads: list[LeadOut]


def _white_space_out(account) -> dict:
    d = selectors.white_space(account)
    return {"rows": [{"unit_id": r["unit"].pk, "unit": r["unit"].name, "cells": r["cells"]} for r in d["rows"]], "leads": d["leads"]}


class CellIn(Schema):
    plan_unit_id: RecordId
    product_id: RecordId
    status: Literal["", "sold", "in_pursuit", "potential", "white_space", "not_applicable"]
    note: Short = ""


class LeadIn(Schema):
    title: Line = ""
    description: Note = ""
    plan_unit_id: RecordId | None = None
    product_id: RecordId | None = None


class ConvertIn(Schema):
    amount: Money | None = None
    close_date: Day | None = None
    stage: str = Field("Prospecting", max_length=STAGE_MAX)


class ConvertedOut(Schema):
    opportunity_id: int
    lead: LeadOut


WHITE_SPACE_RESPONSES = {200: WhiteSpaceOut, 400: Problem, 404: NotFound}


@router.get("/accounts/{account_id}/white-space", response={200: WhiteSpaceOut, 404: NotFound})
def get_white_space(request, account_id: int):
    return _white_space_out(_account(request, account_id))


@router.put("/accounts/{account_id}/white-space", response=WHITE_SPACE_RESPONSES)
def put_cell(request, account_id: int, body: CellIn):
    account = _account(request, account_id)
    _run(lambda: services.set_cell(request.user, account_id, body.plan_unit_id, body.product_id, body.status, body.note))
    return _white_space_out(account)


@router.post("/accounts/{account_id}/leads", response=WHITE_SPACE_RESPONSES)
def post_lead(request, account_id: int, body: LeadIn):
    account = _account(request, account_id)
    _run(lambda: services.create_lead(request.user, account_id, **body.dict()))
    return _white_space_out(account)


@router.post("/leads/{lead_id}/convert", response={200: ConvertedOut, 400: Problem, 404: NotFound})
def convert_lead(request, lead_id: int, body: ConvertIn):
    _sales_user(request)
    opportunity = _run(lambda: services.convert_lead(request.user, lead_id, **body.dict()))
    return {"opportunity_id": opportunity.pk, "lead": services.AccountLead.objects.get(pk=lead_id)}


# ---- discussion and history ------------------------------------------------------------------------------


class CommentOut(Schema):
    id: int
    author_id: int | None
    author: str
    text: str
    mentions: list[str]
    created_at: datetime

    @staticmethod
    def resolve_author(obj) -> str:
        return str(obj.author) if obj.author else ""

    @staticmethod
    def resolve_mentions(obj) -> list[str]:
        return [u.username for u in obj.mentions.all()]


class CommentIn(Schema):
    text: Note


class PlanEventOut(Schema):
    summary: str
    at: datetime
    actor_id: int | None


@router.get("/accounts/{account_id}/plan/comments", response={200: list[CommentOut], 404: NotFound})
def list_comments(request, account_id: int):
    return selectors.plan_comments(_plan(request, account_id), limit=500)


@router.post("/accounts/{account_id}/plan/comments", response={201: CommentOut, 400: Problem, 404: NotFound})
def post_comment(request, account_id: int, body: CommentIn):
    _plan(request, account_id)
    return Status(201, _run(lambda: services.add_comment(request.user, account_id, body.text)))


@router.get("/accounts/{account_id}/plan/history", response={200: list[PlanEventOut], 404: NotFound})
def list_history(request, account_id: int):
    return list(_plan(request, account_id).history.all()[:500])
