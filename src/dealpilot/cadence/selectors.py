"""Read paths of the cadence app: a team's meetings and their occurrences, the manager's week,
adherence by team and month, coaching minutes per rep against the target, and the reps who need
attention (the diagnosis of Team performance joined with the coaching log)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from dealpilot.crm.models import Role, Team, User
from dealpilot.crm.services import secret_hash

from . import access
from .models import (
    DEFAULT_COACHING_TARGET_MINUTES,
    Cadence,
    CoachingSession,
    FeedToken,
    Meeting,
    MeetingType,
    OccurrenceStatus,
)
from .recurrence import Slot, parse_occurrence_key, scheduled_starts, slots

NEEDS_COACHING = ("too little activity", "too low effectiveness", "both")


def cadence_of(team: Team) -> Cadence | None:
    return Cadence.objects.filter(team=team).first()


def team_meetings(team: Team, *, active_only: bool = True) -> list[Meeting]:
    qs = Meeting.objects.filter(cadence__team=team).prefetch_related("attendees").select_related("cadence__team")
    if active_only:
        qs = qs.filter(is_active=True)
    order = {kind: i for i, kind in enumerate(MeetingType.values)}  # pipeline first, as the cadence runs
    return sorted(qs, key=lambda m: (order.get(m.kind, 99), m.title, m.pk))


def meeting_or_404(user: User, meeting_id: int, *, edit: bool = False) -> Meeting:
    """A meeting of a team the user may read (or change), or one they attend (read only: e.g. a
    rep of a sub-team invited to the parent team's pipeline meeting)."""
    meetings = Meeting.objects.select_related("cadence__team").filter(pk=meeting_id)
    if edit:
        meeting = meetings.filter(cadence__team__in=access.editable_teams(user)).first()
    elif getattr(user, "is_authenticated", False) and user.is_active:
        meeting = meetings.filter(Q(cadence__team__in=access.readable_teams(user)) | Q(attendees=user)).distinct().first()
    else:
        meeting = None
    if meeting is None:
        raise Http404("No such meeting")
    return meeting


def slot_or_404(meeting: Meeting, key: str) -> Slot:
    when = parse_occurrence_key(key)
    if when is None or when not in scheduled_starts(meeting, when - timedelta(minutes=1), when + timedelta(minutes=1)):
        raise Http404("No such occurrence")
    found = slots([meeting], when, when + timedelta(seconds=1), by_actual_start=False)
    return found[0]


def upcoming(meetings: list[Meeting], *, days: int = 28, now: datetime | None = None) -> list[Slot]:
    now = now or timezone.now()
    return slots(meetings, now - timedelta(hours=2), now + timedelta(days=days))


def meetings_of(user: User) -> list[Meeting]:
    """The active meetings a person attends (their calendar)."""
    return list(Meeting.objects.filter(is_active=True, attendees=user).select_related("cadence__team").distinct())


def feed_token(user: User) -> FeedToken | None:
    return FeedToken.objects.filter(user=user).first()


def user_for_token(token: str) -> User | None:
    found = FeedToken.objects.filter(key_hash=secret_hash(token)).select_related("user").first()
    if found is None or not found.user.is_active:
        return None
    return found.user


# ---- the manager's week --------------------------------------------------------------------------


def week_bounds(day: date) -> tuple[datetime, datetime]:
    monday = day - timedelta(days=day.weekday())
    start = timezone.make_aware(datetime.combine(monday, datetime.min.time()))
    return start, start + timedelta(days=7)


def week_meetings(user: User, day: date) -> list[Slot]:
    """This week's occurrences of the meetings of the teams the user runs, and of those they attend."""
    meetings = Meeting.objects.filter(is_active=True).filter(
        Q(cadence__team__in=access.editable_teams(user)) | Q(attendees=user)).select_related("cadence__team").distinct()
    start, end = week_bounds(day)
    return slots(list(meetings), start, end)


# ---- adherence -----------------------------------------------------------------------------------


STATUS_ORDER = [OccurrenceStatus.HELD, OccurrenceStatus.RESCHEDULED, OccurrenceStatus.CANCELLED, OccurrenceStatus.PLANNED]


def first_month(today: date, months: int) -> date:
    """The first day of the month `months - 1` months before today's."""
    return today.replace(day=1) - relativedelta(months=months - 1)


def month_starts(first: date, last: date) -> list[date]:
    out, m = [], first.replace(day=1)
    while m <= last:
        out.append(m)
        m += relativedelta(months=1)
    return out


@dataclass
class AdherenceRow:
    team: Team
    month: date
    held: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    not_recorded: int = 0

    @property
    def total(self) -> int:
        return self.held + self.rescheduled + self.cancelled + self.not_recorded

    def share(self, name: str) -> float | None:
        return getattr(self, name) / self.total if self.total else None

    def as_dict(self) -> dict:
        return {"team": self.team.name, "month": self.month.strftime("%Y-%m"), "scheduled": self.total,
                "held": self.held, "rescheduled": self.rescheduled, "cancelled": self.cancelled,
                "not_recorded": self.not_recorded,
                **{f"{k}_share": round(self.share(k), 4) if self.total else None
                   for k in ("held", "rescheduled", "cancelled", "not_recorded")}}


@dataclass
class Adherence:
    rows: list[AdherenceRow]
    slips: list[Slot] = field(default_factory=list)  # cancelled, rescheduled and unrecorded past occurrences, newest first


_FIELD = {OccurrenceStatus.HELD: "held", OccurrenceStatus.RESCHEDULED: "rescheduled",
          OccurrenceStatus.CANCELLED: "cancelled", OccurrenceStatus.PLANNED: "not_recorded"}


def adherence(user: User, *, months: int = 6, team_id: int | None = None, today: date | None = None) -> Adherence:
    """Per team the user may read and per calendar month: the past occurrences (scheduled before
    now) held as planned, rescheduled, cancelled, or with no record ('not recorded'). Dropped
    meetings count for the months they were in the cadence. An occurrence counts in the month of
    its scheduled start, in the meeting's time zone."""
    teams = access.readable_teams(user)
    if team_id is not None:
        teams = teams.filter(pk=team_id)
    now = timezone.now()
    today = today or timezone.localdate()
    first = first_month(today, months)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time())) - timedelta(days=1)
    meetings = list(Meeting.objects.filter(cadence__team__in=teams).select_related("cadence__team"))
    found = slots(meetings, start, now, by_actual_start=False)
    table: dict[tuple[int, date], AdherenceRow] = {}
    team_list = sorted({m.cadence.team for m in meetings}, key=lambda t: t.name)
    for team in team_list:
        for month in month_starts(first, today):
            table[(team.pk, month)] = AdherenceRow(team, month)
    slips = []
    for s in found:
        local = s.scheduled_start.astimezone(ZoneInfo(s.meeting.time_zone)).date()
        row = table.get((s.meeting.cadence.team_id, local.replace(day=1)))
        if row is None:
            continue
        name = _FIELD[OccurrenceStatus(s.status)]
        setattr(row, name, getattr(row, name) + 1)
        if s.status != OccurrenceStatus.HELD:
            slips.append(s)
    slips.sort(key=lambda s: s.scheduled_start, reverse=True)
    return Adherence(rows=list(table.values()), slips=slips)


# ---- coaching ------------------------------------------------------------------------------------


def coaching_sessions(user: User, *, rep_id: int | None = None, limit: int = 50):
    """Coaching sessions of the reps the user may see (a rep: their own)."""
    qs = CoachingSession.objects.filter(rep__in=User.objects.visible_to(user)).select_related("rep", "manager", "opportunity")
    if not access.is_manager_like(user):
        qs = qs.filter(rep=user)
    if rep_id is not None:
        qs = qs.filter(rep_id=rep_id)
    return qs[:limit]


def coachable_reps(user: User) -> list[User]:
    """The reps of the teams the user runs (the ones they may log coaching for)."""
    return list(User.objects.visible_to(user).filter(role=Role.REP, is_active=True, team__in=access.editable_teams(user))
                .select_related("team").order_by("full_name", "username"))


def coaching_targets() -> dict[int, int]:
    return dict(Cadence.objects.values_list("team_id", "coaching_target_minutes"))


def target_for(rep: User, targets: dict[int, int]) -> int:
    return targets.get(rep.team_id, DEFAULT_COACHING_TARGET_MINUTES)


@dataclass
class CoachingMonth:
    rep: User
    month: date
    minutes: int
    target: int
    sessions: int

    @property
    def gap(self) -> int:
        return max(self.target - self.minutes, 0)

    @property
    def meets_target(self) -> bool:
        return self.minutes >= self.target


def coaching_minutes(user: User, *, months: int = 3, today: date | None = None) -> dict[int, list[CoachingMonth]]:
    """Per rep the user runs: coaching minutes per calendar month (the last `months`, this one
    last) against the team's monthly target."""
    today = today or timezone.localdate()
    reps = coachable_reps(user)
    first = first_month(today, months)
    sums: dict[tuple[int, date], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for s in CoachingSession.objects.filter(rep__in=reps, held_on__gte=first, held_on__lte=today).values("rep_id", "held_on", "minutes"):
        key = (s["rep_id"], s["held_on"].replace(day=1))
        minutes, n = sums[key]
        sums[key] = (minutes + s["minutes"], n + 1)
    targets = coaching_targets()
    return {rep.pk: [CoachingMonth(rep, m, sums[(rep.pk, m)][0], target_for(rep, targets), sums[(rep.pk, m)][1])
                     for m in month_starts(first, today)] for rep in reps}


def diagnosis_by_rep(user: User) -> dict[int, dict]:
    """The diagnosis of Team performance (`analytics.metrics.diagnosis` over `frames_for(user)`,
    its default window) per user id. Its rows name the rep and team, so they are matched back to
    people by (name, team), the way the frames name them."""
    from dealpilot.analytics.frames import frames_for
    from dealpilot.analytics.metrics import diagnosis

    rows = diagnosis(frames_for(user))
    people = {((u.full_name or u.username), u.team.name if u.team_id else None): u.pk
              for u in User.objects.visible_to(user).select_related("team")}
    out = {}
    for r in rows:
        uid = people.get((r["rep"], r.get("team")))
        if uid is not None:
            out[uid] = r
    return out


@dataclass
class Attention:
    rep: User
    reasons: list[str]
    verdict: str | None
    sentence: str
    minutes_this_month: int
    target: int
    urgent: bool  # flagged by the diagnosis and not coached this month


def attention(user: User, *, today: date | None = None) -> list[Attention]:
    """The reps who need the manager: flagged by the diagnosis (too little activity, too low
    effectiveness, both) and/or under the coaching target this month. Flagged reps with no
    coaching at all this month come first (`urgent`)."""
    today = today or timezone.localdate()
    minutes = coaching_minutes(user, months=1, today=today)
    verdicts = diagnosis_by_rep(user)
    out = []
    for rep in coachable_reps(user):
        month = minutes[rep.pk][-1]
        d = verdicts.get(rep.pk)
        verdict = d["verdict"] if d else None
        reasons = []
        flagged = verdict in NEEDS_COACHING
        if flagged:
            reasons.append(f"Diagnosis: {verdict}")
        if month.minutes == 0:
            reasons.append("No coaching this month")
        elif not month.meets_target:
            reasons.append(f"{month.minutes} of {month.target} coaching minutes this month")
        if flagged or not month.meets_target:
            out.append(Attention(rep, reasons, verdict, d["reason"] if d else "", month.minutes, month.target,
                                 urgent=flagged and month.minutes == 0))
    out.sort(key=lambda a: (not a.urgent, a.verdict not in NEEDS_COACHING, a.minutes_this_month, str(a.rep)))
    return out


def slots_around(meeting: Meeting, slot: Slot) -> tuple[str | None, str | None]:
    """The keys of the occurrences before and after `slot` (for previous/next links)."""
    from .recurrence import occurrence_key

    before = scheduled_starts(meeting, slot.scheduled_start - timedelta(days=400), slot.scheduled_start)
    after = scheduled_starts(meeting, slot.scheduled_start + timedelta(seconds=1), slot.scheduled_start + timedelta(days=400))
    return (occurrence_key(before[-1]) if before else None, occurrence_key(after[0]) if after else None)
