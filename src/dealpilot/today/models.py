"""Today's settings (the sales leader's thresholds) and what people dismissed or snoozed on it.

Dismissals are kept, never deleted: they say which guidance people ignore and why."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from dealpilot.guidance.items import KIND_LABELS, Thresholds

DEFAULTS = Thresholds()


def _days(default: int, help_text: str, most: int = 365):
    return models.PositiveIntegerField(default=default, validators=[MinValueValidator(0), MaxValueValidator(most)], help_text=help_text)


class TodaySettings(models.Model):
    """One row: the thresholds that decide what reaches Today (and the digests built from it)."""

    due_soon_days = _days(DEFAULTS.due_soon_days, "List next steps due within this many days", 30)
    probability_drop_points = _days(DEFAULTS.probability_drop_points, "A weekly drop of the win probability this big (points) is a risk", 100)
    account_quiet_days = _days(DEFAULTS.account_quiet_days, "An A or B account with no contact this long is listed")
    contact_lapse_days = _days(DEFAULTS.contact_lapse_days, "A key contact (neutral or attitude unknown) with no contact this long has lapsed")
    contact_lapse_days_backers = _days(DEFAULTS.contact_lapse_days_backers, "A champion or supporter with no contact this long has lapsed")
    contact_lapse_days_critics = _days(DEFAULTS.contact_lapse_days_critics, "A sceptic or opponent with no contact this long has lapsed")
    plan_review_days = _days(DEFAULTS.plan_review_days, "List account plan reviews due within this many days", 90)
    creation_short_share = models.FloatField(default=DEFAULTS.creation_short_share,
                                             validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
                                             help_text="A team creating fewer new deals than this share of its usual is short")
    big_deals = _days(DEFAULTS.big_deals, "How many of the biggest deals at risk a leader sees", 100)
    changed_deals = _days(DEFAULTS.changed_deals, "How many of the most changed deals a manager sees", 100)
    big_deal_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True,
                                          validators=[MinValueValidator(0)],
                                          help_text="A deal this big or bigger is a big deal for alerts (empty: the top tenth of open deals)")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "today settings"

    FIELDS = ("due_soon_days", "probability_drop_points", "account_quiet_days", "contact_lapse_days",
              "contact_lapse_days_backers", "contact_lapse_days_critics", "plan_review_days",
              "creation_short_share", "big_deals", "changed_deals", "big_deal_amount")

    @classmethod
    def current(cls) -> TodaySettings:
        obj = cls.objects.order_by("id").first()
        return obj if obj is not None else cls.objects.create()

    def thresholds(self) -> Thresholds:
        values = {f: getattr(self, f) for f in self.FIELDS}
        values["big_deal_amount"] = float(self.big_deal_amount) if self.big_deal_amount is not None else None
        return Thresholds(**values)


class Dismissal(models.Model):
    """A person set an item aside: dismissed (with a reason) or snoozed until a day."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="today_dismissals")
    key = models.CharField(max_length=200, help_text="The item's situation (guidance.items.Item.key)")
    kind = models.CharField(max_length=40, choices=list(KIND_LABELS.items()))
    reason = models.CharField(max_length=500, blank=True)
    snoozed_until = models.DateField(null=True, blank=True, help_text="Empty: dismissed for good")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "key"])]

    def __str__(self) -> str:
        return f"{self.user} set aside {self.key}"
