"""Deal intelligence records: qualification questions and answers (with history), knowledge rules,
signal thresholds, win-model runs and the latest score of each deal; call plans and business cases;
guided selling: the stages' exit criteria (with hand ticks and the overrides of moves past open
criteria) and each deal's mutual action plan.

The CRM records are never changed here: everything hangs off an Opportunity by a ForeignKey, and
the rep's own probability (`Opportunity.probability`) is never overwritten by a computed one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from dealpilot.crm.models import VERSION_HELP, Opportunity


class AnswerKind(models.TextChoices):
    YES_NO = "yes_no", "Yes / no"
    CHOICE = "choice", "One of a list"


YES_NO_CHOICES = ["yes", "no"]


class QualificationQuestion(models.Model):
    """A question a rep answers about a deal; `stages` limits it to some stages (empty: all)."""

    key = models.SlugField(max_length=60, unique=True, help_text="Used by knowledge rules and the win model")
    text = models.CharField(max_length=255)
    help_text = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=10, choices=AnswerKind.choices, default=AnswerKind.YES_NO)
    choices = models.JSONField(default=list, blank=True, help_text="Allowed answers for a choice question")
    stages = models.JSONField(default=list, blank=True, help_text="Stage names where it is asked; empty: every open stage")
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def allowed_answers(self) -> list[str]:
        return list(YES_NO_CHOICES) if self.kind == AnswerKind.YES_NO else [str(c) for c in self.choices]

    def asked_at(self, stage: str) -> bool:
        return not self.stages or stage in self.stages


class QualificationAnswer(models.Model):
    """The current answer to one question for one deal."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="qualification_answers")
    question = models.ForeignKey(QualificationQuestion, on_delete=models.CASCADE, related_name="answers")
    value = models.CharField(max_length=60)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["opportunity", "question"], name="one_answer_per_question")]


class QualificationAnswerChange(models.Model):
    """Every change of an answer (old -> new, who, when): the history the win model reads 'as of' a date."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="qualification_changes")
    question = models.ForeignKey(QualificationQuestion, on_delete=models.CASCADE, related_name="changes")
    old_value = models.CharField(max_length=60, blank=True)
    new_value = models.CharField(max_length=60, blank=True, help_text="Empty: the answer was cleared")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "changed_at"])]


class KnowledgeRule(models.Model):
    """A signal whose weight depends on context, as data: when every condition in `when` holds, the
    deal's odds move by `weight` (log-odds; +0.7 roughly doubles the odds, -0.7 halves them).

    `when` maps names to a value or a list of values. Names are question keys (`budget_confirmed`),
    `signal:<code>` for a vulnerability (`signal:gatekeeper_stall`: yes), or `deal:source`."""

    key = models.SlugField(max_length=80, unique=True)
    when = models.JSONField()
    weight = models.FloatField()
    reason = models.CharField(max_length=500, help_text="Why, in words, shown to the rep")
    source = models.CharField(max_length=255, blank=True, help_text="Where the rule comes from")
    is_active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.key


class SignalSettings(models.Model):
    """The thresholds of the deal signals and the win model, one row (the sales leader's)."""

    gatekeeper_followups = models.PositiveIntegerField(default=4, help_text="Follow-ups with one mid-level contact before flagging")
    no_activity_days = models.PositiveIntegerField(default=21)
    stage_age_factor = models.FloatField(default=1.5, help_text="Flag when time in stage exceeds this times the norm")
    stage_age_min_days = models.PositiveIntegerField(default=14, help_text="Never flag a stage younger than this")
    close_date_slips = models.PositiveIntegerField(default=2, help_text="Flag after this many pushes of the close date")
    min_engaged_contacts = models.PositiveIntegerField(default=2, help_text="Fewer engaged contacts is single-threaded")
    min_training_deals = models.PositiveIntegerField(default=200, help_text="Closed deals needed to train the win model")
    min_training_per_class = models.PositiveIntegerField(default=30, help_text="Won and lost deals each needed to train")
    reasons_shown = models.PositiveIntegerField(default=3, help_text="Reasons up and down shown per deal")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "signal settings"

    @classmethod
    def current(cls) -> SignalSettings:
        obj = cls.objects.order_by("id").first()
        return obj if obj is not None else cls.objects.create()


class ModelStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    TOO_LITTLE_DATA = "too_little_data", "Too little history"
    FAILED = "failed", "Failed"


class WinModelRun(models.Model):
    """One training of the win model: its file (skops), its held-out evaluation, its status."""

    status = models.CharField(max_length=20, choices=ModelStatus.choices, default=ModelStatus.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.CharField(max_length=500, blank=True, help_text="The skops file, relative to the data folder")
    deals_train = models.PositiveIntegerField(default=0)
    deals_calibration = models.PositiveIntegerField(default=0)  # of the training deals, those scored out of fold to calibrate
    deals_test = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True, help_text="AUC, Brier, ECE, reliability on the later, held-out deals")
    message = models.TextField(blank=True)
    is_active = models.BooleanField(default=False, help_text="The model used for scoring")

    class Meta:
        ordering = ["-created_at", "-id"]


class WinScore(models.Model):
    """The latest computed win probability of a deal, beside (never instead of) the rep's own."""

    opportunity = models.OneToOneField(Opportunity, on_delete=models.CASCADE, related_name="win_score")
    probability = models.FloatField(help_text="0..1")
    method = models.CharField(max_length=20, help_text="model or rules")
    model_run = models.ForeignKey(WinModelRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="scores")
    reasons_up = models.JSONField(default=list)
    reasons_down = models.JSONField(default=list)
    note = models.CharField(max_length=500, blank=True)
    # the deal's signals when it was scored ([{code, title}]): the lists show and sort by their number
    vulnerabilities = models.JSONField(default=list, blank=True)
    vulnerability_count = models.PositiveSmallIntegerField(default=0)
    scored_at = models.DateTimeField()


# ---- call plans ----------------------------------------------------------------------------------


class OutcomeMet(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"


class CallPlan(models.Model):
    """A plan for one sales call (domain.md section 4): before it, what we and the customer want
    from it, what the customer expects to get, why it might fail, what we ask and bring; after it,
    whether the outcome was met and the deal advanced, and the next step."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="call_plans")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="call_plans")
    contact = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="call_plans")
    call_date = models.DateField()
    objective = models.CharField(max_length=255)
    our_outcomes = models.TextField("Desired outcomes (ours)")
    customer_outcomes = models.TextField("Desired outcomes (the customer's)", blank=True)
    customer_expected_value = models.TextField("What the customer expects to get from the call", blank=True)
    failure_risks = models.TextField("Why it might fail", blank=True)
    questions = models.TextField("Questions to ask", blank=True)
    insight = models.TextField("Insight we bring", blank=True)
    content = models.TextField("Content to use", blank=True)
    # after the call
    outcome_met = models.CharField(max_length=10, choices=OutcomeMet.choices, blank=True)
    advanced = models.BooleanField(null=True, blank=True, help_text="Did the deal advance?")
    next_step = models.CharField(max_length=255, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-call_date", "-id"]
        indexes = [models.Index(fields=["owner", "call_date"])]

    def __str__(self) -> str:
        return f"{self.call_date:%d %b %Y}: {self.objective}"

    @property
    def planned_ahead(self) -> bool:
        """Written before the day of the call."""
        return self.created_at is not None and self.created_at.date() <= self.call_date

    @property
    def effective(self) -> bool | None:
        """Outcome met (fully) and the deal advanced; None until reviewed."""
        if not self.reviewed_at:
            return None
        return self.outcome_met == OutcomeMet.YES and bool(self.advanced)


# ---- business case -------------------------------------------------------------------------------


class BenefitPeriod(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class BusinessCase(models.Model):
    """The buyer's business case for a deal (domain.md section 3, risk and return): what they
    invest, what it returns per period, the leading indicators they can show early, and the share
    of the risk we carry (fees at risk)."""

    opportunity = models.OneToOneField(Opportunity, on_delete=models.CASCADE, related_name="business_case")
    currency = models.CharField(max_length=3)
    investment = models.DecimalField(max_digits=18, decimal_places=2)
    period = models.CharField(max_length=10, choices=BenefitPeriod.choices, default=BenefitPeriod.QUARTER)
    benefits = models.JSONField(default=list, help_text="Net benefit of each period, as decimal strings")
    risk_share = models.DecimalField(max_digits=5, decimal_places=2, default=0,
                                     help_text="Share of our fees at risk, % (paid only if the return comes)")
    leading_indicators = models.TextField(blank=True, help_text="One a line: what the buyer can show early")
    assumptions = models.TextField(blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


# ---- stage exit criteria (guided selling) ----------------------------------------------------------


class SalesStage(models.Model):
    """A stage of the sales process in the sales leader's order, matched by name (without case) to
    `Opportunity.stage`, which is a free text from the CRM. The order says what "moving forward"
    means; the stage's exit criteria are checked when a deal leaves it forward (or skips it).
    `enforce`: a move past unmet criteria is refused instead of asking for a reason."""

    name = models.CharField(max_length=120)  # validation.STAGE_MAX, Opportunity.stage's column
    position = models.PositiveIntegerField(default=0)
    enforce = models.BooleanField(default=False, help_text="Refuse moving on with criteria open (instead of asking for a reason)")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="deals_sales_stage_name_ci")]

    def __str__(self) -> str:
        return self.name


class ExitCriterion(models.Model):
    """What must be true before a deal leaves its stage. With a `question_key`, it is met when that
    qualification question's answer is one of `answers` (checked automatically); without one, the
    rep ticks it on the deal (who and when kept)."""

    stage = models.ForeignKey(SalesStage, on_delete=models.CASCADE, related_name="criteria")
    label = models.CharField(max_length=255)
    question_key = models.SlugField(max_length=60, blank=True, help_text="A qualification question that checks it; empty: ticked by hand")
    answers = models.JSONField(default=list, blank=True, help_text="The answers that meet it (a yes/no question: yes)")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "exit criteria"

    def __str__(self) -> str:
        return self.label


class CriterionCheck(models.Model):
    """A criterion ticked by hand on one deal: by whom, when. Unticking deletes it."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="criterion_checks")
    criterion = models.ForeignKey(ExitCriterion, on_delete=models.CASCADE, related_name="checks")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["opportunity", "criterion"], name="one_check_per_criterion")]


class StageOverride(models.Model):
    """A deal moved forward with exit criteria still open: who, when, from and to which stage, what
    was open (stage and label, as they read then) and the reason given."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_overrides")
    from_stage = models.CharField(max_length=120)
    to_stage = models.CharField(max_length=120)
    unmet = models.JSONField(default=list, help_text='[{"stage": ..., "label": ...}] open at the move')
    reason = models.TextField()
    overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    overridden_at = models.DateTimeField()

    class Meta:
        ordering = ["-overridden_at", "-id"]
        indexes = [models.Index(fields=["opportunity", "overridden_at"])]


# ---- mutual action plan ----------------------------------------------------------------------------


class MutualPlan(models.Model):
    """The steps buyer and seller agree to reach a decision on one deal. `first_end` is the plan's
    end (its latest due date) as first set, on the day the plan was made, so the page can say how
    far the end moved since.
    `version` is the whole plan's: every change of a step checks and bumps it (dealpilot.concurrency)."""

    opportunity = models.OneToOneField(Opportunity, on_delete=models.CASCADE, related_name="mutual_plan")
    first_end = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False, help_text=VERSION_HELP)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class PlanSide(models.TextChoices):
    SELLER = "seller", "Our side"
    BUYER = "buyer", "Buyer's side"


class MutualPlanStep(models.Model):
    """One step of a mutual action plan. Its owner is on one side: ours (a dealpilot user, or a
    name), or the buyer's (a contact of the deal's account, or a name). `first_due` is the due date
    it was agreed with, so slippage shows. `internal_note` stays on our side: never exported."""

    plan = models.ForeignKey(MutualPlan, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=255)
    side = models.CharField(max_length=10, choices=PlanSide.choices, default=PlanSide.SELLER)
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    buyer = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    owner_name = models.CharField(max_length=200, blank=True, help_text="An owner who is neither a user nor a contact")
    due_date = models.DateField()
    first_due = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    internal_note = models.TextField(blank=True, help_text="For our side only: never in an export")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def owner_label(self) -> str:
        """Who carries it out, as the buyer may read it."""
        person = self.seller if self.side == PlanSide.SELLER else self.buyer
        return str(person) if person is not None else self.owner_name
