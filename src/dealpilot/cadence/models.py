"""The manager's rhythm: a team's cadence of recurring meetings, what happened to each occurrence,
notes per deal discussed, the coaching log, and the secret tokens of the calendar feeds.

A `Meeting` is a recurring series (its rule is turned into dates by `dateutil.rrule`, see
`recurrence.py`); an `Occurrence` row exists only for an occurrence somebody recorded (held,
cancelled, rescheduled, or notes taken), keyed by the series and its *scheduled* start, so the
calendar feed and the adherence report can tell planned from recorded.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from dealpilot.crm.models import Account, Opportunity, Team

DEFAULT_COACHING_TARGET_MINUTES = 60


class MeetingType(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline meeting"
    OPPORTUNITY_REVIEW = "opportunity_review", "Opportunity review"
    FORECAST = "forecast", "Forecast call"
    ACCOUNT_PLANNING = "account_planning", "Strategic account-planning session"
    COACHING = "coaching", "1:1 coaching"
    ENABLEMENT = "enablement", "Team enablement session"


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    EVERY_N_WEEKS = "every_n_weeks", "Every N weeks"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WeekOfMonth(models.IntegerChoices):
    FIRST = 1, "First"
    SECOND = 2, "Second"
    THIRD = 3, "Third"
    FOURTH = 4, "Fourth"
    LAST = -1, "Last"


# The cadence checklist of seed 000 ("To establish an effective sales cadence"), ticked per team.
CHECKLIST_STEPS = [
    ("outcome", "Meet with the team to discuss what the whole team must do to reach the business outcome"),
    ("add", "Identify the high-priority meetings the team must add to its schedule"),
    ("drop", "Identify the meetings the team holds now that no longer add value, and drop them"),
    ("commit", "Commit to a cadence that focuses on high-value items (early-stage opportunities, strategic account planning)"),
    ("customer", "Agree to treat pipeline meetings, opportunity reviews and account-planning sessions like customer meetings: don't cancel, try not to reschedule"),
    ("stay", "Stay true to the cadence agreed with the team"),
]
CHECKLIST_KEYS = [k for k, _ in CHECKLIST_STEPS]


class Cadence(models.Model):
    """A team's agreed rhythm: its settings and the set-up checklist agreed with the team."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="cadence")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="Default time zone of the team's meetings")
    coaching_target_minutes = models.PositiveIntegerField(
        default=DEFAULT_COACHING_TARGET_MINUTES, help_text="1:1 coaching minutes each rep should get per month")
    outcome = models.TextField(blank=True, help_text="The business outcome the team agreed to work towards")
    meetings_to_add = models.TextField(blank=True, help_text="High-priority meetings the team adds")
    meetings_to_drop = models.TextField(blank=True, help_text="Current meetings that no longer add value")
    checklist_done = models.JSONField(default=list, blank=True, help_text="Keys of the checklist steps done")
    agreed_on = models.DateField(null=True, blank=True, help_text="When the team agreed the cadence")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Cadence of {self.team}"

    @property
    def checklist(self) -> list[dict]:
        done = set(self.checklist_done or ())
        return [{"key": k, "label": label, "done": k in done} for k, label in CHECKLIST_STEPS]


class Meeting(models.Model):
    """A recurring meeting of a team's cadence."""

    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="meetings")
    kind = models.CharField(max_length=30, choices=MeetingType.choices)
    title = models.CharField(max_length=200)
    frequency = models.CharField(max_length=20, choices=Frequency.choices, default=Frequency.WEEKLY)
    interval_weeks = models.PositiveSmallIntegerField(default=1, help_text="For 'every N weeks'")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY,
                                               help_text="Day of the week (weekly; monthly/quarterly by week of month)")
    week_of_month = models.SmallIntegerField(choices=WeekOfMonth.choices, null=True, blank=True,
                                             help_text="Monthly/quarterly: e.g. the first Tuesday")
    day_of_month = models.PositiveSmallIntegerField(null=True, blank=True,
                                                    help_text="Monthly/quarterly: a day of the month (1-28) instead")
    start_time = models.TimeField()
    duration_minutes = models.PositiveIntegerField(default=60)
    time_zone = models.CharField(max_length=64, default="UTC")
    starts_on = models.DateField(help_text="The first day the series may fall on")
    ends_on = models.DateField(null=True, blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="cadence_meetings")
    reviewed_accounts = models.ManyToManyField(Account, blank=True, related_name="+")
    reviewed_opportunities = models.ManyToManyField(Opportunity, blank=True, related_name="+")
    is_active = models.BooleanField(default=True, help_text="A dropped meeting stays for its history")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "title", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def schedule_text(self) -> str:
        """The rule in words: "Monthly on the first Tuesday at 10:00 (Europe/Berlin), 120 min"."""
        day = Weekday(self.weekday).label
        if self.frequency == Frequency.WEEKLY:
            when = f"Weekly on {day}"
        elif self.frequency == Frequency.EVERY_N_WEEKS:
            when = f"Every {self.interval_weeks} weeks on {day}" if self.interval_weeks > 1 else f"Weekly on {day}"
        else:
            period = "Monthly" if self.frequency == Frequency.MONTHLY else "Quarterly"
            if self.day_of_month:
                when = f"{period} on day {self.day_of_month}"
            else:
                when = f"{period} on the {WeekOfMonth(self.week_of_month or 1).label.lower()} {day}"
        return f"{when} at {self.start_time:%H:%M} ({self.time_zone}), {self.duration_minutes} min"


class OccurrenceStatus(models.TextChoices):
    PLANNED = "", "Not recorded"
    HELD = "held", "Held as planned"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"


class Occurrence(models.Model):
    """What happened to one scheduled occurrence of a meeting (only recorded ones exist)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="occurrences")
    scheduled_start = models.DateTimeField(help_text="The start the rule gave (the occurrence's identity)")
    status = models.CharField(max_length=20, choices=OccurrenceStatus.choices, blank=True, default=OccurrenceStatus.PLANNED)
    new_start = models.DateTimeField(null=True, blank=True, help_text="Rescheduled: the new start")
    notes = models.TextField(blank=True)
    decisions = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "scheduled_start"], name="one_record_per_occurrence")]


class DealNote(models.Model):
    """A note and decision on one deal discussed in a meeting occurrence (one per deal)."""

    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="deal_notes")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="cadence_notes")
    note = models.TextField(blank=True)
    decision = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["occurrence", "opportunity"], name="one_note_per_deal_per_occurrence")]


class CoachingTopic(models.TextChoices):
    ACTIVITY = "activity", "Activity"
    EFFECTIVENESS = "effectiveness", "Effectiveness"
    DEAL = "deal", "A deal"
    SKILL = "skill", "A skill"


class CoachingSession(models.Model):
    """A 1:1 coaching session a manager held with a rep."""

    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_received")
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="coaching_given")
    held_on = models.DateField()
    topic = models.CharField(max_length=20, choices=CoachingTopic.choices)
    opportunity = models.ForeignKey(Opportunity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="The deal coached on (topic: a deal)")
    skill = models.CharField(max_length=200, blank=True, help_text="The skill coached (topic: a skill)")
    minutes = models.PositiveIntegerField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["rep", "held_on"])]


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class FeedToken(models.Model):
    """The secret in a person's calendar-feed URLs (calendar clients cannot log in). Only its hash
    is stored; the URLs are shown once, when made. Regenerating replaces it, which breaks every URL
    with the old one; revoking deletes it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cadence_feed_token")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)
