"""Guided selling: the exit criteria of each stage of the sales process.

- The configuration (the stages in order, each with its criteria and an `enforce` flag) is data the
  sales leader edits: the `stages:` section of the deal rules document (YAML, `knowledge.py`), the
  stages page and `PUT /api/deals/stages`. One parser validates it all, one function saves it (all
  or nothing); the defaults (`defaults.yaml`) are written after migrate.
- A deal's checklist: the criteria of its current stage, each met by a qualification answer (when
  the criterion names an active question) or by a tick on the deal (who, when).
- The gate, `check_stage_move`, which `crm.services.update_opportunity` calls inside its
  transaction before it saves a stage change: moving forward past open criteria of the stage left
  (and of any stage skipped) needs a reason, recorded as a `StageOverride`, or is refused where
  the leader set the stage to enforce. Moving backward, to a stage not in the order, or closing
  lost is never gated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dealpilot.validation import CODE_MAX, COMMENT_MAX, LINE_MAX, STAGE_MAX, text_problem

from .knowledge import DEFAULTS_PATH, ConfigError, _answer_text, _list, _text, ensure_defaults
from .models import AnswerKind, CriterionCheck, ExitCriterion, QualificationAnswer, QualificationQuestion, SalesStage, StageOverride

MAX_STAGES = 60
MAX_CRITERIA = 30  # per stage
MAX_ANSWERS = 10  # answers that meet one criterion
REASON_MAX = COMMENT_MAX  # the reason for moving on with criteria open
STAGE_KEYS = {"name", "enforce", "exit_criteria"}
CRITERION_KEYS = {"label", "question", "answers"}


def stage_key(name: str) -> str:
    """How a CRM stage name is matched to a configured stage: without case or surrounding spaces."""
    return " ".join(str(name).split()).casefold()


# ---- the configuration -------------------------------------------------------------------------------


def allowed_answers(questions: list[dict] | None = None) -> dict[str, list[str]]:
    """Question key -> its allowed answers: of the parsed questions given, else of the active ones."""
    if questions is None:
        return {q.key: q.allowed_answers for q in QualificationQuestion.objects.filter(is_active=True)}
    return {q["key"]: (["yes", "no"] if q["kind"] == AnswerKind.YES_NO else list(q["choices"])) for q in questions}


def parse_stages(value: Any, questions: dict[str, list[str]]) -> list[dict]:
    """Validate the stages (a list as YAML or JSON gives it) against the questions (key -> allowed
    answers). Returns [{"name", "enforce", "exit_criteria": [{"label", "question", "answers"}]}];
    raises ConfigError saying where and why."""
    stages, names = [], set()
    items = _list(value, "stages")
    if len(items) > MAX_STAGES:
        raise ConfigError(f"stages: at most {MAX_STAGES}")
    for i, raw in enumerate(items):
        where = f"stages[{i}]"
        _mapping(raw, where, STAGE_KEYS, "a mapping with a name")
        name = _text(raw.get("name"), f"{where}.name", max_length=STAGE_MAX)
        if stage_key(name) in names:
            raise ConfigError(f"{where}.name: {name} appears twice (names are matched without case)")
        names.add(stage_key(name))
        enforce = raw.get("enforce", False)
        if not isinstance(enforce, bool):
            raise ConfigError(f"{where}.enforce: true or false")
        criteria, labels = [], set()
        raw_criteria = _list(raw.get("exit_criteria"), f"{where}.exit_criteria")
        if len(raw_criteria) > MAX_CRITERIA:
            raise ConfigError(f"{where}.exit_criteria: at most {MAX_CRITERIA}")
        for j, c in enumerate(raw_criteria):
            criteria.append(_parse_criterion(c, f"{where}.exit_criteria[{j}]", questions, labels))
        stages.append({"name": name, "enforce": enforce, "exit_criteria": criteria})
    return stages


def _mapping(raw: Any, where: str, known: set[str], what: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {what}")
    unknown = {str(k) for k in raw} - known  # YAML keys may be null or numbers
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")


def _parse_criterion(raw: Any, where: str, questions: dict[str, list[str]], labels: set) -> dict:
    if isinstance(raw, str):
        raw = {"label": raw}  # a bare label: ticked by hand
    _mapping(raw, where, CRITERION_KEYS, "a label, or a mapping with a label (and a question)")
    label = _text(raw.get("label"), f"{where}.label", max_length=LINE_MAX)
    if label.casefold() in labels:
        raise ConfigError(f"{where}.label: {label} appears twice in the stage")
    labels.add(label.casefold())
    key = _text(raw.get("question"), f"{where}.question", required=False, max_length=CODE_MAX)
    given = raw.get("answers")
    given = [] if given is None else given if isinstance(given, list) else [given]
    if not key:
        if given:
            raise ConfigError(f"{where}.answers: answers need a question")
        return {"label": label, "question": "", "answers": []}
    if key not in questions:
        raise ConfigError(f"{where}.question: {key} is not a question key (known: {', '.join(sorted(questions)) or 'none'})")
    allowed = questions[key]
    if len(given) > MAX_ANSWERS:
        raise ConfigError(f"{where}.answers: at most {MAX_ANSWERS}")
    answers = []
    for a in given:
        if isinstance(a, (list, dict)):
            raise ConfigError(f"{where}.answers: a list of answers")
        text = _answer_text(a)
        if text not in allowed:
            raise ConfigError(f"{where}.answers: '{text[:60]}' is not one of {', '.join(allowed)}")
        if text not in answers:
            answers.append(text)
    if not answers:
        if "yes" not in allowed:
            raise ConfigError(f"{where}.answers: which answers of {key} meet it (of {', '.join(allowed)})")
        answers = ["yes"]
    return {"label": label, "question": key, "answers": answers}


def save_stages(stages: list[dict], *, user=None) -> int:
    """Replace the configuration with `stages` (parsed by `parse_stages`), all or nothing. A stage
    is kept (with its criteria's ticks) when its name stays, a criterion when its label stays in its
    stage; the stages page also names rows by `id`, so a rename keeps them. A stage that changed
    records who saved it. Returns the number of stages."""
    try:
        with transaction.atomic():
            return _save_stages(stages, user)
    except IntegrityError:  # two names the database's lower() makes one, where Python's casefold() did not
        raise ConfigError("stages: two names are the same without case") from None


def _save_stages(stages: list[dict], user) -> int:
    existing = list(SalesStage.objects.prefetch_related("criteria"))
    by_id, by_name = {s.pk: s for s in existing}, {stage_key(s.name): s for s in existing}
    targets = [by_id.get(spec.get("id")) or by_name.get(stage_key(spec["name"])) for spec in stages]
    SalesStage.objects.exclude(pk__in=[t.pk for t in targets if t is not None]).delete()
    for position, (spec, stage) in enumerate(zip(stages, targets)):
        stage = stage or SalesStage()
        current = list(stage.criteria.all()) if stage.pk else []
        by_crit_id, by_label = {c.pk: c for c in current}, {c.label.casefold(): c for c in current}
        chosen = [by_crit_id.get(c.get("id")) or by_label.get(c["label"].casefold()) for c in spec["exit_criteria"]]
        before = (stage.name, stage.position, stage.enforce, [(c.pk, c.label, c.question_key, c.answers) for c in current])
        after = (spec["name"], position, spec["enforce"], [(c.pk if c else None, s["label"], s["question"], s["answers"])
                                                           for s, c in zip(spec["exit_criteria"], chosen)])
        stage.name, stage.position, stage.enforce = spec["name"], position, spec["enforce"]
        if before != after:
            stage.updated_by = user
        stage.save()
        ExitCriterion.objects.filter(stage=stage).exclude(pk__in=[c.pk for c in chosen if c is not None]).delete()
        for j, (c_spec, criterion) in enumerate(zip(spec["exit_criteria"], chosen)):
            criterion = criterion or ExitCriterion(stage=stage)
            criterion.label, criterion.question_key = c_spec["label"], c_spec["question"]
            criterion.answers, criterion.position = list(c_spec["answers"]), j
            criterion.save()
    return len(stages)


def stage_documents() -> list[dict]:
    """The configuration as `parse_stages` reads it (with the rows' ids, for the stages page)."""
    return [{"id": s.pk, "name": s.name, "enforce": s.enforce,
             "exit_criteria": [{"id": c.pk, "label": c.label, "question": c.question_key, "answers": list(c.answers)}
                               for c in s.criteria.all()]}
            for s in SalesStage.objects.prefetch_related("criteria")]


def export_stages() -> list[dict]:
    """The configuration for the YAML document: short (enforce only when on, answers only when not yes)."""
    out = []
    for s in stage_documents():
        item: dict = {"name": s["name"]}
        if s["enforce"]:
            item["enforce"] = True
        criteria = []
        for c in s["exit_criteria"]:
            entry: dict = {"label": c["label"]}
            if c["question"]:
                entry["question"] = c["question"]
                if c["answers"] != ["yes"]:
                    entry["answers"] = c["answers"]
            criteria.append(entry)
        if criteria:
            item["exit_criteria"] = criteria
        out.append(item)
    return out


def replace_stages(stages: list[dict], *, user=None) -> int:
    """Validate and save stages from the API or the stages page (against the active questions)."""
    ensure_defaults()  # the questions first, so the default set never lands later over these stages
    return save_stages(_with_ids(stages, parse_stages(_without_ids(stages), allowed_answers())), user=user)


def _without_ids(stages: list) -> list:
    def strip(item):
        return {k: v for k, v in item.items() if k != "id"} if isinstance(item, dict) else item

    out = []
    for stage in stages:
        stage = strip(stage)
        if isinstance(stage, dict) and isinstance(stage.get("exit_criteria"), list):
            stage["exit_criteria"] = [strip(c) for c in stage["exit_criteria"]]
        out.append(stage)
    return out


def _with_ids(raw: list[dict], parsed: list[dict]) -> list[dict]:
    """The rows' ids the stages page sent, back on the parsed stages (parsing keeps the order)."""
    for r, p in zip(raw, parsed):
        p["id"] = r.get("id")
        for rc, pc in zip(r.get("exit_criteria") or [], p["exit_criteria"]):
            pc["id"] = rc.get("id") if isinstance(rc, dict) else None
    return parsed


def ensure_default_stages(**kwargs) -> None:
    """The default stages and criteria (`defaults.yaml`), when there are none: after every migrate
    and flush (post_migrate, connected in apps.py), like the CRM's lost reasons."""
    if SalesStage.objects.exists():
        return
    from .knowledge import parse_config

    parsed = parse_config(DEFAULTS_PATH.read_text(encoding="utf-8"))
    save_stages(parsed["stages"] or [])


# ---- a deal's checklist --------------------------------------------------------------------------------


@dataclass
class CriterionState:
    """One criterion on one deal: met or not, and how."""

    criterion: ExitCriterion
    stage: str
    done: bool
    question: str = ""  # the question's text when an answer checks it; "" when ticked by hand
    answer: str = ""  # the deal's answer to it
    checked_by: str = ""
    checked_at: datetime | None = None

    @property
    def auto(self) -> bool:
        return bool(self.question)


@dataclass
class StageChecklist:
    """The exit criteria of a deal's current stage, and the moves made past open criteria."""

    stage_name: str
    stage: SalesStage | None  # the configured stage its name matches, if any
    items: list[CriterionState] = field(default_factory=list)
    next_stage: str = ""
    overrides: list[StageOverride] = field(default_factory=list)

    @property
    def open_items(self) -> list[CriterionState]:
        return [i for i in self.items if not i.done]

    @property
    def met_count(self) -> int:
        return sum(i.done for i in self.items)


def _stages() -> list[SalesStage]:
    return list(SalesStage.objects.prefetch_related("criteria"))


def evaluate(opportunity, stages: list[SalesStage]) -> list[CriterionState]:
    """The criteria of `stages` on the deal, in order: met by an answer or a tick. Three queries."""
    questions = {q.key: q for q in QualificationQuestion.objects.filter(is_active=True)}
    answers = dict(QualificationAnswer.objects.filter(opportunity=opportunity).values_list("question__key", "value"))
    checks = {c.criterion_id: c for c in CriterionCheck.objects.filter(opportunity=opportunity).select_related("checked_by")}
    states = []
    for stage in stages:
        for c in stage.criteria.all():
            question = questions.get(c.question_key) if c.question_key else None
            if question is not None:
                answer = answers.get(c.question_key, "")
                states.append(CriterionState(c, stage.name, answer in c.answers, question=question.text, answer=answer))
            else:  # ticked by hand (also a criterion whose question is no longer asked)
                check = checks.get(c.pk)
                states.append(CriterionState(c, stage.name, check is not None,
                                             checked_by=str(check.checked_by or "") if check else "",
                                             checked_at=check.checked_at if check else None))
    return states


def stage_checklist(opportunity) -> StageChecklist:
    """The deal's current stage's checklist (empty when the stage is not in the order), and its overrides."""
    stages = _stages()
    index = {stage_key(s.name): i for i, s in enumerate(stages)}
    i = index.get(stage_key(opportunity.stage))
    overrides = list(StageOverride.objects.filter(opportunity=opportunity).select_related("overridden_by")[:20])
    if i is None:
        return StageChecklist(opportunity.stage, None, overrides=overrides)
    return StageChecklist(opportunity.stage, stages[i], evaluate(opportunity, [stages[i]]),
                          next_stage=stages[i + 1].name if i + 1 < len(stages) else "", overrides=overrides)


def criteria_on_the_way(opportunity, from_stage: str, to_stage: str, *, won: bool) -> tuple[list[CriterionState], list[str]]:
    """The criteria a move from `from_stage` to `to_stage` passes (the stage left and any skipped)
    that are not met, and the names of those stages set to enforce with some open. Nothing for a
    move backward, within a stage, or from or to a stage not in the order (a close as won goes past
    the last stage when its stage is not listed)."""
    stages = _stages()
    index = {stage_key(s.name): i for i, s in enumerate(stages)}
    start, end = index.get(stage_key(from_stage)), index.get(stage_key(to_stage))
    if end is None and won:
        end = len(stages)
    if start is None or end is None or end <= start:
        return [], []
    passed = stages[start:end]
    unmet = [s for s in evaluate(opportunity, passed) if not s.done]
    enforced = [stage.name for stage in passed if stage.enforce and any(u.stage == stage.name for u in unmet)]
    return unmet, enforced


# ---- the gate ----------------------------------------------------------------------------------------


class StageGateError(ValueError):
    """A forward move past open exit criteria: refused (the stage is enforced) or waiting for a
    reason. The message lists what is open; nothing is written."""

    def __init__(self, message: str, *, unmet: list[CriterionState], enforced: list[str]):
        super().__init__(message)
        self.unmet = unmet
        self.enforced = enforced


def _listing(unmet: list[CriterionState]) -> str:
    by_stage: dict[str, list[str]] = {}
    for u in unmet:
        by_stage.setdefault(u.stage, []).append(u.criterion.label)
    if len(by_stage) == 1:
        return ", ".join(next(iter(by_stage.values())))
    return "; ".join(f"{stage}: {', '.join(labels)}" for stage, labels in by_stage.items())


def check_stage_move(user, opportunity, *, from_stage: str, to_stage: str, is_closed: bool, is_won: bool,
                     reason: str | None = "") -> StageOverride | None:
    """Called by crm.services.update_opportunity, inside its transaction, before it saves a stage
    change. A forward move with exit criteria open is refused when a stage passed is enforced,
    needs a `reason` otherwise, and with one is recorded as a StageOverride (rolled back with the
    change if the save fails). Raises StageGateError (a ValueError: 400) with what is open."""
    if is_closed and not is_won:
        return None  # closing lost is never gated: it has its own checks (crm.services.check_close)
    unmet, enforced = criteria_on_the_way(opportunity, from_stage, to_stage, won=is_closed and is_won)
    if not unmet:
        return None
    listing = _listing(unmet)
    if enforced:
        rule = f"{enforced[0]} requires its" if len(enforced) == 1 else f"{', '.join(enforced)} require their"
        raise StageGateError(f"Cannot move to {to_stage}: {rule} exit criteria met first (set by a sales leader), "
                             f"and these are open: {listing}.", unmet=unmet, enforced=enforced)
    reason = (reason or "").strip()
    if not reason:
        raise StageGateError(f"Moving on from {from_stage} to {to_stage} with exit criteria open: {listing}. "
                             "Give a reason to move on anyway; it is recorded on the deal.", unmet=unmet, enforced=[])
    if problem := text_problem(reason, REASON_MAX, "the reason"):
        raise ValueError(problem)
    return StageOverride.objects.create(opportunity=opportunity, from_stage=from_stage, to_stage=to_stage,
                                        unmet=[{"stage": u.stage, "label": u.criterion.label} for u in unmet], reason=reason,
                                        overridden_by=user if getattr(user, "pk", None) else None, overridden_at=timezone.now())


# ---- hand ticks --------------------------------------------------------------------------------------


def tick_criterion(user, opportunity, criterion_id: int, done: bool) -> CriterionState:
    """Tick (or untick) a criterion checked by hand on a deal the caller may edit (the caller
    checks). A criterion an answer checks cannot be ticked: answer the question instead."""
    stages = _stages()
    criterion = next((c for s in stages for c in s.criteria.all() if c.pk == criterion_id), None)
    if criterion is None:
        raise ValueError(f"exit criterion {criterion_id} not found")
    if criterion.question_key and QualificationQuestion.objects.filter(key=criterion.question_key, is_active=True).exists():
        raise ValueError(f"“{criterion.label}” is checked by the qualification answer to {criterion.question_key}: answer it instead")
    if done:
        CriterionCheck.objects.get_or_create(opportunity=opportunity, criterion=criterion,
                                             defaults={"checked_by": user, "checked_at": timezone.now()})
    else:
        CriterionCheck.objects.filter(opportunity=opportunity, criterion=criterion).delete()
    stage = next(s for s in stages if s.pk == criterion.stage_id)
    return next(s for s in evaluate(opportunity, [stage]) if s.criterion.pk == criterion.pk)
