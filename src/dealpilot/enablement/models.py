"""Enablement records: content modules (with tags and credited authors), what people did with
them (views, downloads, uses with a customer, shares), ratings, win/loss knowledge, and the
settings a sales leader owns (stage -> journey phase mapping, who may rate, the large-deal
threshold)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from simple_history.models import HistoricalRecords

from dealpilot.crm.models import MONEY, VERSION_HELP, ContactRole, Role
from dealpilot.recycle_bin.models import SoftDeletable, alive_manager


class ContentKind(models.TextChoices):
    VALUE_MESSAGE = "value_message", "Value message"
    CASE_STUDY = "case_study", "Case study"
    PLAYBOOK = "playbook", "Playbook"
    BATTLE_CARD = "battle_card", "Battle card"
    TEMPLATE = "template", "Template"
    TRAINING = "training", "Training"


class ContentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class JourneyPhase(models.TextChoices):
    AWARENESS = "awareness", "Awareness"
    BUYING = "buying", "Buying"
    IMPLEMENTATION = "implementation", "Implementation"


class TagDimension(models.TextChoices):
    CHALLENGE = "challenge", "Customer challenge"
    INDUSTRY = "industry", "Industry"
    BUYER_ROLE = "buyer_role", "Buyer role"
    PHASE = "phase", "Journey phase"
    STAGE = "stage", "Deal stage"
    PRODUCT = "product", "Product"


BUYER_ROLES = ContactRole  # a module's buyer-role tags use the CRM's contact roles


class ContentModuleQuerySet(models.QuerySet):
    def visible_to(self, user) -> ContentModuleQuerySet:
        """Authors (enablement, leaders, admins) see every module; everyone else the published ones."""
        from .access import can_author

        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if can_author(user):
            return self
        return self.filter(status=ContentStatus.PUBLISHED)

    def published(self) -> ContentModuleQuerySet:
        return self.filter(status=ContentStatus.PUBLISHED)


class ContentModule(SoftDeletable):
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ContentKind.choices)
    summary = models.CharField(max_length=300, blank=True, help_text="One line shown in lists and suggestions")
    body = models.TextField(blank=True)
    # A value message's text for the rep, with named placeholders such as {account} (see messages.py).
    message_template = models.TextField(blank=True)
    # The value proposition in one sentence, and the author's answers to the seven questions.
    value_proposition = models.TextField(blank=True)
    vp_answers = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="enablement/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(max_length=200, blank=True, help_text="The uploaded file's (safe) name")
    file_type = models.CharField(max_length=10, blank=True, help_text="pdf, docx or pptx")
    file_size = models.PositiveIntegerField(null=True, blank=True)
    extracted_text = models.TextField(blank=True, help_text="The file's text, for search and relevance")
    # The text is read by the task worker after the upload (never in the web request).
    text_status = models.CharField(max_length=10, blank=True, choices=[("", "no file"), ("pending", "being read"),
                                                                        ("ready", "read"), ("failed", "unreadable")])
    text_error = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=10, default="en")
    status = models.CharField(max_length=10, choices=ContentStatus.choices, default=ContentStatus.DRAFT)
    review_date = models.DateField(null=True, blank=True, help_text="When the content is due for review")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="owned_content")
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="authored_content", blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = alive_manager(ContentModuleQuerySet)  # hides the recycle bin
    all_objects = ContentModuleQuerySet.as_manager()
    # The file's extracted text is derived from the file (whose name is tracked), and long.
    history = HistoricalRecords(excluded_fields=["updated_at", "created_at", "extracted_text", "text_status", "text_error",
                                                 "version"])

    class Meta:
        indexes = [models.Index(fields=["status", "kind"]), models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return self.title

    def tag_values(self, dimension: str) -> list[str]:
        return [t.value for t in self.tags.all() if t.dimension == dimension]


class ContentTag(models.Model):
    """One tag of a module: a dimension (industry, buyer role, ...) and a value; `key` is the value
    normalised for matching (lower case, single spaces)."""

    module = models.ForeignKey(ContentModule, on_delete=models.CASCADE, related_name="tags")
    dimension = models.CharField(max_length=20, choices=TagDimension.choices)
    value = models.CharField(max_length=200)
    key = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["module", "dimension", "key"], name="enablement_tag_once")]
        indexes = [models.Index(fields=["dimension", "key"])]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.value}"


class EventKind(models.TextChoices):
    VIEW = "view", "Viewed"
    DOWNLOAD = "download", "Downloaded"
    USE = "use", "Used with a customer"
    SHARE = "share", "Shared"


class ContentEvent(models.Model):
    module = models.ForeignKey(ContentModule, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="content_events")
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    opportunity = models.ForeignKey("crm.Opportunity", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="content_events")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["module", "kind"]), models.Index(fields=["user", "module", "kind"]),
                   models.Index(fields=["opportunity", "kind"])]


class ContentRating(models.Model):
    module = models.ForeignKey(ContentModule, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_ratings")
    stars = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["module", "user"], name="enablement_one_rating_per_user"),
            models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5), name="enablement_stars_1_to_5"),
        ]


class KnowledgeKind(models.TextChoices):
    WIN_LOSS = "win_loss", "Win/loss analysis"
    BEST_PRACTICE = "best_practice", "Best practice"


class KnowledgeEntry(models.Model):
    """A shared win/loss analysis or best practice: readable by everyone signed in (share instead
    of hoard); the linked deal is shown only to those who may see it."""

    kind = models.CharField(max_length=20, choices=KnowledgeKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    opportunity = models.ForeignKey("crm.Opportunity", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="knowledge_entries")
    outcome = models.CharField(max_length=10, blank=True, help_text="won or lost, copied from the deal when written")
    industry = models.CharField(max_length=120, blank=True)
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="knowledge_entries", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL's full-text document (GIN-indexed, kept by fulltext.index_entry); unused on SQLite,
    # where an FTS5 table holds the text instead.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name_plural = "knowledge entries"
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return self.title


DEFAULT_STAGE_PHASES = {
    # The demo's Salesforce stages and common ones; anything unmapped is in the buying phase.
    "prospecting": JourneyPhase.AWARENESS, "qualification": JourneyPhase.AWARENESS,
    "needs analysis": JourneyPhase.AWARENESS, "discovery": JourneyPhase.AWARENESS,
    "value proposition": JourneyPhase.BUYING, "id. decision makers": JourneyPhase.BUYING,
    "perception analysis": JourneyPhase.BUYING, "proposal/price quote": JourneyPhase.BUYING,
    "proposal": JourneyPhase.BUYING, "negotiation/review": JourneyPhase.BUYING, "negotiation": JourneyPhase.BUYING,
    "closed won": JourneyPhase.IMPLEMENTATION, "closed lost": JourneyPhase.BUYING,
}
DEFAULT_RATING_ROLES = [Role.REP.value, Role.MANAGER.value]


def default_stage_phases() -> dict:
    return {k: str(v) for k, v in DEFAULT_STAGE_PHASES.items()}


def default_rating_roles() -> list:
    return list(DEFAULT_RATING_ROLES)


class EnablementSettings(models.Model):
    """The sales leader's settings for enablement (one row; `current()` creates it with defaults)."""

    stage_phases = models.JSONField(default=default_stage_phases, help_text="Deal stage (lower case) -> journey phase")
    default_phase = models.CharField(max_length=20, choices=JourneyPhase.choices, default=JourneyPhase.BUYING)
    rating_roles = models.JSONField(default=default_rating_roles, help_text="Roles whose ratings count")
    large_deal_amount = models.DecimalField(**MONEY, default=Decimal("100000"))
    large_deal_days = models.PositiveIntegerField(default=180, help_text="How far back a closed deal asks for an analysis")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "enablement settings"

    @classmethod
    def current(cls) -> EnablementSettings:
        obj = cls.objects.order_by("pk").first()
        return obj or cls.objects.create()

    def phase_for_stage(self, stage: str) -> str:
        return self.stage_phases.get(" ".join((stage or "").lower().split()), self.default_phase)
