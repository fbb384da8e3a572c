"""Write paths of deal intelligence: answering qualification questions (with history), loading the
knowledge rules. Plain functions with explicit arguments; callers check access first."""

from __future__ import annotations

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
