"""Forecast calls and what they rest on, kept: nothing here is ever overwritten.

- `CategoryChange`: a deal's forecast category as set by its rep or a manager above them (with a note,
  who, when). A deal's category is its latest change, else the CRM's `Opportunity.forecast_category`.
- `ForecastCall`: a person's call for a period (commit and best case), submitted by themselves
  (`kind=call`) or overridden by a manager above them (`kind=override`); every submission is a new row.
- `ForecastSnapshot` / `DealSnapshot` / `SnapshotWeek`: what each person's forecast and each deal looked
  like in an ISO week (`dealpilot forecast snapshot`, once per week).

Rows that hang off a sequence (`seq`: 1, 2, 3 per deal, or per person and period) carry a unique
constraint on it: that is the optimistic lock (docs/forecasting.md). A writer who saw version n
writes row n + 1; of two writers who saw the same version exactly one can.

The CRM records are not changed: the rep's own category in the CRM stays as imported.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealpilot.crm.models import MONEY, Opportunity

NOTE_LENGTH = 500  # a note on a category or a call: one or two sentences that say why


class Category(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


# what a rep or manager may choose for an open deal: "closed" follows a won stage, never a choice
OPEN_CATEGORIES = (Category.PIPELINE, Category.BEST_CASE, Category.COMMIT, Category.OMITTED)


class CategoryChange(models.Model):
    """One setting of a deal's forecast category."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="forecast_category_changes")
    seq = models.PositiveIntegerField(help_text="1, 2, 3... per deal: the category's version")
    category = models.CharField(max_length=20, choices=Category.choices)
    previous = models.CharField(max_length=20, choices=Category.choices, blank=True,
                                help_text="The category it replaced (the CRM's when first set here)")
    note = models.CharField(max_length=NOTE_LENGTH, blank=True)
    is_override = models.BooleanField(default=False, help_text="Set by someone other than the deal's owner (a manager)")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["opportunity_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["opportunity", "seq"], name="forecast_category_seq")]


class CallKind(models.TextChoices):
    CALL = "call", "Call"
    OVERRIDE = "override", "Override"


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class ForecastCall(models.Model):
    """A forecast call for one person and period: theirs, or a manager's override of it."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_calls")
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    seq = models.PositiveIntegerField(help_text="1, 2, 3... per person and period: the forecast's version")
    kind = models.CharField(max_length=10, choices=CallKind.choices)
    commit = models.DecimalField(**MONEY)
    best_case = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    note = models.CharField(max_length=NOTE_LENGTH, blank=True)
    # what the app showed beside the call when it was made
    derived_commit = models.DecimalField(**MONEY, help_text="Won + commit deals (a manager: the team's calls) at the time")
    derived_best_case = models.DecimalField(**MONEY)
    model_expected = models.FloatField(null=True, blank=True)
    model_p10 = models.FloatField(null=True, blank=True)
    model_p90 = models.FloatField(null=True, blank=True)
    target = models.DecimalField(**MONEY, null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField()
    week = models.DateField(help_text="Monday of the ISO week it was made in")

    class Meta:
        ordering = ["person_id", "period_start", "seq"]
        constraints = [models.UniqueConstraint(fields=["person", "period_start", "period_end", "seq"], name="forecast_call_seq")]
        indexes = [models.Index(fields=["period_start", "period_end"])]


class SnapshotWeek(models.Model):
    """One weekly snapshot run: its week is taken once (the job is idempotent per week)."""

    week = models.DateField(unique=True, help_text="Monday of the ISO week")
    as_of = models.DateField(help_text="The day the deals are as of: the day it was taken (the demo's: reconstructed)")
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices, default=PeriodKind.QUARTER)
    period_start = models.DateField()
    period_end = models.DateField()
    taken_at = models.DateTimeField()
    deals = models.PositiveIntegerField(default=0)
    people = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=NOTE_LENGTH, blank=True)

    class Meta:
        ordering = ["-week"]


class DealSnapshot(models.Model):
    """A deal as it stood in a week: what the week-over-week changes are computed from."""

    week = models.DateField()
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="forecast_snapshots")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stage = models.CharField(max_length=120, blank=True)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    close_date = models.DateField(null=True, blank=True)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    category = models.CharField(max_length=20, choices=Category.choices)
    probability = models.FloatField(null=True, blank=True, help_text="The calibrated win probability (0..1) that week")
    rep_probability = models.FloatField(null=True, blank=True, help_text="The rep's / CRM's probability (0..1)")

    class Meta:
        ordering = ["week", "opportunity_id"]
        constraints = [models.UniqueConstraint(fields=["week", "opportunity"], name="one_deal_snapshot_a_week")]


class ForecastSnapshot(models.Model):
    """A person's forecast for a period as it stood in a week: their call beside the model's."""

    week = models.DateField()
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_snapshots")
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    call = models.ForeignKey(ForecastCall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="The call in force that week (an override when there is one)")
    call_commit = models.DecimalField(**MONEY, null=True, blank=True)
    call_best_case = models.DecimalField(**MONEY, null=True, blank=True)
    derived_commit = models.DecimalField(**MONEY)
    derived_best_case = models.DecimalField(**MONEY)
    won = models.DecimalField(**MONEY)
    model_expected = models.FloatField()
    model_p10 = models.FloatField()
    model_p50 = models.FloatField()
    model_p90 = models.FloatField()
    stage_weighted = models.FloatField(null=True, blank=True)
    target = models.DecimalField(**MONEY, null=True, blank=True)
    open_deals = models.PositiveIntegerField(default=0)
    won_deals = models.PositiveIntegerField(default=0)
    unscored_deals = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["week", "person_id"]
        constraints = [models.UniqueConstraint(fields=["week", "person", "period_start", "period_end"],
                                               name="one_forecast_snapshot_a_week")]
