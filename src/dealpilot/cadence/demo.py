"""The demo organisation's cadence, added by `dealpilot demo` after the CRM import.

`seed_demo()` runs at every `dealpilot demo` start, inside a transaction, and is idempotent: it
gives the first demo manager's team the default cadence, started ten weeks ago, with a history
(most meetings held, a cancelled pipeline meeting, a rescheduled forecast call, last week's left
unrecorded), notes on a held pipeline meeting and some coaching. A team that already has a
cadence is left alone, and the other managers' teams get none, so the demo shows both a running
rhythm and a manager setting one up.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, Team, User

from .models import Cadence, CoachingSession, CoachingTopic, MeetingType, Occurrence, OccurrenceStatus
from .recurrence import scheduled_starts
from .services import create_default_cadence, record_occurrence, save_deal_note

WEEKS_OF_HISTORY = 10


def seed_demo() -> None:
    from dealpilot.demo.loader import demo_org

    managers = demo_org().managers
    if not managers:
        return
    manager = User.objects.filter(crm_id=managers[0].id, role=Role.MANAGER, is_active=True).select_related("team").first()
    if manager is None or manager.team is None:
        return
    seed_team(manager.team, manager)


def seed_team(team: Team, manager: User, today: date | None = None) -> Cadence | None:
    """The default cadence of `team` with ten weeks of history; nothing if it has a cadence."""
    if Cadence.objects.filter(team=team).exists():
        return None
    today = today or timezone.localdate()
    cadence = create_default_cadence(team, by=manager, starts_on=today - timedelta(weeks=WEEKS_OF_HISTORY))
    now = timezone.now()
    last_week = now - timedelta(days=7)
    for meeting in cadence.meetings.all():
        for i, when in enumerate(scheduled_starts(meeting, now - timedelta(weeks=WEEKS_OF_HISTORY), last_week)):
            if meeting.kind == MeetingType.PIPELINE and i == 3:
                record_occurrence(meeting, when, by=manager, status=OccurrenceStatus.CANCELLED,
                                  notes="Cancelled for the quarterly business review")
            elif meeting.kind == MeetingType.FORECAST and i == 2:
                record_occurrence(meeting, when, by=manager, status=OccurrenceStatus.RESCHEDULED,
                                  new_start=when + timedelta(days=1))
            else:
                record_occurrence(meeting, when, by=manager, status=OccurrenceStatus.HELD)
    pipeline = cadence.meetings.get(kind=MeetingType.PIPELINE)
    held = Occurrence.objects.filter(meeting=pipeline, status=OccurrenceStatus.HELD).order_by("-scheduled_start").first()
    reps = list(User.objects.filter(team=team, role=Role.REP, is_active=True).order_by("id"))
    if held is not None:
        held.notes = "Each rep walked through their new opportunities first; stalled deals second."
        held.decisions = "Reps with no new opportunity this week book two prospecting blocks."
        held.save(update_fields=["notes", "decisions", "updated_at"])
        deal = Opportunity.objects.filter(owner__in=reps, is_closed=False).order_by("-amount", "id").first()
        if deal is not None:
            save_deal_note(pipeline, held.scheduled_start, deal.pk, by=manager,
                           note="No stage change for weeks; the economic buyer has not been met.",
                           decision="Manager joins the next call to reach the economic buyer.")
    # coaching: most reps coached last month; this month only half of them so far
    month_start = today.replace(day=1)
    for i, rep in enumerate(reps):
        CoachingSession.objects.create(rep=rep, manager=manager, held_on=month_start - timedelta(days=10 + i % 5),
                                       topic=CoachingTopic.DEAL if i % 2 else CoachingTopic.ACTIVITY, minutes=30 + 15 * (i % 3),
                                       notes="Reviewed the week's pipeline creation.")
        if i % 2 == 0 and today.day > 1:
            CoachingSession.objects.create(rep=rep, manager=manager, held_on=month_start + timedelta(days=min(i, today.day - 2)),
                                           topic=CoachingTopic.SKILL, skill="Discovery questions", minutes=45)
    return cadence
