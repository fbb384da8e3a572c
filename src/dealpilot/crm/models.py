"""The CRM records dealpilot reads: people and teams, accounts, contacts, opportunities, activities.

Every record that comes from a CRM keeps the CRM's own id in `crm_id` (unique), which is what
imports upsert by. Records created inside dealpilot have no crm_id. Access control lives in the
querysets: `Model.objects.visible_to(user)` is the one way to list sales records for a person.
"""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from simple_history.models import HistoricalRecords

from dealpilot.recycle_bin.models import SoftDeletable, alive_manager

from .visibility import (
    AccountQuerySet,
    ActivityQuerySet,
    ContactQuerySet,
    NextStepQuerySet,
    OpportunityChildQuerySet,
    OpportunityQuerySet,
    OwnedQuerySet,
    PlanUnitQuerySet,
    TeamQuerySet,
    UserQuerySet,
)

MONEY = {"max_digits": 18, "decimal_places": 2}
# SQLite keeps a decimal as a double: 15 significant digits come back exactly, more come back as a
# value the column cannot hold (every later read of the record fails). Inputs (the API, imports)
# accept at most this many digits, whatever the column allows.
SAFE_DECIMAL_DIGITS = 15
MAX_SAFE_AMOUNT = Decimal(10) ** (SAFE_DECIMAL_DIGITS - MONEY["decimal_places"])  # amounts stay below it
# optimistic concurrency (dealpilot/concurrency.py): every change bumps it, a write must name the one it saw
VERSION_HELP = "Bumped by every change; a write naming an older version is refused"
DEFAULT_CURRENCY = "USD"


def crm_id_field() -> models.CharField:
    # Unique through a constraint rather than unique=True: on PostgreSQL that spares every table a
    # second (LIKE) index on the id, which imports would maintain for nothing.
    return models.CharField(max_length=255, null=True, blank=True, help_text="The CRM's own id")


def unique_crm_id() -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=["crm_id"], name="%(app_label)s_%(class)s_crm_id_unique")


# Field history (django-simple-history): who changed which field when, for the records people edit.
# Not history: `updated_at` and `version` (change on every save) and `extra` (CRM-only fields,
# written by imports).
# Imports write in bulk with SQL and record no history per row: their ImportRun is the record of
# what an import changed.
HISTORY_EXCLUDED = ["updated_at", "created_at", "extra", "version"]


class TimestampedRecord(models.Model):
    crm_id = crm_id_field()
    extra = models.JSONField(default=dict, blank=True, help_text="CRM fields dealpilot has no column for (e.g. Salesforce __c)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [unique_crm_id()]


class Team(TimestampedRecord):
    """A sales team; teams form a hierarchy (a Salesforce role hierarchy maps onto it)."""

    name = models.CharField(max_length=255)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")

    objects = TeamQuerySet.as_manager()
    # a team's place in the hierarchy decides which managers see whose deals: who moved it, when
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    REP = "rep", "Sales rep"
    MANAGER = "manager", "Sales manager"
    LEADER = "leader", "Sales leader"
    ENABLEMENT = "enablement", "Enablement author"
    ADMIN = "admin", "Administrator"


class DealpilotUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    crm_id = crm_id_field()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    full_name = models.CharField(max_length=255, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DealpilotUserManager()
    # Role, team, manager and rights decide what a person sees: every change is recorded with who
    # made it (an admin; imports never change them for people who log in). A login is not a change:
    # crm.apps stores last_login without a save.
    history = HistoricalRecords(excluded_fields=["password", "last_login", "updated_at", "extra"])

    class Meta(AbstractUser.Meta):
        constraints = [unique_crm_id()]

    def __str__(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    @property
    def sees_everything(self) -> bool:
        return self.is_superuser or self.role in (Role.LEADER, Role.ADMIN)


class Account(TimestampedRecord, SoftDeletable):
    name = models.CharField(max_length=255)
    industry = models.CharField(max_length=120, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    size = models.CharField(max_length=20, blank=True, help_text="Size band derived from employees")
    region = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=120, blank=True)
    annual_revenue = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subsidiaries")
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = alive_manager(AccountQuerySet)  # hides the recycle bin
    all_objects = AccountQuerySet.as_manager()  # with the bin: restore, purge
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)

    class Meta(TimestampedRecord.Meta):
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


class PlanUnit(TimestampedRecord):
    """A division or business unit of an account that an account plan can cover."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plan_units")
    name = models.CharField(max_length=255)

    objects = PlanUnitQuerySet.as_manager()

    class Meta(TimestampedRecord.Meta):
        constraints = [unique_crm_id(), models.UniqueConstraint(fields=["account", "name"], name="plan_unit_name_per_account")]

    def __str__(self) -> str:
        return self.name


class Contact(TimestampedRecord, SoftDeletable):
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts")
    plan_unit = models.ForeignKey(PlanUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120)
    title = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=60, blank=True)
    reports_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="direct_reports")
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    has_left = models.BooleanField(default=False, help_text="No longer with the account")
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = alive_manager(ContactQuerySet)  # hides the recycle bin
    all_objects = ContactQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Product(TimestampedRecord):
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=120, blank=True)
    family = models.CharField(max_length=120, blank=True)
    list_price = models.DecimalField(**MONEY, null=True, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Source(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    REFERRAL = "referral", "Referral"
    PARTNER = "partner", "Partner"
    BLIND_RFP = "blind_rfp", "Blind RFP"
    EXISTING = "existing", "Existing customer"
    OTHER = "other", "Other"
    UNKNOWN = "", "Unknown"


class Opportunity(TimestampedRecord, SoftDeletable):
    name = models.CharField(max_length=255, blank=True)
    # Salesforce and the real datasets both have opportunities with no account (private deals,
    # early prospecting), so the account is optional.
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="opportunities")
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities")
    stage = models.CharField(max_length=120)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    created_date = models.DateField(null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    source = models.CharField(max_length=20, choices=Source.choices, blank=True, default=Source.UNKNOWN)
    source_detail = models.CharField(max_length=255, blank=True, help_text="The CRM's own lead source text")
    probability = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, help_text="The rep's / CRM's probability, %")
    forecast_category = models.CharField(max_length=60, blank=True)
    lost_reason = models.CharField(max_length=255, blank=True)
    competitor = models.CharField(max_length=255, blank=True, help_text="Who won it, when a competitor did")
    close_comment = models.TextField(blank=True, help_text="Why it closed as it did, in the rep's words")
    description = models.TextField(blank=True)
    products = models.ManyToManyField(Product, through="LineItem", related_name="opportunities")
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = alive_manager(OpportunityQuerySet)  # hides the recycle bin
    all_objects = OpportunityQuerySet.as_manager()  # with the bin: restore, purge, imports
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)

    class Meta(TimestampedRecord.Meta):
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["owner", "created_date"]),
            models.Index(fields=["close_date"]),
            models.Index(fields=["is_closed", "is_won"]),
        ]

    def __str__(self) -> str:
        return self.name or self.crm_id or f"Opportunity {self.pk}"

    @property
    def status(self) -> str:
        if not self.is_closed:
            return "open"
        return "won" if self.is_won else "lost"


class LineItem(TimestampedRecord):
    """A product line on an opportunity."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="line_items")
    quantity = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(1))
    unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    total_price = models.DecimalField(**MONEY, null=True, blank=True)

    objects = OpportunityChildQuerySet.as_manager()


class StageHistory(TimestampedRecord):
    """One change of an opportunity's stage (Salesforce OpportunityHistory)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_history")
    stage = models.CharField(max_length=120)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    probability = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = OpportunityChildQuerySet.as_manager()

    class Meta(TimestampedRecord.Meta):
        verbose_name_plural = "stage history"
        indexes = [models.Index(fields=["opportunity", "changed_at"])]


class LostReason(models.Model):
    """A reason a deal is lost, from the list the sales leader keeps (defaults: the domain brief's
    no decision, lost to a competitor, price, no budget, timing, no fit, champion left, unresponsive).
    A deal closed lost in dealpilot needs one; imports keep what the CRM says."""

    label = models.CharField(max_length=120, unique=True)
    needs_competitor = models.BooleanField(default=False, help_text="Closing with it asks which competitor won")
    is_active = models.BooleanField(default=True, help_text="Offered when closing a deal (old reasons stay on old deals)")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


DEFAULT_LOST_REASONS = [("No decision / status quo", False), ("Lost to a competitor", True), ("Price", False),
                        ("No budget", False), ("Timing", False), ("No fit", False), ("Champion left", False),
                        ("Unresponsive", False)]


class ContactRoleManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(contact__deleted_at__isnull=True)


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    CHAMPION = "champion", "Champion"
    INFLUENCER = "influencer", "Influencer"
    TECHNICAL_BUYER = "technical_buyer", "Technical buyer"
    EVALUATOR = "evaluator", "Evaluator"
    USER = "user", "User"
    GATEKEEPER = "gatekeeper", "Gatekeeper"
    OTHER = "other", "Other"


class OpportunityContactRole(TimestampedRecord):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="contact_roles")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="opportunity_roles")
    role = models.CharField(max_length=30, choices=ContactRole.choices, default=ContactRole.OTHER)
    role_detail = models.CharField(max_length=120, blank=True, help_text="The CRM's own role text")
    is_primary = models.BooleanField(default=False)

    # a contact in the recycle bin leaves the buying groups it was in (and comes back with its restore)
    objects = ContactRoleManager.from_queryset(OpportunityChildQuerySet)()


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "Email"
    TASK = "task", "Task"
    NOTE = "note", "Note"  # written down, not a touch with the buyer: no activity metric counts it


# What a rep picks as a call's or meeting's outcome (free text is allowed too)
ACTIVITY_OUTCOMES = ["Connected", "Left a voicemail", "No answer", "Meeting booked", "Next step agreed",
                     "Not interested", "Wrong person"]


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    UNKNOWN = "", "Unknown"


class Activity(TimestampedRecord, SoftDeletable):
    kind = models.CharField(max_length=10, choices=ActivityKind.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, blank=True, default=Direction.UNKNOWN)
    activity_date = models.DateField()
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=60, blank=True)
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    opportunity = models.ForeignKey(Opportunity, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    outcome = models.CharField(max_length=255, blank=True, help_text="How it went, e.g. Connected, Meeting booked")
    notes = models.TextField(blank=True)
    # everyone of the buyer's side who took part; `contact` stays the main one (what CRMs export)
    contacts = models.ManyToManyField(Contact, blank=True, related_name="attended_activities")
    logged_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  help_text="Who logged it in dealpilot (imported activities: nobody)")
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = alive_manager(ActivityQuerySet)  # hides the recycle bin
    all_objects = ActivityQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)

    class Meta(TimestampedRecord.Meta):
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner", "activity_date"]),
            models.Index(fields=["opportunity", "activity_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.activity_date:%Y-%m-%d}" + (f": {self.subject}" if self.subject else "")


class NextStepStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"  # no longer needed; kept, never deleted


class NextStep(TimestampedRecord):
    """What happens next on a deal, an account or with a contact, who does it and by when: the seller's
    own to-do list (tasks), and what a logged call or meeting agreed. Closed as done or cancelled,
    never deleted, so the record of what was promised stays."""

    subject = models.CharField(max_length=255)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="next_steps")
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=NextStepStatus.choices, default=NextStepStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opportunity = models.ForeignKey(Opportunity, null=True, blank=True, on_delete=models.CASCADE, related_name="next_steps")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="next_steps")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="next_steps")
    activity = models.ForeignKey(Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="next_steps",
                                 help_text="The call or meeting that agreed it")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)

    objects = NextStepQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)

    class Meta(TimestampedRecord.Meta):
        indexes = [models.Index(fields=["owner", "status", "due_date"]),
                   models.Index(fields=["opportunity", "status"])]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_open(self) -> bool:
        return self.status == NextStepStatus.OPEN


class SalesTarget(TimestampedRecord):
    """A rep's quota for a period (month, quarter or year)."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="targets")
    period_start = models.DateField()
    period_end = models.DateField()
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)

    objects = OwnedQuerySet.as_manager()

    class Meta(TimestampedRecord.Meta):
        constraints = [unique_crm_id(),
                       models.UniqueConstraint(fields=["owner", "period_start", "period_end"], name="one_target_per_period")]


class ApiToken(models.Model):
    """A personal API token (`Authorization: Bearer <token>`) for scripts and integrations.

    Only the token's SHA-256 is stored: it is shown once, when created. A revoked token stops working
    at once; a token acts as its user, with the same visibility and role."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
