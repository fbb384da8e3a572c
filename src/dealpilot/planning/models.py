"""Account prioritisation and account plans.

The scoring model is the sales leader's: which elements make up an account's Current Revenue and
Future Revenue score, their weights, and what each level (High/Medium/Low, or numeric bands)
means. Elements are either computed from the CRM records (`metric`) or rated by people; ratings
are kept per account by the element's `key`, so they survive a re-import of the model.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealpilot.crm.models import Account


class Axis(models.TextChoices):
    CURRENT = "current", "Current revenue"
    FUTURE = "future", "Future revenue"


class ElementKind(models.TextChoices):
    COMPUTED = "computed", "Computed from the records"
    RATED = "rated", "Rated by people"


class ScoringModel(models.Model):
    """The organisation's scoring model (one row, created from the shipped default on first use)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # None: the median of that score over every account scored
    current_threshold = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    future_threshold = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    revenue_window_days = models.PositiveIntegerField(default=365, help_text="What 'recent closed revenue' covers")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self) -> str:
        return self.name


class ScoringElement(models.Model):
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="elements")
    key = models.SlugField(max_length=60)
    axis = models.CharField(max_length=10, choices=Axis.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=ElementKind.choices)
    metric = models.CharField(max_length=60, blank=True, help_text="For computed elements: which measure of the records")
    weight = models.DecimalField(max_digits=6, decimal_places=2)
    # [{"level": "high", "label": "High", "points": 100, "min": 250000, "max": null, "definition": "..."}, ...]
    # checked in order; the first level whose bounds hold the value wins (computed elements).
    levels = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["axis", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["scoring_model", "key"], name="planning_element_key_unique")]

    def __str__(self) -> str:
        return self.name


class AccountRating(models.Model):
    """A person's rating of one rated element for one account (e.g. Solution fit: High)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="planning_ratings")
    element_key = models.SlugField(max_length=60)
    level = models.CharField(max_length=30)
    note = models.TextField(blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "element_key"], name="planning_one_rating_per_element")]
