"""The Team performance API: a ninja router mounted at /api/performance/ (see dealpilot/api.py).

`GET /api/performance/{metric}` for the six metrics returns exactly the rows of
`dealpilot report {metric} --format json` (`analytics.report.report_rows`) for the caller's own
scope: leaders and admins everything, managers their team subtree, reps their own records.
Enablement authors see no sales records: 404. Query parameters are the CLI's: group_by, period,
from, to, and engine (duckdb by default)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from dealpilot.analytics.frames import EngineUnavailable
from dealpilot.analytics.report import ReportError, report_rows
from dealpilot.api_types import Day
from dealpilot.validation import FIRST_DAY, LAST_DAY

router = Router(tags=["performance"])

Group = Literal["owner", "team", "product", "source", "region"]


class NotFound(Schema):
    detail: str


class BadRequest(Schema):
    detail: str


class ReportQuery(Schema):
    group_by: Group | None = Field(None, description="One row per owner, team, product, source or region (default: one group, `all`)")
    period: Literal["month", "quarter", "year"] = Field("quarter", description="Calendar periods")
    start: Day | None = Field(None, alias="from", description=f"First day, inclusive (YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY})")
    end: Day | None = Field(None, alias="to", description="Last day, inclusive; the meeting day for `meeting`")
    engine: Literal["duckdb", "postgres", "spark"] | None = Field(
        None, description="The analytics engine (default duckdb; postgres only when the app runs on PostgreSQL)")


# ---- one schema per metric (docs/analytics.md defines every column) --------------------------------


class VelocityRow(Schema):
    group: str
    period: str
    opportunities: int = Field(description="N: deals closed (won or lost) in the period")
    won: int
    win_rate: float | None
    avg_deal_value: float | None = Field(description="Mean amount of the won deals")
    cycle_days: float | None = Field(description="Mean days from created to close of the won deals")
    velocity: float | None = Field(description="N x avg_deal_value x win_rate / cycle_days, money per day")


class LeversRow(Schema):
    group: str
    from_period: str
    to_period: str
    velocity_before: float | None
    velocity_after: float | None
    log_change: float | None = Field(description="ln(velocity_after / velocity_before) = the sum of the *_log terms")
    opportunities_log: float | None
    opportunities_money: float | None
    avg_deal_value_log: float | None
    avg_deal_value_money: float | None
    win_rate_log: float | None
    win_rate_money: float | None
    cycle_days_log: float | None
    cycle_days_money: float | None
    what_if_opportunities: float | None = Field(description="to_period's velocity with 10% more opportunities")
    what_if_avg_deal_value: float | None
    what_if_win_rate: float | None
    what_if_cycle_days: float | None = Field(description="to_period's velocity with a 10% shorter cycle")
    note: str = Field(description="Why there is no split, when there is none")


class PipelineCreationRow(Schema):
    rep: str
    team: str | None
    week: str = Field(description="ISO week, e.g. 2025-W07")
    created: int
    team_median: float


class DiagnosisRow(Schema):
    rep: str
    team: str | None
    activities: int
    created: int
    closed: int
    won: int
    activities_per_week: float
    new_per_week: float
    win_rate: float | None
    win_rate_low: float | None = Field(description="95% Wilson interval")
    win_rate_high: float | None
    stage_entries: int
    advanced: int
    stage_conversion: float | None
    team_activities_per_week: float | None
    team_new_per_week: float | None
    team_win_rate: float | None
    team_stage_conversion: float | None
    small_sample: bool
    forecast: float | None = Field(description="The quarter's forecast (won + stage-weighted open) that decides 'producing'")
    target: float | None
    production_period: str | None
    verdict: Literal["producing", "on track", "too little activity", "too low effectiveness", "both",
                     "not judged (small sample)"]
    reason: str


class MeetingRow(Schema):
    section: Literal["new", "same_as_last_week", "slipped", "pushed_back"]
    meeting_day: date
    id: int
    name: str
    owner: str | None
    stage: str
    amount: float | None
    created_date: date | None
    close_date: date | None
    previous_close_date: date | None = Field(None, description="slipped only")
    why: str | None = Field(None, description="slipped only")
    from_stage: str | None = Field(None, description="pushed_back only")
    to_stage: str | None = Field(None, description="pushed_back only")
    changed_at: datetime | None = Field(None, description="pushed_back only")


class ForecastRow(Schema):
    group: str
    period: str
    current: bool = Field(description="The period containing `from` (default: the latest close date of a closed deal)")
    target: float | None
    closed_won: float
    weighted_open: float
    forecast: float = Field(description="closed_won + weighted_open")
    gap: float | None = Field(description="target - closed_won")
    pipeline: float
    open_deals: int
    coverage: float | None = Field(description="pipeline / gap")


def _rows(request, name: str, q: ReportQuery) -> list[dict]:
    user = request.user
    if not (user.sees_everything or user.role in ("manager", "rep")):
        raise HttpError(404, "Not found")
    if q.start and q.end and q.start > q.end:
        raise HttpError(422, "`from` must be on or before `to`")
    try:
        return report_rows(name, group_by=q.group_by, period=q.period, start=q.start, end=q.end, as_user=user.username,
                           engine=q.engine)
    except (ReportError, EngineUnavailable) as exc:
        raise HttpError(400, str(exc)) from None


ERRORS = {404: NotFound, 400: BadRequest}


@router.get("/velocity", response={200: list[VelocityRow], **ERRORS})
def velocity(request, q: Query[ReportQuery]):
    """Sales velocity per group and period, over the deals closed in it."""
    return _rows(request, "velocity", q)


@router.get("/levers", response={200: list[LeversRow], **ERRORS})
def levers(request, q: Query[ReportQuery]):
    """The change of velocity between consecutive periods, split into its four levers."""
    return _rows(request, "levers", q)


@router.get("/pipeline-creation", response={200: list[PipelineCreationRow], **ERRORS})
def pipeline_creation(request, q: Query[ReportQuery]):
    """Opportunities created per rep per ISO week (every rep and week, zeros included), with the team median."""
    return _rows(request, "pipeline-creation", q)


@router.get("/diagnosis", response={200: list[DiagnosisRow], **ERRORS})
def diagnosis(request, q: Query[ReportQuery]):
    """Each rep's activity and effectiveness against the team median, and the verdict with its reason."""
    return _rows(request, "diagnosis", q)


@router.get("/meeting", response={200: list[MeetingRow], **ERRORS}, exclude_unset=True)
def meeting(request, q: Query[ReportQuery]):
    """The pipeline meeting on `to` (default: the day after the latest created date): new deals,
    same update as last week, slipped, pushed back. Each row carries only its section's columns."""
    return _rows(request, "meeting", q)


@router.get("/forecast", response={200: list[ForecastRow], **ERRORS})
def forecast(request, q: Query[ReportQuery]):
    """Closed won + stage-weighted open deals against target for the period containing `from`, and
    the next periods' pipeline coverage, per rep (or `group_by=team`)."""
    return _rows(request, "forecast", q)
