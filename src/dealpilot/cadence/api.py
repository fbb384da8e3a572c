"""The cadence API: a ninja router mounted at /api/cadence/. The same rules as the pages: a team
or meeting the caller may not read is a 404; bad input a 400 with the reason; write schemas list
their fields explicitly."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from dealpilot.api_types import Code, Day, Moment, Name, Note, RecordId

from . import access, selectors, services
from .agenda import build_agenda
from .models import CHECKLIST_KEYS, CoachingTopic, DealNote, Frequency, MeetingType
from .recurrence import Slot
from .services import CadenceError, MeetingInput

router = Router(tags=["cadence"])


class Error(Schema):
    detail: str


def _bad(e: CadenceError):
    raise HttpError(400, str(e))


# ---- schemas -------------------------------------------------------------------------------------


class UserRefOut(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj)


class TeamOut(Schema):
    id: int
    name: str
    has_cadence: bool
    editable: bool


# A meeting's start is a wall-clock time in its time zone, without an offset: RFC 3339's partial-time.
# Pydantic would declare "format: time", which demands an offset, so the schema says what is really sent.
WALL_TIME = {"format": "partial-time", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$",
             "description": "HH:MM[:SS] in the meeting's time zone"}


class MeetingOut(Schema):
    id: int
    kind: str
    title: str
    frequency: str
    interval_weeks: int
    weekday: int
    week_of_month: int | None
    day_of_month: int | None
    start_time: time = Field(..., json_schema_extra=WALL_TIME)
    duration_minutes: int
    time_zone: str
    starts_on: date
    ends_on: date | None
    is_active: bool
    attendees: list[UserRefOut]
    reviewed_account_ids: list[int]
    reviewed_opportunity_ids: list[int]

    @staticmethod
    def resolve_attendees(obj):
        return list(obj.attendees.all())

    @staticmethod
    def resolve_reviewed_account_ids(obj):
        return list(obj.reviewed_accounts.values_list("id", flat=True))

    @staticmethod
    def resolve_reviewed_opportunity_ids(obj):
        return list(obj.reviewed_opportunities.values_list("id", flat=True))


class ChecklistStep(Schema):
    key: str
    label: str
    done: bool


class CadenceOut(Schema):
    team: TeamOut
    time_zone: str
    coaching_target_minutes: int
    outcome: str
    meetings_to_add: str
    meetings_to_drop: str
    agreed_on: date | None
    checklist: list[ChecklistStep]
    meetings: list[MeetingOut]


class MeetingIn(Schema):
    kind: Literal[tuple(MeetingType.values)]  # type: ignore[valid-type]
    title: Name
    frequency: Literal[tuple(Frequency.values)]  # type: ignore[valid-type]
    weekday: int = Field(..., ge=0, le=6, description="0 Monday .. 6 Sunday")
    start_time: time = Field(..., json_schema_extra=WALL_TIME)
    duration_minutes: int = Field(60, ge=5, le=1440)
    starts_on: Day
    ends_on: Day | None = None
    time_zone: Code = Field("", description="IANA name; empty: the team's")
    interval_weeks: int = Field(1, ge=1, le=52)
    week_of_month: int | None = Field(None, ge=-1, le=4, description="1-4, or -1 for the last (monthly/quarterly)")
    day_of_month: int | None = Field(None, ge=1, le=28)
    attendee_ids: list[RecordId] = []
    account_ids: list[RecordId] = []
    opportunity_ids: list[RecordId] = []

    def to_input(self) -> MeetingInput:
        d = self.dict()
        for k in ("attendee_ids", "account_ids", "opportunity_ids"):
            d[k] = tuple(d[k])
        return MeetingInput(**d)


class SettingsIn(Schema):
    time_zone: Code
    coaching_target_minutes: int = Field(..., ge=0, le=10000)
    outcome: Note = ""
    meetings_to_add: Note = ""
    meetings_to_drop: Note = ""
    checklist_done: list[Literal[tuple(CHECKLIST_KEYS)]] = Field([], max_length=len(CHECKLIST_KEYS))  # type: ignore[valid-type]
    agreed_on: Day | None = None


class DefaultIn(Schema):
    time_zone: Code | None = None
    starts_on: Day | None = None


class SlotOut(Schema):
    meeting_id: int
    title: str
    kind: str
    key: str
    scheduled_start: datetime
    start: datetime
    end: datetime
    status: str


def _slot(s: Slot) -> dict:
    return {"meeting_id": s.meeting.pk, "title": s.meeting.title, "kind": s.meeting.kind, "key": s.key,
            "scheduled_start": s.scheduled_start, "start": s.start, "end": s.end, "status": s.status or "not_recorded"}


class SectionOut(Schema):
    key: str
    title: str
    rule: str
    columns: list[str]
    rows: list[dict]


class DealNoteOut(Schema):
    opportunity_id: int
    note: str
    decision: str
    author: str | None

    @staticmethod
    def resolve_author(obj):
        return str(obj.author) if obj.author else None


class AgendaOut(Schema):
    occurrence: SlotOut
    notes: str
    decisions: str
    sections: list[SectionOut]
    deal_notes: list[DealNoteOut]


class RecordIn(Schema):
    status: Literal["held", "cancelled", "rescheduled", "not_recorded"]
    new_start: Moment | None = Field(None, description="Rescheduled: the new start, with its offset")
    notes: Note | None = None
    decisions: Note | None = None


class DealNoteIn(Schema):
    note: Note = ""
    decision: Note = ""


class AdherenceOut(Schema):
    team: str
    month: str
    scheduled: int
    held: int
    rescheduled: int
    cancelled: int
    not_recorded: int
    held_share: float | None
    rescheduled_share: float | None
    cancelled_share: float | None
    not_recorded_share: float | None


class CoachingIn(Schema):
    rep_id: RecordId
    held_on: Day
    topic: Literal[tuple(CoachingTopic.values)]  # type: ignore[valid-type]
    minutes: int = Field(..., ge=1, le=480)
    notes: Note = ""
    opportunity_id: RecordId | None = None
    skill: Name = ""


class CoachingOut(Schema):
    id: int
    rep: UserRefOut
    manager: UserRefOut | None
    held_on: date
    topic: str
    opportunity_id: int | None
    skill: str
    minutes: int
    notes: str


class CoachingMonthOut(Schema):
    rep: UserRefOut
    month: date
    minutes: int
    target: int
    sessions: int


class AttentionOut(Schema):
    rep: UserRefOut
    reasons: list[str]
    verdict: str | None
    sentence: str
    minutes_this_month: int
    target: int
    urgent: bool


class WeekOut(Schema):
    week_start: date
    meetings: list[SlotOut]
    attention: list[AttentionOut]


# ---- teams and cadences --------------------------------------------------------------------------


def _team_out(team, user) -> dict:
    return {"id": team.pk, "name": team.name, "has_cadence": selectors.cadence_of(team) is not None,
            "editable": access.can_edit(user, team)}


def _cadence_out(team, user) -> dict:
    c = selectors.cadence_of(team)
    if c is None:
        raise HttpError(404, "This team has no cadence yet")
    return {"team": _team_out(team, user), "time_zone": c.time_zone, "coaching_target_minutes": c.coaching_target_minutes,
            "outcome": c.outcome, "meetings_to_add": c.meetings_to_add, "meetings_to_drop": c.meetings_to_drop,
            "agreed_on": c.agreed_on, "checklist": c.checklist, "meetings": selectors.team_meetings(team, active_only=False)}


@router.get("/teams", response=list[TeamOut])
def list_teams(request):
    return [_team_out(t, request.user) for t in access.readable_teams(request.user).order_by("name")]


@router.get("/teams/{team_id}", response={200: CadenceOut, 404: Error})
def get_cadence(request, team_id: int):
    return _cadence_out(access.team_or_404(request.user, team_id), request.user)


@router.post("/teams/{team_id}/default", response={200: CadenceOut, 400: Error, 404: Error})
def default_cadence(request, team_id: int, payload: DefaultIn):
    team = access.team_or_404(request.user, team_id, edit=True)
    try:
        services.create_default_cadence(team, by=request.user, starts_on=payload.starts_on, time_zone=payload.time_zone)
    except CadenceError as e:
        _bad(e)
    return _cadence_out(team, request.user)


@router.put("/teams/{team_id}/settings", response={200: CadenceOut, 400: Error, 404: Error})
def put_settings(request, team_id: int, payload: SettingsIn):
    team = access.team_or_404(request.user, team_id, edit=True)
    try:
        services.update_settings(team, by=request.user, **payload.dict())
    except CadenceError as e:
        _bad(e)
    return _cadence_out(team, request.user)


@router.post("/teams/{team_id}/meetings", response={201: MeetingOut, 400: Error, 404: Error})
def add_meeting(request, team_id: int, payload: MeetingIn):
    team = access.team_or_404(request.user, team_id, edit=True)
    try:
        return 201, services.add_meeting(team, payload.to_input(), by=request.user)
    except CadenceError as e:
        _bad(e)


@router.get("/meetings/{meeting_id}", response={200: MeetingOut, 404: Error})
def get_meeting(request, meeting_id: int):
    return selectors.meeting_or_404(request.user, meeting_id)


@router.put("/meetings/{meeting_id}", response={200: MeetingOut, 400: Error, 404: Error})
def put_meeting(request, meeting_id: int, payload: MeetingIn):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    try:
        return services.update_meeting(meeting, payload.to_input(), by=request.user)
    except CadenceError as e:
        _bad(e)


@router.delete("/meetings/{meeting_id}", response={200: MeetingOut, 404: Error})
def drop_meeting(request, meeting_id: int):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    return services.drop_meeting(meeting, by=request.user)


# ---- occurrences ---------------------------------------------------------------------------------


class Window(Schema):
    start: Day | None = Field(None, description="Default: today")
    days: int = Field(28, ge=1, le=366)


@router.get("/meetings/{meeting_id}/occurrences", response={200: list[SlotOut], 404: Error})
def list_occurrences(request, meeting_id: int, window: Query[Window]):
    from .recurrence import slots

    meeting = selectors.meeting_or_404(request.user, meeting_id)
    start = timezone.make_aware(datetime.combine(window.start or timezone.localdate(), time()))
    return [_slot(s) for s in slots([meeting], start, start + timedelta(days=window.days))]


@router.get("/meetings/{meeting_id}/occurrences/{key}", response={200: AgendaOut, 404: Error})
def get_agenda(request, meeting_id: int, key: str):
    from dealpilot.crm.models import Opportunity

    meeting = selectors.meeting_or_404(request.user, meeting_id)
    slot = selectors.slot_or_404(meeting, key)
    notes = (DealNote.objects.filter(occurrence=slot.record, opportunity__in=Opportunity.objects.visible_to(request.user))
             .select_related("author") if slot.record else [])
    return {"occurrence": _slot(slot), "notes": slot.record.notes if slot.record else "",
            "decisions": slot.record.decisions if slot.record else "",
            "sections": [s.as_dict() for s in build_agenda(request.user, slot)], "deal_notes": list(notes)}


@router.put("/meetings/{meeting_id}/occurrences/{key}", response={200: SlotOut, 400: Error, 404: Error})
def record(request, meeting_id: int, key: str, payload: RecordIn):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    slot = selectors.slot_or_404(meeting, key)
    status = "" if payload.status == "not_recorded" else payload.status
    try:
        services.record_occurrence(meeting, slot.scheduled_start, by=request.user, status=status,
                                   new_start=payload.new_start, notes=payload.notes, decisions=payload.decisions)
    except CadenceError as e:
        _bad(e)
    return _slot(selectors.slot_or_404(meeting, key))


@router.put("/meetings/{meeting_id}/occurrences/{key}/deals/{opportunity_id}", response={200: DealNoteOut, 400: Error, 404: Error})
def put_deal_note(request, meeting_id: int, key: str, opportunity_id: int, payload: DealNoteIn):
    from dealpilot.crm.models import Opportunity

    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    slot = selectors.slot_or_404(meeting, key)
    if not Opportunity.objects.visible_to(request.user).filter(pk=opportunity_id).exists():
        raise HttpError(404, f"Opportunity {opportunity_id} not found")
    try:
        return services.save_deal_note(meeting, slot.scheduled_start, opportunity_id, by=request.user,
                                       note=payload.note, decision=payload.decision)
    except CadenceError as e:
        _bad(e)


# ---- adherence, coaching, the week ---------------------------------------------------------------


class AdherenceQuery(Schema):
    team: RecordId | None = None
    months: int = Field(6, ge=1, le=24)


@router.get("/adherence", response={200: list[AdherenceOut], 404: Error})
def get_adherence(request, q: Query[AdherenceQuery]):
    if not access.readable_teams(request.user).exists():
        raise HttpError(404, "Not found")
    if q.team is not None:
        access.team_or_404(request.user, q.team)
    return [r.as_dict() for r in selectors.adherence(request.user, team_id=q.team, months=q.months).rows]


def _managers(request):
    if not access.is_manager_like(request.user):
        raise HttpError(404, "Not found")


@router.get("/coaching", response={200: list[CoachingOut], 404: Error})
def list_coaching(request, rep: RecordId | None = None):
    _managers(request)
    return list(selectors.coaching_sessions(request.user, rep_id=rep, limit=500))


@router.post("/coaching", response={201: CoachingOut, 400: Error, 404: Error})
def post_coaching(request, payload: CoachingIn):
    _managers(request)
    try:
        return 201, services.log_coaching(by=request.user, **payload.dict())
    except CadenceError as e:
        _bad(e)


@router.get("/coaching/minutes", response={200: list[CoachingMonthOut], 404: Error})
def coaching_minutes(request, months: int = Query(3, ge=1, le=24)):
    _managers(request)
    return [vars(m) for per_rep in selectors.coaching_minutes(request.user, months=months).values() for m in per_rep]


@router.get("/week", response={200: WeekOut, 404: Error})
def get_week(request, day: Day | None = None):
    _managers(request)
    day = day or timezone.localdate()
    return {"week_start": day - timedelta(days=day.weekday()),
            "meetings": [_slot(s) for s in selectors.week_meetings(request.user, day)],
            "attention": [vars(a) for a in selectors.attention(request.user, today=day)]}

