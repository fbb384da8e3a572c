"""Who wants which digests and alerts, what happened (alert events), the bell, and every delivery.

A delivery has a unique key (a person's digest of a day, an alert to a person or a team's webhook), so it
is made and sent once however often the scheduler runs and however many workers run it; a failed send
stays on record and is retried with back-off, never dropped silently."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def default_time_zone() -> str:
    return settings.TIME_ZONE


class AlertKind(models.TextChoices):
    VULNERABILITY = "vulnerability", "A deal of mine got a new vulnerability"
    CLOSED_LOST = "closed_lost", "A deal in my team closed lost"
    BIG_DEAL_PUSHED = "big_deal_pushed", "A big deal's close date was pushed"


class Subscription(models.Model):
    """One person's choices (made with role-based defaults the first time they are read)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription")
    daily_digest = models.BooleanField(default=True, help_text="Each morning: my Today list by e-mail")
    weekly_digest = models.BooleanField(default=False, help_text="Monday morning: my team's week (managers and leaders)")
    alert_vulnerability = models.BooleanField(default=True, help_text=AlertKind.VULNERABILITY.label)
    alert_closed_lost = models.BooleanField(default=False, help_text=AlertKind.CLOSED_LOST.label)
    alert_big_deal_pushed = models.BooleanField(default=True, help_text=AlertKind.BIG_DEAL_PUSHED.label)
    alerts_by_email = models.BooleanField(default=False, help_text="Alerts also by e-mail (they always reach the bell)")
    digest_hour = models.PositiveSmallIntegerField(default=7, validators=[MaxValueValidator(23)],
                                                   help_text="The local hour the digests are sent at")
    time_zone = models.CharField(max_length=64, default=default_time_zone, help_text="Where the morning is")
    updated_at = models.DateTimeField(auto_now=True)

    FIELDS = ("daily_digest", "weekly_digest", "alert_vulnerability", "alert_closed_lost", "alert_big_deal_pushed",
              "alerts_by_email", "digest_hour", "time_zone")

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, f"alert_{kind}", False))

    def __str__(self) -> str:
        return f"{self.user}'s subscription"


class TeamWebhook(models.Model):
    """A team's chat channel: alerts about the team's deals (and those of the teams below it) go there."""

    class Flavour(models.TextChoices):
        SLACK = "slack", "Slack (or any {text} incoming webhook)"
        TEAMS = "teams", "Microsoft Teams"

    team = models.ForeignKey("crm.Team", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=120, help_text="e.g. #sales-emea")
    url = models.URLField(max_length=500, help_text="The channel's incoming webhook URL (a secret: shown masked)")
    flavour = models.CharField(max_length=10, choices=Flavour.choices, default=Flavour.SLACK)
    alert_closed_lost = models.BooleanField(default=True, help_text="A deal of the team closed lost")
    alert_big_deal_pushed = models.BooleanField(default=True, help_text="A big deal's close date was pushed")
    alert_vulnerability = models.BooleanField(default=False, help_text="A deal of the team got a new vulnerability")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name"]

    def wants(self, kind: str) -> bool:
        return self.is_active and bool(getattr(self, f"alert_{kind}", False))

    @property
    def masked_url(self) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/\u2026{self.url[-4:]}"

    def __str__(self) -> str:
        return f"{self.team}: {self.name}"


class DealWatch(models.Model):
    """What the alert scan last saw of an open deal, to tell what is new (a closing, a push, a vulnerability)."""

    opportunity = models.OneToOneField("crm.Opportunity", on_delete=models.CASCADE, primary_key=True, related_name="+")
    close_date = models.DateField(null=True, blank=True)
    is_closed = models.BooleanField(default=False)
    vulnerabilities = models.JSONField(default=list, help_text="Codes of the signals at the last score")
    seen_at = models.DateTimeField()


class AlertScan(models.Model):
    """One row: when the alert scan last ran (it reads what changed since then)."""

    last_run_at = models.DateTimeField(null=True, blank=True)


class AlertEvent(models.Model):
    """Something that happened to a deal that people may be told about; its key makes it happen once."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    opportunity = models.ForeignKey("crm.Opportunity", null=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=300)
    text = models.TextField()
    url = models.CharField(max_length=300)
    happened_at = models.DateTimeField()

    class Meta:
        ordering = ["-happened_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """The bell: an alert as one person reads it in the app."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="one_notification_per_person_and_event")]
        indexes = [models.Index(fields=["user", "read_at"])]


class Delivery(models.Model):
    """One message to send (an e-mail or a webhook post), made once per key, sent with retries."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Chat webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=30, help_text="daily, weekly or the alert's kind")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    webhook = models.ForeignKey(TeamWebhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="A webhook's JSON body")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, validators=[MinValueValidator(0)])
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A worker is sending it until then")
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return self.key
