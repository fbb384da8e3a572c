"""The sales leader's thresholds of the activity-versus-effectiveness diagnosis (one row)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .diagnosis import DEFAULT_THRESHOLDS, Thresholds

SHARE = [MinValueValidator(0.0), MaxValueValidator(2.0)]


class DiagnosisSettings(models.Model):
    producing_share = models.FloatField(default=DEFAULT_THRESHOLDS.producing_share, validators=SHARE,
                                        help_text="A rep whose forecast reaches this share of target is producing and is not diagnosed")
    activity_ratio = models.FloatField(default=DEFAULT_THRESHOLDS.activity_ratio, validators=SHARE,
                                       help_text="Activity below this share of the team's median is too little")
    win_rate_ratio = models.FloatField(default=DEFAULT_THRESHOLDS.win_rate_ratio, validators=SHARE,
                                       help_text="A win rate below this share of the team's median is too low")
    min_closed = models.PositiveIntegerField(default=DEFAULT_THRESHOLDS.min_closed, validators=[MaxValueValidator(1000)],
                                             help_text="Fewer closed deals than this: effectiveness is not judged")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    FIELDS = ("producing_share", "activity_ratio", "win_rate_ratio", "min_closed")

    class Meta:
        verbose_name_plural = "diagnosis settings"

    @classmethod
    def current(cls) -> DiagnosisSettings:
        return cls.objects.order_by("id").first() or cls()

    def thresholds(self) -> Thresholds:
        return Thresholds(**{**DEFAULT_THRESHOLDS.__dict__, **{f: getattr(self, f) for f in self.FIELDS}})
