"""Write paths of deal intelligence: answering qualification questions (with history), call plans,
business cases, the mutual action plan. Plain functions with explicit arguments; callers check
access first. (The stages' exit criteria and their ticks: guided.py.)"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from dealpilot.crm.models import Opportunity, User

from .knowledge import ensure_defaults
from .models import QualificationAnswer, QualificationAnswerChange, QualificationQuestion


class AnswerError(ValueError):
    """An answer that is not one of the question's allowed answers."""


@transaction.atomic
def answer_questions(opportunity: Opportunity, answers: dict[str, str], *, user: User | None) -> list[QualificationAnswerChange]:
    """Set the answers given (question key -> value; "" clears one), all or none, recording each
    change (old -> new, who, when). Unchanged answers record nothing."""
    ensure_defaults()
    questions = {q.key: q for q in QualificationQuestion.objects.filter(is_active=True, key__in=list(answers))}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise AnswerError(f"unknown question: {', '.join(unknown)}")
    for key, value in answers.items():
        value = (value or "").strip()
        if value and value not in questions[key].allowed_answers:
            raise AnswerError(f"{key}: '{value}' is not one of {', '.join(questions[key].allowed_answers)}")
    now = timezone.now()
    current = {a.question_id: a for a in QualificationAnswer.objects.select_for_update()
               .filter(opportunity=opportunity, question__in=questions.values())}
    changes = []
    for key, value in answers.items():
        value = (value or "").strip()
        question = questions[key]
        existing = current.get(question.id)
        old = existing.value if existing else ""
        if old == value:
            continue
        if value:
            QualificationAnswer.objects.update_or_create(opportunity=opportunity, question=question,
                                                         defaults={"value": value, "answered_by": user, "answered_at": now})
        elif existing:
            existing.delete()
        changes.append(QualificationAnswerChange(opportunity=opportunity, question=question, old_value=old, new_value=value,
                                                 changed_by=user, changed_at=now))
    QualificationAnswerChange.objects.bulk_create(changes)
    return changes


# ---- call plans and business cases ----------------------------------------------------------------


PLAN_FIELDS = ("contact", "call_date", "objective", "our_outcomes", "customer_outcomes", "customer_expected_value",
               "failure_risks", "questions", "insight", "content")
REVIEW_FIELDS = ("outcome_met", "advanced", "next_step")


@transaction.atomic
def save_call_plan(opportunity: Opportunity, data: dict, *, user: User, plan=None):
    """Create (plan=None) or update a call plan from already validated fields (PLAN_FIELDS)."""
    from .models import CallPlan

    plan = plan or CallPlan(opportunity=opportunity, owner=user)
    for name in PLAN_FIELDS:
        if name in data:
            setattr(plan, name, data[name])
    plan.full_clean(exclude=["owner"])
    plan.save()
    return plan


@transaction.atomic
def review_call_plan(plan, data: dict, *, user: User):
    """After the call: outcome met, deal advanced, next step (REVIEW_FIELDS)."""
    for name in REVIEW_FIELDS:
        if name in data:
            setattr(plan, name, data[name])
    plan.reviewed_at = timezone.now()
    plan.full_clean(exclude=["owner"])
    plan.save()
    return plan


@transaction.atomic
def save_business_case(opportunity: Opportunity, data: dict, *, user: User):
    """Create or replace the deal's business case from validated fields; benefits as Decimals."""
    from .models import BusinessCase

    case = BusinessCase.objects.select_for_update().filter(opportunity=opportunity).first() or \
        BusinessCase(opportunity=opportunity, currency=opportunity.currency)
    case.investment = data["investment"]
    case.period = data["period"]
    case.benefits = [str(b) for b in data["benefits"]]
    case.risk_share = data.get("risk_share") or 0
    case.leading_indicators = data.get("leading_indicators", "")
    case.assumptions = data.get("assumptions", "")
    case.updated_by = user
    case.full_clean(exclude=["opportunity"])
    case.save()
    return case


# ---- mutual action plan ---------------------------------------------------------------------------

MAX_PLAN_STEPS = 100
STEP_FIELDS = ("title", "side", "seller_id", "buyer_id", "owner_name", "due_date", "internal_note", "done", "position")


@contextmanager
def _plan_change(user: User, opportunity: Opportunity, expected_version: int | None):
    """One change of a deal's mutual plan: when the caller names the version they saw, the plan must
    still be at it (StaleWrite otherwise, nothing written); the plan row is held until the change
    commits, then its steps are numbered 1..n, its first end set (until the end of the day the plan
    was made: drafting it is not slippage), and its version bumped."""
    from django.db.models import F, Max

    from dealpilot.concurrency import StaleWrite, hold_if_current

    from .models import MutualPlan

    with transaction.atomic():
        plan, _ = MutualPlan.objects.get_or_create(opportunity=opportunity)
        rows = MutualPlan.objects.filter(pk=plan.pk)
        try:
            hold_if_current(rows, expected_version, label="mutual action plan")
        except StaleWrite as exc:
            last = rows.select_related("updated_by").first()
            raise StaleWrite(exc.label, current_version=exc.current_version, expected_version=exc.expected_version,
                             changed_at=last.updated_at, changed_by=last.updated_by) from None
        plan = rows.select_for_update().get()
        yield plan
        steps = list(plan.steps.order_by("position", "id"))
        for i, step in enumerate(steps, start=1):
            if step.position != i:
                type(step).objects.filter(pk=step.pk).update(position=i)
        # the baseline: the plan's end as drafted on the day it was made (later moves are slippage)
        end = plan.steps.aggregate(end=Max("due_date"))["end"]
        drafting = plan.first_end is None or timezone.localtime(plan.created_at).date() == timezone.localdate()
        changes = {"first_end": end} if drafting and end is not None else {}
        rows.update(version=F("version") + 1, updated_by=user, updated_at=timezone.now(), **changes)


def _step_values(user: User, opportunity: Opportunity, data: dict, step=None) -> dict:
    """Check a step's fields: all of them for a new step, those in `data` for a change of `step`.
    The owner is one person picked (seller_id on our side, buyer_id on the buyer's) or a name typed;
    giving one replaces the other. Returns the model's values."""
    from dealpilot.validation import LINE_MAX, NAME_MAX, NOTE_MAX, day_problem, text_problem

    from .models import PlanSide
    from .selectors import buyer_contacts, seller_people

    unknown = set(data) - set(STEP_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    values: dict = {}
    if "title" in data or step is None:
        title = " ".join((data.get("title") or "").split())
        if not title:
            raise ValueError("a step needs a title: what is to be done")
        if problem := text_problem(title, LINE_MAX, "the step"):
            raise ValueError(problem)
        values["title"] = title
    side = data.get("side") or (step.side if step else PlanSide.SELLER)
    if side not in PlanSide.values:
        raise ValueError(f"side is one of {', '.join(PlanSide.values)}")
    values["side"] = side
    seller_id, buyer_id = data.get("seller_id"), data.get("buyer_id")
    if side == PlanSide.SELLER and buyer_id is not None:
        raise ValueError("a step on our side is owned by one of us (seller_id) or a name, not a buyer's contact")
    if side == PlanSide.BUYER and seller_id is not None:
        raise ValueError("a step on the buyer's side is owned by one of their contacts (buyer_id) or a name, not one of us")
    name = " ".join((data.get("owner_name") or "").split())
    if problem := text_problem(name, NAME_MAX, "the owner's name"):
        raise ValueError(problem)
    if name and (seller_id is not None or buyer_id is not None):
        raise ValueError("a step's owner is a person picked or a name typed, not both")
    seller, buyer = (step.seller, step.buyer) if step else (None, None)
    if "seller_id" in data:
        seller = None
    if "buyer_id" in data:
        buyer = None
    if seller_id is not None:
        seller = seller_people(user, opportunity).filter(pk=seller_id).first()
        if seller is None:  # the same answer for someone out of reach and no one
            raise ValueError(f"user {seller_id} is not someone you can name on our side")
    if buyer_id is not None:
        buyer = buyer_contacts(opportunity).filter(pk=buyer_id).first()
        if buyer is None:
            raise ValueError(f"contact {buyer_id} is not a contact of the deal's account")
    if name:  # a name typed replaces the person picked
        seller = buyer = None
    values["seller"], values["buyer"] = (seller, None) if side == PlanSide.SELLER else (None, buyer)
    if values["seller"] or values["buyer"]:
        values["owner_name"] = ""  # a person picked replaces the name typed
    elif "owner_name" in data or step is None:
        values["owner_name"] = name
    if "due_date" in data or step is None:
        due = data.get("due_date")
        if due is None:
            raise ValueError("a step needs a due date")
        if problem := day_problem(due):
            raise ValueError(problem)
        values["due_date"] = due
    if "internal_note" in data:
        note = data.get("internal_note") or ""
        if problem := text_problem(note, NOTE_MAX, "the internal note"):
            raise ValueError(problem)
        values["internal_note"] = note
    return values


def _place(plan, step, position: int | None) -> None:
    """Put `step` at `position` (1-based, clamped) among the plan's steps; None: at the end."""
    from .models import MutualPlanStep

    others = list(MutualPlanStep.objects.filter(plan=plan).exclude(pk=step.pk).order_by("position", "id"))
    index = len(others) if position is None else min(max(int(position), 1), len(others) + 1) - 1
    others.insert(index, step)
    for i, s in enumerate(others, start=1):
        if s.pk == step.pk:
            step.position = i
        MutualPlanStep.objects.filter(pk=s.pk).update(position=i)


def add_plan_step(user: User, opportunity: Opportunity, data: dict, *, expected_version: int | None = None):
    """A new step of the deal's mutual plan (the caller checked they may edit the deal). `data`:
    title, side, seller_id or buyer_id or owner_name, due_date, internal_note, position, done.
    ValueError (400) on bad input, StaleWrite (409) when the plan changed since `expected_version`."""
    from .models import MutualPlanStep

    values = _step_values(user, opportunity, {k: v for k, v in data.items() if k not in ("done", "position")})
    with _plan_change(user, opportunity, expected_version) as plan:
        if plan.steps.count() >= MAX_PLAN_STEPS:
            raise ValueError(f"a mutual plan has at most {MAX_PLAN_STEPS} steps")
        step = MutualPlanStep.objects.create(plan=plan, first_due=values["due_date"], created_by=user,
                                             position=plan.steps.count() + 1, **values)
        if data.get("done"):
            step.done_at, step.done_by = timezone.now(), user
            step.save(update_fields=["done_at", "done_by"])
        if data.get("position") is not None:
            _place(plan, step, data["position"])
    return step


def update_plan_step(user: User, step, data: dict, *, expected_version: int | None = None):
    """Change a step (only the fields in `data`); `done` ticks (true) or unticks it, `position`
    moves it (1-based). A new due date keeps the first agreed one, so the slip shows."""
    opportunity = step.plan.opportunity
    with _plan_change(user, opportunity, expected_version) as plan:
        step.refresh_from_db()
        values = _step_values(user, opportunity, {k: v for k, v in data.items() if k not in ("done", "position")}, step=step)
        for name, value in values.items():
            setattr(step, name, value)
        if "done" in data and data["done"] is not None and bool(data["done"]) != (step.done_at is not None):
            step.done_at, step.done_by = (timezone.now(), user) if data["done"] else (None, None)
        step.save()
        if data.get("position") is not None:
            _place(plan, step, data["position"])
    return step


def delete_plan_step(user: User, step, *, expected_version: int | None = None) -> None:
    with _plan_change(user, step.plan.opportunity, expected_version):
        type(step).objects.filter(pk=step.pk).delete()
