"""The forecast API: a ninja router mounted at /api/forecast/ (docs/forecasting.md).

Who: a person's forecast is open to themselves, the managers above them (their team subtree), sales
leaders and admins; anyone else gets 404, as for a person who does not exist. A person submits their own
call; a manager above them, a leader or an admin overrides it (with a note). A deal's category is set by
its owner or overridden by whoever sees the deal above them (with a note). Writes take the version they
were based on as `If-Match: "<version>"` (409 when the forecast or category changed since); the GETs
send it as the ETag."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from dealpilot.api_types import Money, RecordId
from dealpilot.concurrency import Conflict, etag, if_match
from dealpilot.crm.models import Opportunity

from . import documents, selectors, services
from .changes import KINDS, SORTS, ChangesError, deal_changes
from .models import NOTE_LENGTH, OPEN_CATEGORIES
from .rollup import FIRST_DAY, LAST_DAY, Period, parse_period
from .services import ForecastError, NotVisible

router = Router(tags=["forecast"])

PERIOD_PATTERN = r"^\d{4}(-([Qq][1-4]|\d{1,2}))?$"
Note = Field("", max_length=NOTE_LENGTH, description=f"Why (at most {NOTE_LENGTH} characters)")


class ForecastProblem(Schema):
    detail: str


# ---- schemas ----------------------------------------------------------------------------------------


class ForecastPersonOut(Schema):
    id: int
    name: str
    role: str
    team: str


class ForecastPeriodOut(Schema):
    label: str
    kind: str
    start: date
    end: date


class ForecastCallOut(Schema):
    id: int
    version: int = Field(description="The forecast's version after this call")
    kind: Literal["call", "override"]
    period: str
    commit: float
    best_case: float
    currency: str
    note: str
    derived_commit: float | None = Field(description="What the deals' categories (a manager: the calls below) added up to then")
    derived_best_case: float | None
    model_expected: float | None = Field(description="The model's forecast then")
    model_p10: float | None
    model_p90: float | None
    target: float | None
    submitted_by: str
    submitted_by_id: int | None
    submitted_at: datetime
    week: date


class ForecastDerivedOut(Schema):
    won: float | None = Field(description="Won so far in the period")
    commit: float | None = Field(description="Won + commit deals (a manager: + the calls of the people and teams below)")
    best_case: float | None = Field(description="Commit + best-case deals")
    pipeline: float | None = Field(description="Best case + pipeline deals")


class ForecastModelOut(Schema):
    expected: float = Field(description="Won so far + the sum of calibrated probability x amount of the open deals closing in the period")
    p10: float = Field(description="10% of outcomes are at or below this (Poisson-binomial over the amounts)")
    p50: float
    p90: float
    won: float
    won_deals: int
    open_deals: int
    open_amount: float
    deals_without_amount: int
    range_method: Literal["exact", "grid"]
    range_resolution: float = Field(description="Money per step of the grid (0: exact)")
    probabilities: dict[str, int] = Field(description="Open deals by where their probability came from (model, rules, scored now)")


class ForecastModelRunOut(Schema):
    run: int
    trained_on: int
    tested_on: int
    trained_at: datetime | None
    auc: float | None
    ece: float | None


class ForecastHistoryOut(Schema):
    closed_deals: int = Field(description="Closed deals the probabilities learn from")
    won_deals: int
    model: ForecastModelRunOut | None
    text: str


class ForecastRowOut(Schema):
    person: ForecastPersonOut | None
    label: str
    is_team: bool = Field(description="A manager's row: their team and the teams below it")
    own_deals: bool = Field(description="The manager's own deals")
    call: ForecastCallOut | None = Field(description="The call in force: the latest override, else the person's own call")
    own_call: ForecastCallOut | None
    overridden: bool
    changed_after_override: bool
    version: int
    derived: ForecastDerivedOut
    model: ForecastModelOut
    stage_weighted: float | None
    target: float | None
    gap_to_call: float | None = Field(description="Target - the call's commit")
    gap_to_model: float | None = Field(description="Target - the model's expected forecast")
    deals: int


class ForecastOut(Schema):
    person: ForecastPersonOut
    period: ForecastPeriodOut
    week: date
    version: int = Field(description="Send it back as If-Match with a call (also the ETag header)")
    call: ForecastCallOut | None
    own_call: ForecastCallOut | None
    override: ForecastCallOut | None
    changed_after_override: bool
    derived: ForecastDerivedOut
    model: ForecastModelOut
    stage_weighted: float | None = Field(description="The stage-weighted forecast (won + open deals x their stage's probability)")
    target: float | None
    gap_to_call: float | None
    gap_to_model: float | None
    deals: int
    history: ForecastHistoryOut
    rows: list[ForecastRowOut] = Field(description="A manager's or leader's roll-up: the people and teams below")
    may_submit: bool
    may_override: bool


class ForecastDealOut(Schema):
    id: int
    name: str
    account: str
    owner: str
    owner_id: int | None
    stage: str
    amount: float | None
    currency: str
    close_date: date | None
    status: Literal["open", "won", "lost"]
    category: str
    category_label: str
    crm_category: str
    category_version: int
    category_set_by: str
    category_set_at: datetime | None
    category_note: str
    category_is_override: bool
    probability: float | None
    probability_method: str
    rep_probability: float | None


class ForecastCallIn(Schema):
    period: str | None = Field(None, max_length=12, pattern=PERIOD_PATTERN,
                               description="2026-Q4, 2026-11 or 2026 (default: this quarter)")
    commit: Money | None = Field(None, description="Default: what the categories (or the calls below) add up to")
    best_case: Money | None = None
    note: str = Note


class ForecastCategoryIn(Schema):
    category: Literal[tuple(OPEN_CATEGORIES)]  # type: ignore[valid-type]
    note: str = Note


class ForecastCategoryChangeOut(Schema):
    version: int
    category: str
    previous: str
    note: str
    is_override: bool
    changed_by: str
    changed_at: datetime


class ForecastCategoryOut(Schema):
    opportunity_id: int
    category: str
    crm_category: str
    version: int
    history: list[ForecastCategoryChangeOut]


class ForecastSnapshotOut(Schema):
    week: date
    call_commit: float | None
    call_best_case: float | None
    derived_commit: float | None
    derived_best_case: float | None
    won: float | None
    model_expected: float | None
    model_p10: float | None
    model_p50: float | None
    model_p90: float | None
    stage_weighted: float | None
    target: float | None
    open_deals: int
    won_deals: int


class ForecastChangeCount(Schema):
    kind: str
    what: str
    deals: int
    change: float | None


class ForecastTeamChanges(Schema):
    team: str
    deals: int = Field(description="Deals with at least one change")
    change: float = Field(description="Money moved in the period's forecast, all changes together")
    new: int
    won: int
    lost: int
    pushed: int
    pulled_in: int
    amount_up: int
    amount_down: int
    stage_back: int
    probability: int
    category: int


class ForecastBridgeStep(Schema):
    step: str
    kind: str
    amount: float


class ForecastChangeRow(Schema):
    kind: str
    what: str
    opportunity_id: int
    deal: str
    account: str
    owner: str
    team: str
    before: str
    after: str
    change: float | None = Field(description="Money it moves in the period's forecast (negative: out)")
    amount: float | None
    close_date: date | None
    stage: str
    source: Literal["snapshots", "stage history"]


class ForecastChangesOut(Schema):
    week: date
    since: date | None = Field(description="The earlier snapshot's week (none: read from the stage history)")
    period: str
    source: Literal["snapshots", "stage history"]
    notes: list[str]
    weeks: list[date] = Field(description="Weeks with a snapshot, latest first")
    counts: list[ForecastChangeCount]
    teams: list[ForecastTeamChanges] = Field(description="The changes per team (the deal owner's)")
    bridge: list[ForecastBridgeStep] = Field(description="The period's open pipeline from the earlier snapshot to this one")
    rows: list[ForecastChangeRow]


class PeriodQuery(Schema):
    period: str | None = Field(None, max_length=12, pattern=PERIOD_PATTERN,
                               description="2026-Q4, 2026-11 or 2026 (default: this quarter)")


class ChangesQuery(Schema):
    week: date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY, description="A day of the week (default: the latest snapshot's)")
    period: str | None = Field(None, max_length=12, pattern=PERIOD_PATTERN,
                               description="For pushed / pulled in (default: the snapshot's quarter)")
    kind: list[Literal[tuple(KINDS)]] | None = Field(None, description="Only these changes")  # type: ignore[valid-type]
    team_id: RecordId | None = Field(None, description="Only this team (and the teams below it)")
    owner_id: RecordId | None = Field(None, description="Only this person's deals")
    sort: Literal[tuple(SORTS + tuple("-" + s for s in SORTS))] = "kind"  # type: ignore[valid-type]


# ---- helpers --------------------------------------------------------------------------------------------


def _period(text: str | None) -> Period:
    try:
        return parse_period(text, timezone.localdate())
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


def _subject(request, user_id: int):
    person = selectors.subject_for(request.user, user_id)
    if person is None:
        raise HttpError(404, f"Person {user_id} not found")
    return person


def _forecast(request, person, period: Period, response: HttpResponse) -> dict:
    f = selectors.person_forecast(person, period)
    response["ETag"] = etag(f.version)
    return documents.forecast_document(f, request.user)


class AccuracyRowOut(Schema):
    person: str
    person_id: int
    role: str
    team: str
    period: str
    snapshot_week: date
    actual: float
    call: float | None
    call_error: float | None
    call_error_pct: float | None
    model: float
    model_error: float
    model_error_pct: float | None
    model_p10: float
    model_p90: float
    actual_in_range: bool
    stage_weighted: float | None
    stage_weighted_error: float | None
    stage_weighted_error_pct: float | None
    model_beats_call: bool | None
    open_deals: int


class AccuracyPersonOut(Schema):
    person: str
    person_id: int
    role: str
    team: str
    periods: int
    habit: str
    habit_word: str
    model_beats_call: int
    periods_with_a_call: int
    actual_in_model_range: int
    call_mean_abs_error_pct: float | None
    model_mean_abs_error_pct: float | None
    stage_weighted_mean_abs_error_pct: float | None
    call_bias_pct: float | None
    model_bias_pct: float | None
    stage_weighted_bias_pct: float | None


class AccuracyOut(Schema):
    at: str
    verdict: str
    people: list[AccuracyPersonOut]
    rows: list[AccuracyRowOut]


# ---- routes ---------------------------------------------------------------------------------------------


@router.get("/accuracy", response={200: AccuracyOut, 404: ForecastProblem})
def forecast_accuracy(request, at: Literal["start", "middle", "end"] = "start"):
    """Closed periods: each call, the model's and the stage-weighted forecast (the snapshot at the period's
    start, middle or end) against what was won; per person the mean error, the bias and the verdict."""
    from .accuracy import accuracy

    if selectors.home_subject(request.user) is None:
        raise HttpError(404, "You have no forecast: forecasts are for sales reps, managers and leaders")
    result = accuracy(request.user, at=at)
    return {"at": at, "verdict": result.verdict, "people": [p.as_row() for p in result.summaries],
            "rows": [r.as_row() for r in result.rows]}


@router.get("/me", response={200: ForecastOut, 404: ForecastProblem})
def my_forecast(request, response: HttpResponse, q: Query[PeriodQuery]):
    """Your own forecast (an administrator: the sales leader's)."""
    person = selectors.home_subject(request.user)
    if person is None:
        raise HttpError(404, "You have no forecast: forecasts are for sales reps, managers and leaders")
    return _forecast(request, person, _period(q.period), response)


@router.get("/users/{user_id}", response={200: ForecastOut, 404: ForecastProblem})
def get_forecast(request, user_id: int, response: HttpResponse, q: Query[PeriodQuery]):
    """A person's forecast for a period: their call (and any override) beside the model's forecast with its
    P10-P90 range, the stage-weighted forecast, the target and the gaps; a manager's or leader's roll-up rows."""
    return _forecast(request, _subject(request, user_id), _period(q.period), response)


@router.get("/users/{user_id}/deals", response={200: list[ForecastDealOut], 404: ForecastProblem})
def forecast_deals(request, user_id: int, q: Query[PeriodQuery]):
    """The deals the forecast covers: closing in the period, with category and probability."""
    person = _subject(request, user_id)
    return [documents.deal_dict(d) for d in selectors.load_deals(selectors.scope_of(person), _period(q.period))]


@router.get("/users/{user_id}/calls", response={200: list[ForecastCallOut], 404: ForecastProblem})
def forecast_calls(request, user_id: int, q: Query[PeriodQuery]):
    """Every call and override for the period, newest first: nothing is overwritten."""
    person = _subject(request, user_id)
    return [documents.call_dict(c) for c in selectors.call_history(person, _period(q.period))]


@router.post("/users/{user_id}/calls", response={201: ForecastCallOut, 400: ForecastProblem, 404: ForecastProblem,
                                                 409: Conflict})
def submit_call(request, user_id: int, body: ForecastCallIn):
    """Submit your call for a period, or override the call of someone below you (a note is required, and
    for your own call when it differs from what your deals add up to). Send the forecast's version as
    `If-Match`; without it the call is accepted over any other."""
    period = _period(body.period)
    try:
        call = services.submit_call(request.user, user_id, period, commit=body.commit, best_case=body.best_case,
                                    note=body.note, expected_version=if_match(request))
    except NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except ForecastError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, documents.call_dict(call))


@router.get("/users/{user_id}/snapshots", response={200: list[ForecastSnapshotOut], 404: ForecastProblem})
def forecast_snapshots(request, user_id: int, q: Query[PeriodQuery]):
    """The person's forecast as it stood each week (the weekly snapshot), oldest first."""
    person = _subject(request, user_id)
    return [documents.snapshot_dict(s) for s in selectors.snapshots_of(person, _period(q.period))]


@router.get("/users/{user_id}/changes", response={200: ForecastChangesOut, 400: ForecastProblem, 404: ForecastProblem})
def forecast_changes(request, user_id: int, q: Query[ChangesQuery]):
    """What changed in the deals of the person's forecast since the previous weekly snapshot: new, won,
    lost, pushed out of the period, pulled in, amount up or down, stage back, probability moved 10+ points,
    category changed."""
    person = _subject(request, user_id)
    period = _period(q.period) if q.period else None
    try:
        result = deal_changes(person, selectors.scope_of(person), week=q.week, period=period, kinds=q.kind,
                              team_id=q.team_id, owner_id=q.owner_id, sort=q.sort)
    except ChangesError as exc:
        raise HttpError(400, str(exc)) from None
    return documents.changes_document(result)


def _category(opportunity: Opportunity) -> dict:
    changes = list(opportunity.forecast_category_changes.select_related("changed_by").order_by("-seq"))
    current = selectors.current_category(opportunity, changes[0] if changes else None)
    return {"opportunity_id": opportunity.pk, "category": current, "crm_category": opportunity.forecast_category,
            "version": (changes[0].seq if changes else 0) + 1,
            "history": [{"version": c.seq + 1, "category": c.category, "previous": c.previous, "note": c.note,
                         "is_override": c.is_override, "changed_by": str(c.changed_by) if c.changed_by else "",
                         "changed_at": c.changed_at} for c in changes]}


def _visible_deal(request, opportunity_id: int) -> Opportunity:
    opportunity = Opportunity.objects.visible_to(request.user).filter(pk=opportunity_id).first()
    if opportunity is None:
        raise HttpError(404, f"Opportunity {opportunity_id} not found")
    return opportunity


@router.get("/opportunities/{opportunity_id}/category", response={200: ForecastCategoryOut, 404: ForecastProblem})
def get_category(request, opportunity_id: int, response: HttpResponse):
    """A deal's forecast category (the CRM's until someone sets one here) and every change of it."""
    out = _category(_visible_deal(request, opportunity_id))
    response["ETag"] = etag(out["version"])
    return out


@router.put("/opportunities/{opportunity_id}/category",
            response={200: ForecastCategoryOut, 400: ForecastProblem, 404: ForecastProblem, 409: Conflict})
def put_category(request, opportunity_id: int, body: ForecastCategoryIn, response: HttpResponse):
    """Set an open deal's category: its owner, or a manager above them, a leader or an admin (an override:
    a note is required). Send the category's version as `If-Match`."""
    try:
        services.set_category(request.user, opportunity_id, body.category, body.note, expected_version=if_match(request))
    except NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except ForecastError as exc:
        raise HttpError(400, str(exc)) from None
    out = _category(Opportunity.objects.get(pk=opportunity_id))
    response["ETag"] = etag(out["version"])
    return out
