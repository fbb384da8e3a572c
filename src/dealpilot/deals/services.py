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
