"""The Account planning API: a ninja router mounted at /api/planning/ (see dealpilot/api.py).

Accounts go through `visible_to(request.user)`: an id the caller may not see answers 404, like an
id that does not exist. The scoring model is read by any sales user and written by leaders and
admins (others get 404, as on the pages)."""


from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate

from . import selectors, services
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


class LevelIn(Schema):
    level: str
    label: str
    points: float
    definition: str = ""
    min: float | None = None
    max: float | None = None


class ElementIn(Schema):
    key: str
    axis: Literal["current", "future"]
    name: str
    description: str = ""
    kind: Literal["computed", "rated"]
    metric: str = ""
    weight: float
    levels: list[LevelIn]


class ModelIn(Schema):
    name: str
    description: str = ""
    thresholds: dict[str, float | Literal["median"]] = Field(default_factory=lambda: {"current": "median", "future": "median"})
    revenue_window_days: int = 365
    elements: list[ElementIn]


class ModelOut(ModelIn):
    pass


@router.get("/scoring-model", response={200: ModelOut, 404: NotFound})
def get_scoring_model(request):
    _sales_user(request)
    return services.active_spec().model_dump()


@router.put("/scoring-model", response={200: ModelOut, 400: Problem, 404: NotFound})
def put_scoring_model(request, body: ModelIn):
    if not services.can_edit_model(request.user):
        raise HttpError(404, "Not found")
    try:
        spec = parse_spec(body.dict())
    except SpecError as exc:
        return 400, {"detail": str(exc)}
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


class PriorityQuery(Schema):
    quadrant: Literal["", "A", "B", "C", "D"] = ""
    q: str = ""
    owner: int | None = None
    industry: str = ""
    region: str = ""
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


class RatingIn(Schema):
    level: str = Field(description="One of the element's levels; empty removes the rating")
    note: str = ""


@router.put("/accounts/{account_id}/ratings/{element_key}", response={200: AccountScoreOut, 400: Problem, 404: NotFound})
def put_rating(request, account_id: int, element_key: str, body: RatingIn):
    account = _account(request, account_id)
    try:
        services.rate_account(request.user, account.pk, element_key, body.level, body.note)
    except SpecError as exc:
        return 400, {"detail": str(exc)}
    return selectors.account_score(account)


@router.delete("/accounts/{account_id}/ratings/{element_key}", response={200: AccountScoreOut, 400: Problem, 404: NotFound})
def delete_rating(request, account_id: int, element_key: str):
    account = _account(request, account_id)
    try:
        services.rate_account(request.user, account.pk, element_key, "")
    except SpecError as exc:
        return 400, {"detail": str(exc)}
    return selectors.account_score(account)
