"""Account prioritisation and account plans.

The scoring model is the sales leader's: which elements make up an account's Current Revenue and
Future Revenue score, their weights, and what each level (High/Medium/Low, or numeric bands)
means. Elements are either computed from the CRM records (`metric`) or rated by people; ratings
are kept per account by the element's `key`, so they survive a re-import of the model.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from dealpilot.crm.models import MONEY, VERSION_HELP, Account
from dealpilot.recycle_bin.models import SoftDeletable, alive_manager


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
    rated_at = models.DateTimeField(auto_now=True, db_index=True)  # the ratings' version reads its latest

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "element_key"], name="planning_one_rating_per_element")]


# ---- account plans ---------------------------------------------------------------------------------

class AccountPlan(SoftDeletable):
    """One strategic plan per account; visible and editable to whoever may see the account.

    A deleted plan stays in the recycle bin (and still holds its account's one plan) until it is
    restored or purged."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="account_plan")
    title = models.CharField(max_length=200)
    period_start = models.DateField()
    period_end = models.DateField()
    review_date = models.DateField(null=True, blank=True, help_text="When the team reviews the plan next")
    pipeline_goal = models.DecimalField(**MONEY, null=True, blank=True, help_text="Open pipeline the plan aims for")
    currency = models.CharField(max_length=3, default="USD")
    summary = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # the whole plan's: a change to the plan or any of its parts (units, research, objectives,
    # strategies, actions) bumps it
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = alive_manager(models.QuerySet)  # hides the recycle bin
    all_objects = models.Manager()
    # `history` is the plan's event log (PlanEvent); the field history goes by another name
    field_history = HistoricalRecords(excluded_fields=["updated_at", "created_at", "version"])

    def __str__(self) -> str:
        return self.title


class PlanScope(models.Model):
    """A plan unit (crm PlanUnit) the plan covers, with the customer's goals, pressures,
    initiatives and obstacles in that unit."""

    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="units")
    plan_unit = models.ForeignKey("crm.PlanUnit", on_delete=models.CASCADE, related_name="+")
    strategic = models.BooleanField(default=False, help_text="A unit where we can uniquely deliver value")
    goals = models.TextField(blank=True)
    pressures = models.TextField(blank=True)
    initiatives = models.TextField(blank=True)
    obstacles = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["plan", "plan_unit"], name="planning_unit_once_per_plan")]

    def __str__(self) -> str:
        return str(self.plan_unit)


class ResearchArea(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    COMPETITOR = "competitor", "Competitor"
    COMPANY = "company", "Our company"


class ResearchNote(models.Model):
    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="research")
    area = models.CharField(max_length=12, choices=ResearchArea.choices)
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["area", "id"]


class ObjectiveKind(models.TextChoices):
    REVENUE = "revenue", "Revenue objective"
    BUSINESS_DEVELOPMENT = "business_development", "Business-development objective"
    ACCOUNT = "account", "Account objective"


class Objective(models.Model):
    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="objectives")
    kind = models.CharField(max_length=24, choices=ObjectiveKind.choices)
    unit = models.ForeignKey(PlanScope, null=True, blank=True, on_delete=models.CASCADE, related_name="objectives",
                             help_text="Empty: the whole account")
    title = models.CharField(max_length=300)
    target_amount = models.DecimalField(**MONEY, null=True, blank=True, help_text="Revenue target / potential")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]


class Strategy(models.Model):
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="strategies")
    text = models.CharField(max_length=500)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "strategies"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Action(models.Model):
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN)

    class Meta:
        ordering = ["due_date", "id"]


class PlanEvent(models.Model):
    """The plan's history: who changed what, when (kept, never edited)."""

    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="history")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.CharField(max_length=300)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]


# ---- people and influence, white space, account leads -------------------------------------------------


class Power(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Attitude(models.TextChoices):
    CHAMPION = "champion", "Champion"
    SUPPORTER = "supporter", "Supporter"
    NEUTRAL = "neutral", "Neutral"
    SCEPTIC = "sceptic", "Sceptic"
    OPPONENT = "opponent", "Opponent"


class DecisionStyle(models.TextChoices):
    ANALYTICAL = "analytical", "Analytical (facts, detail)"
    DRIVER = "driver", "Driver (results, speed)"
    AMIABLE = "amiable", "Amiable (consensus, trust)"
    EXPRESSIVE = "expressive", "Expressive (vision, recognition)"


class ContactProfile(models.Model):
    """What the account team knows about a contact's part in decisions (the CRM has no field for it)."""

    contact = models.OneToOneField("crm.Contact", on_delete=models.CASCADE, related_name="planning_profile")
    decision_role = models.CharField(max_length=30, blank=True, help_text="Role in decisions (crm ContactRole values)")
    power = models.CharField(max_length=10, choices=Power.choices, blank=True)
    attitude = models.CharField(max_length=10, choices=Attitude.choices, blank=True)
    decision_style = models.CharField(max_length=12, choices=DecisionStyle.choices, blank=True)
    key_person = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class Influence(models.Model):
    """`source` influences `target` (both contacts of the same account)."""

    source = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "target"], name="planning_influence_once"),
                       models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="planning_influence_not_self")]


class CellStatus(models.TextChoices):
    SOLD = "sold", "Sold"
    IN_PURSUIT = "in_pursuit", "In pursuit"
    POTENTIAL = "potential", "Potential"
    WHITE_SPACE = "white_space", "White space"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class WhiteSpaceCell(models.Model):
    """A person's setting of one cell of the white-space map (otherwise computed from opportunities)."""

    plan_unit = models.ForeignKey("crm.PlanUnit", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("crm.Product", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=CellStatus.choices)
    note = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan_unit", "product"], name="planning_one_cell")]


class LeadStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONVERTED = "converted", "Converted"
    DROPPED = "dropped", "Dropped"


class AccountLead(models.Model):
    """A new-business idea from account management (e.g. a white-space cell), until it becomes an opportunity."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="planning_leads")
    plan_unit = models.ForeignKey("crm.PlanUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey("crm.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=LeadStatus.choices, default=LeadStatus.OPEN)
    opportunity = models.ForeignKey("crm.Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class PlanComment(models.Model):
    """The plan's discussion feed; @username mentions name people who may see the account."""

    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="planning_mentions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
