"""Write paths of the cadence app: plain functions with explicit arguments. Each checks that the
records it links (attendees, accounts, deals, reps) are ones the acting user may see, and raises
`CadenceError` (a clear 4xx for the pages and the API) before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from dealpilot.crm.models import Account, Opportunity, Role, Team, User
from dealpilot.crm.services import secret_hash

from . import access
from .models import (
    CHECKLIST_KEYS,
    Cadence,
    CoachingSession,
    CoachingTopic,
    FeedToken,
    Frequency,
    Meeting,
    MeetingType,
    DealNote,
    Occurrence,
    OccurrenceStatus,
    Weekday,
    new_feed_token,
)
from .recurrence import is_scheduled_start, valid_time_zone


class CadenceError(ValueError):
    """Bad input: the caller gets a 400 with this message."""


def ensure_cadence(team: Team, *, time_zone: str | None = None) -> Cadence:
    cadence, _ = Cadence.objects.get_or_create(team=team, defaults={"time_zone": time_zone or timezone.get_default_timezone_name()})
    return cadence


# ---- the default cadence -------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultMeeting:
    kind: str
    title: str
    frequency: str
    weekday: int
    start: time
    minutes: int
    interval_weeks: int = 1
    week_of_month: int | None = None


# Weekly pipeline (new opportunities first) and forecast, fortnightly opportunity reviews, a monthly
# account-planning session (first Tuesday) and enablement session, and a fortnightly 30-minute 1:1
# per rep, which meets the default 60 coaching minutes a month.
DEFAULT_MEETINGS = [
    DefaultMeeting(MeetingType.PIPELINE, "Pipeline meeting", Frequency.WEEKLY, Weekday.MONDAY, time(9, 0), 60),
    DefaultMeeting(MeetingType.OPPORTUNITY_REVIEW, "Opportunity review", Frequency.EVERY_N_WEEKS, Weekday.WEDNESDAY,
                   time(14, 0), 60, interval_weeks=2),
    DefaultMeeting(MeetingType.FORECAST, "Forecast call", Frequency.WEEKLY, Weekday.THURSDAY, time(16, 0), 30),
    DefaultMeeting(MeetingType.ACCOUNT_PLANNING, "Strategic account planning", Frequency.MONTHLY, Weekday.TUESDAY,
                   time(10, 0), 120, week_of_month=1),
    DefaultMeeting(MeetingType.ENABLEMENT, "Team enablement session", Frequency.MONTHLY, Weekday.THURSDAY,
                   time(15, 0), 60, week_of_month=3),
]
DEFAULT_COACHING = DefaultMeeting(MeetingType.COACHING, "1:1 coaching", Frequency.EVERY_N_WEEKS, Weekday.FRIDAY,
                                  time(10, 0), 30, interval_weeks=2)


@transaction.atomic
def create_default_cadence(team: Team, *, by: User, starts_on: date | None = None, time_zone: str | None = None) -> Cadence:
    """The default cadence for a team, in one step. Adds the default meetings the team does not
    have yet (by kind; 1:1s by rep), so running it twice changes nothing."""
    if not access.can_edit(by, team):
        raise CadenceError("You may not change this team's cadence")
    if time_zone and not valid_time_zone(time_zone):
        raise CadenceError(f"Unknown time zone {time_zone!r}")
    cadence = ensure_cadence(team, time_zone=time_zone)
    starts_on = starts_on or timezone.localdate()
    members = list(access.team_members(team))
    leads = [m for m in members if m.role == Role.MANAGER and m.team_id == team.pk] or ([by] if by.role == Role.MANAGER else [])
    existing = set(cadence.meetings.values_list("kind", flat=True))
    for d in DEFAULT_MEETINGS:
        if d.kind in existing:
            continue
        m = Meeting.objects.create(cadence=cadence, kind=d.kind, title=d.title, frequency=d.frequency, weekday=d.weekday,
                                   interval_weeks=d.interval_weeks, week_of_month=d.week_of_month, start_time=d.start,
                                   duration_minutes=d.minutes, time_zone=cadence.time_zone, starts_on=starts_on)
        m.attendees.set(members)
    coached = {uid for m in cadence.meetings.filter(kind=MeetingType.COACHING) for uid in m.attendees.values_list("id", flat=True)}
    slot = datetime.combine(starts_on, DEFAULT_COACHING.start)
    for rep in (m for m in members if m.role == Role.REP):
        if rep.pk not in coached:
            m = Meeting.objects.create(
                cadence=cadence, kind=MeetingType.COACHING, title=f"1:1 coaching: {rep}", frequency=DEFAULT_COACHING.frequency,
                weekday=DEFAULT_COACHING.weekday, interval_weeks=DEFAULT_COACHING.interval_weeks, start_time=slot.time(),
                duration_minutes=DEFAULT_COACHING.minutes, time_zone=cadence.time_zone, starts_on=starts_on)
            m.attendees.set([rep, *leads])
        slot += timedelta(minutes=DEFAULT_COACHING.minutes)
    return cadence


# ---- meetings ------------------------------------------------------------------------------------


@dataclass
class MeetingInput:
    kind: str
    title: str
    frequency: str
    weekday: int
    start_time: time
    duration_minutes: int
    starts_on: date
    time_zone: str = ""
    interval_weeks: int = 1
    week_of_month: int | None = None
    day_of_month: int | None = None
    ends_on: date | None = None
    attendee_ids: tuple[int, ...] = ()
    account_ids: tuple[int, ...] = ()
    opportunity_ids: tuple[int, ...] = ()


def _validate(data: MeetingInput) -> None:
    if data.kind not in MeetingType.values:
        raise CadenceError(f"Unknown meeting type {data.kind!r}")
    if data.frequency not in Frequency.values:
        raise CadenceError(f"Unknown frequency {data.frequency!r}")
    if not (data.title or "").strip():
        raise CadenceError("A meeting needs a title")
    if data.weekday not in Weekday.values:
        raise CadenceError("The weekday must be 0 (Monday) to 6 (Sunday)")
    if data.frequency == Frequency.EVERY_N_WEEKS and not 1 <= (data.interval_weeks or 0) <= 52:
        raise CadenceError("Every N weeks needs N between 1 and 52")
    if data.frequency in (Frequency.MONTHLY, Frequency.QUARTERLY):
        if data.day_of_month is not None and not 1 <= data.day_of_month <= 28:
            raise CadenceError("The day of the month must be 1 to 28 (every month has it)")
        if data.week_of_month is not None and data.week_of_month not in (1, 2, 3, 4, -1):
            raise CadenceError("The week of the month must be 1 to 4, or -1 for the last")
    if not 5 <= data.duration_minutes <= 24 * 60:
        raise CadenceError("The duration must be 5 minutes to 24 hours")
    if data.ends_on and data.ends_on < data.starts_on:
        raise CadenceError("The series cannot end before it starts")
    if data.time_zone and not valid_time_zone(data.time_zone):
        raise CadenceError(f"Unknown time zone {data.time_zone!r}")


def _linked(by: User, team: Team, data: MeetingInput) -> tuple[list, list, list]:
    """The attendees (people of the team, or the editor), accounts and deals, each visible to `by`."""
    allowed_people = access.team_members(team).values_list("id", flat=True)
    attendees = list(User.objects.visible_to(by).filter(id__in=set(data.attendee_ids)).filter(
        id__in=set(allowed_people) | {by.pk}))
    if len(attendees) != len(set(data.attendee_ids)):
        raise CadenceError("Attendees must be people of the team")
    accounts = list(Account.objects.visible_to(by).filter(id__in=set(data.account_ids)))
    if len(accounts) != len(set(data.account_ids)):
        raise CadenceError("Unknown account")
    deals = list(Opportunity.objects.visible_to(by).filter(id__in=set(data.opportunity_ids)))
    if len(deals) != len(set(data.opportunity_ids)):
        raise CadenceError("Unknown opportunity")
    return attendees, accounts, deals


def _apply(meeting: Meeting, data: MeetingInput, cadence: Cadence) -> None:
    monthly = data.frequency in (Frequency.MONTHLY, Frequency.QUARTERLY)
    meeting.kind, meeting.title, meeting.frequency = data.kind, data.title.strip(), data.frequency
    meeting.weekday = data.weekday
    meeting.interval_weeks = data.interval_weeks if data.frequency == Frequency.EVERY_N_WEEKS else 1
    meeting.day_of_month = data.day_of_month if monthly else None
    meeting.week_of_month = (data.week_of_month or 1) if monthly and not data.day_of_month else None
    meeting.start_time, meeting.duration_minutes = data.start_time, data.duration_minutes
    meeting.time_zone = data.time_zone or cadence.time_zone
    meeting.starts_on, meeting.ends_on = data.starts_on, data.ends_on


@transaction.atomic
def add_meeting(team: Team, data: MeetingInput, *, by: User) -> Meeting:
    if not access.can_edit(by, team):
        raise CadenceError("You may not change this team's cadence")
    _validate(data)
    attendees, accounts, deals = _linked(by, team, data)
    cadence = ensure_cadence(team)
    meeting = Meeting(cadence=cadence)
    _apply(meeting, data, cadence)
    meeting.save()
    meeting.attendees.set(attendees)
    meeting.reviewed_accounts.set(accounts)
    meeting.reviewed_opportunities.set(deals)
    return meeting


@transaction.atomic
def update_meeting(meeting: Meeting, data: MeetingInput, *, by: User) -> Meeting:
    team = meeting.cadence.team
    if not access.can_edit(by, team):
        raise CadenceError("You may not change this team's cadence")
    _validate(data)
    attendees, accounts, deals = _linked(by, team, data)
    _apply(meeting, data, meeting.cadence)
    meeting.save()
    meeting.attendees.set(attendees)
    # links the editor cannot see stay as they are (another manager may have added them)
    hidden_accounts = meeting.reviewed_accounts.exclude(id__in=Account.objects.visible_to(by).values("id"))
    hidden_deals = meeting.reviewed_opportunities.exclude(id__in=Opportunity.objects.visible_to(by).values("id"))
    meeting.reviewed_accounts.set([*accounts, *hidden_accounts])
    meeting.reviewed_opportunities.set([*deals, *hidden_deals])
    return meeting


def drop_meeting(meeting: Meeting, *, by: User) -> Meeting:
    """Drop a meeting from the cadence: it stops recurring; its history stays for adherence."""
    if not access.can_edit(by, meeting.cadence.team):
        raise CadenceError("You may not change this team's cadence")
    meeting.is_active = False
    meeting.ends_on = meeting.ends_on or timezone.localdate()
    meeting.save(update_fields=["is_active", "ends_on", "updated_at"])
    return meeting


@transaction.atomic
def update_settings(team: Team, *, by: User, time_zone: str, coaching_target_minutes: int, outcome: str,
                    meetings_to_add: str, meetings_to_drop: str, checklist_done: list[str], agreed_on: date | None) -> Cadence:
    """The team's cadence settings and its set-up checklist."""
    if not access.can_edit(by, team):
        raise CadenceError("You may not change this team's cadence")
    if not valid_time_zone(time_zone):
        raise CadenceError(f"Unknown time zone {time_zone!r}")
    if not 0 <= coaching_target_minutes <= 10_000:
        raise CadenceError("The coaching target must be 0 to 10000 minutes a month")
    unknown = set(checklist_done) - set(CHECKLIST_KEYS)
    if unknown:
        raise CadenceError(f"Unknown checklist step(s): {', '.join(sorted(unknown))}")
    cadence = ensure_cadence(team)
    cadence.time_zone, cadence.coaching_target_minutes = time_zone, coaching_target_minutes
    cadence.outcome, cadence.meetings_to_add, cadence.meetings_to_drop = outcome, meetings_to_add, meetings_to_drop
    cadence.checklist_done = [k for k in CHECKLIST_KEYS if k in set(checklist_done)]
    cadence.agreed_on = agreed_on
    cadence.save()
    return cadence


# ---- occurrences and notes -----------------------------------------------------------------------


def _occurrence(meeting: Meeting, scheduled_start: datetime) -> Occurrence:
    if not is_scheduled_start(meeting, scheduled_start):
        raise CadenceError("The meeting has no occurrence at that time")
    record, _ = Occurrence.objects.get_or_create(meeting=meeting, scheduled_start=scheduled_start)
    return record


@transaction.atomic
def record_occurrence(meeting: Meeting, scheduled_start: datetime, *, by: User, status: str,
                      new_start: datetime | None = None, notes: str | None = None, decisions: str | None = None) -> Occurrence:
    """Record what happened to an occurrence: held, cancelled, rescheduled (with the new start),
    or nothing yet (notes only). Notes and decisions left as None keep what is there."""
    if not access.can_edit(by, meeting.cadence.team):
        raise CadenceError("You may not record this team's meetings")
    if status not in OccurrenceStatus.values:
        raise CadenceError(f"Unknown status {status!r}")
    if status == OccurrenceStatus.RESCHEDULED:
        if new_start is None:
            raise CadenceError("A rescheduled meeting needs its new start")
        if timezone.is_naive(new_start):
            raise CadenceError("The new start needs a time zone")
    elif new_start is not None:
        raise CadenceError("Only a rescheduled meeting has a new start")
    record = _occurrence(meeting, scheduled_start)
    record.status, record.new_start = status, new_start
    if notes is not None:
        record.notes = notes
    if decisions is not None:
        record.decisions = decisions
    record.recorded_by, record.recorded_at = by, timezone.now()
    record.save()
    return record


@transaction.atomic
def save_deal_note(meeting: Meeting, scheduled_start: datetime, opportunity_id: int, *, by: User, note: str,
                   decision: str = "") -> DealNote:
    """The note and decision on one deal discussed in an occurrence (replaces the earlier one)."""
    if not access.can_edit(by, meeting.cadence.team):
        raise CadenceError("You may not record this team's meetings")
    opportunity = Opportunity.objects.visible_to(by).filter(pk=opportunity_id).first()
    if opportunity is None:
        raise CadenceError("Unknown opportunity")
    if not (note or "").strip() and not (decision or "").strip():
        raise CadenceError("Write a note or a decision")
    record = _occurrence(meeting, scheduled_start)
    deal_note, _ = DealNote.objects.update_or_create(
        occurrence=record, opportunity=opportunity, defaults={"note": note.strip(), "decision": (decision or "").strip(), "author": by})
    return deal_note


# ---- coaching ------------------------------------------------------------------------------------


@transaction.atomic
def log_coaching(*, by: User, rep_id: int, held_on: date, topic: str, minutes: int, notes: str = "",
                 opportunity_id: int | None = None, skill: str = "") -> CoachingSession:
    """Log a 1:1 coaching session `by` held with a rep of a team they manage."""
    if not access.is_manager_like(by):
        raise CadenceError("Only managers log coaching")
    rep = User.objects.visible_to(by).filter(pk=rep_id, is_active=True).exclude(pk=by.pk).first()
    if rep is None or not access.editable_teams(by).filter(pk=rep.team_id).exists():
        raise CadenceError("Unknown rep")
    if topic not in CoachingTopic.values:
        raise CadenceError(f"Unknown topic {topic!r}")
    if not 1 <= minutes <= 8 * 60:
        raise CadenceError("Minutes must be 1 to 480")
    if held_on > timezone.localdate() + timedelta(days=1):
        raise CadenceError("A coaching session is logged once it was held")
    opportunity = None
    if opportunity_id is not None:
        opportunity = Opportunity.objects.visible_to(by).filter(pk=opportunity_id, owner=rep).first()
        if opportunity is None:
            raise CadenceError("Unknown opportunity of this rep")
    if topic == CoachingTopic.DEAL and opportunity is None:
        raise CadenceError("Coaching on a deal names the deal")
    if topic == CoachingTopic.SKILL and not skill.strip():
        raise CadenceError("Coaching on a skill names the skill")
    return CoachingSession.objects.create(rep=rep, manager=by, held_on=held_on, topic=topic, minutes=minutes, notes=notes,
                                          opportunity=opportunity, skill=skill.strip())


# ---- calendar feed tokens ------------------------------------------------------------------------


def regenerate_feed_token(user: User) -> tuple[FeedToken, str]:
    """A new secret for the user's feeds; every URL with the old one stops working. Returns the
    record and the secret itself, which is not stored (only its hash): show it once."""
    raw = new_feed_token()
    token, _ = FeedToken.objects.update_or_create(user=user, defaults={"key_hash": secret_hash(raw)})
    return token, raw


def revoke_feed_token(user: User) -> None:
    FeedToken.objects.filter(user=user).delete()
