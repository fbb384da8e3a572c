"""Qualification questions, knowledge rules, thresholds and the stages' exit criteria as a YAML
document a sales leader can read, edit, load and export; and the evaluation of the rules against
one deal's context. The `stages:` section is parsed and saved by `guided.py`.

The default set (`defaults.yaml`, next to this file) is drawn from shared/domain.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from django.db import transaction

from .models import AnswerKind, KnowledgeRule, QualificationQuestion, SignalSettings

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")
SETTING_FIELDS = ("gatekeeper_followups", "no_activity_days", "stage_age_factor", "stage_age_min_days", "close_date_slips",
                  "min_engaged_contacts", "min_training_deals", "min_training_per_class", "reasons_shown")
DEAL_FIELDS = ("source",)  # deal fields a rule may test as `deal:<field>`


SETTING_MAX = 1_000_000  # every setting is a count, days or a factor; the columns hold 32-bit integers


class ConfigError(ValueError):
    """A configuration document that cannot be loaded; the message says where and why."""


# ---- validation ---------------------------------------------------------------------------------


def _text(value: Any, where: str, *, required: bool = True, max_length: int = 500) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, (str, int, float, bool)) or (required and str(value).strip() == ""):
        raise ConfigError(f"{where}: a text is required")
    text = str(value).strip()
    if len(text) > max_length:
        raise ConfigError(f"{where}: longer than {max_length} characters")
    return text


def _answer_text(value: Any) -> str:
    # YAML reads an unquoted yes/no as a boolean: take it as the answer the leader meant
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value).strip()


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list")
    return value


SECTIONS = ("questions", "rules", "settings", "stages")


def parse_config(text: str) -> dict:
    """Validate a YAML document; returns {"questions": [...], "rules": [...], "settings": {...},
    "stages": [...] or None when the document has no stages section (the stages then stay as they are)}."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError("the document must be a mapping with questions, rules, settings and stages")
    unknown = {str(k) for k in doc} - set(SECTIONS)  # YAML keys may be null or numbers
    if unknown:
        raise ConfigError(f"unknown sections: {', '.join(sorted(unknown))}")
    questions, keys = [], set()
    for i, q in enumerate(_list(doc.get("questions"), "questions")):
        where = f"questions[{i}]"
        if not isinstance(q, dict):
            raise ConfigError(f"{where}: must be a mapping")
        key = _text(q.get("key"), f"{where}.key", max_length=60)
        if not key.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{where}.key: letters, digits, - and _ only")
        if key in keys:
            raise ConfigError(f"{where}.key: {key} appears twice")
        keys.add(key)
        kind = q.get("kind", AnswerKind.YES_NO)
        if kind not in AnswerKind.values:
            raise ConfigError(f"{where}.kind: one of {', '.join(AnswerKind.values)}")
        choices = [_answer_text(c) for c in _list(q.get("choices"), f"{where}.choices")]
        if kind == AnswerKind.CHOICE and len(choices) < 2:
            raise ConfigError(f"{where}.choices: a choice question needs two or more choices")
        stages = q.get("stages") or []
        if not isinstance(stages, list):
            raise ConfigError(f"{where}.stages: a list of stage names")
        questions.append({"key": key, "text": _text(q.get("text"), f"{where}.text", max_length=255),
                          "help_text": _text(q.get("help_text"), f"{where}.help_text", required=False),
                          "kind": kind, "choices": choices if kind == AnswerKind.CHOICE else [],
                          "stages": [str(s) for s in stages], "order": i})
    rules, rule_keys = [], set()
    for i, r in enumerate(_list(doc.get("rules"), "rules")):
        where = f"rules[{i}]"
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: must be a mapping")
        key = _text(r.get("key"), f"{where}.key", max_length=80)
        if key in rule_keys:
            raise ConfigError(f"{where}.key: {key} appears twice")
        rule_keys.add(key)
        when = r.get("when")
        if not isinstance(when, dict) or not when:
            raise ConfigError(f"{where}.when: a mapping of conditions is required")
        conditions = {}
        for name, wanted in when.items():
            name = str(name)
            if name.startswith("deal:"):
                if name[5:] not in DEAL_FIELDS:
                    raise ConfigError(f"{where}.when: {name} - deal fields are {', '.join(DEAL_FIELDS)}")
            elif not name.startswith("signal:") and name not in keys:
                raise ConfigError(f"{where}.when: {name} is not a question key (nor signal:..., deal:...)")
            conditions[name] = [_answer_text(w) for w in wanted] if isinstance(wanted, list) else _answer_text(wanted)
        try:
            weight = float(r.get("weight"))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.weight: a number") from None
        if not math.isfinite(weight) or abs(weight) > 5:
            raise ConfigError(f"{where}.weight: between -5 and 5")
        rules.append({"key": key, "when": conditions, "weight": weight, "reason": _text(r.get("reason"), f"{where}.reason"),
                      "source": _text(r.get("source"), f"{where}.source", required=False, max_length=255),
                      "is_active": bool(r.get("active", True)), "order": i})
    settings = {}
    raw = doc.get("settings") or {}
    if not isinstance(raw, dict):
        raise ConfigError("settings: must be a mapping")
    for name, value in raw.items():
        if name not in SETTING_FIELDS:
            raise ConfigError(f"settings.{name}: unknown (known: {', '.join(SETTING_FIELDS)})")
        try:
            number = float(value) if name == "stage_age_factor" else int(value)
        except (TypeError, ValueError, OverflowError):  # int(.inf) overflows
            raise ConfigError(f"settings.{name}: a number") from None
        if number < 0 or (name == "stage_age_factor" and not math.isfinite(number)):
            raise ConfigError(f"settings.{name}: must not be negative")
        if number > SETTING_MAX:
            raise ConfigError(f"settings.{name}: at most {SETTING_MAX:,}")
        settings[name] = number
    stages = None
    if "stages" in doc:  # criteria name the document's own questions
        from .guided import allowed_answers, parse_stages

        stages = parse_stages(doc["stages"], allowed_answers(questions))
    return {"questions": questions, "rules": rules, "settings": settings, "stages": stages}


# ---- load / export ------------------------------------------------------------------------------


@transaction.atomic
def load_config(text: str) -> dict:
    """Replace the organisation's questions (by key: answers of kept keys stay), rules, the
    settings given and, when the document has them, the stages, all or nothing. Returns counts."""
    parsed = parse_config(text)
    kept = set()
    for q in parsed["questions"]:
        QualificationQuestion.objects.update_or_create(key=q["key"], defaults={**q, "is_active": True})
        kept.add(q["key"])
    # a question left out is deactivated, not deleted: its answers and their history stay
    QualificationQuestion.objects.exclude(key__in=kept).update(is_active=False)
    KnowledgeRule.objects.all().delete()
    KnowledgeRule.objects.bulk_create([KnowledgeRule(**r) for r in parsed["rules"]])
    settings = SignalSettings.current()
    for name, value in parsed["settings"].items():
        setattr(settings, name, value)
    settings.save()
    counts = {"questions": len(parsed["questions"]), "rules": len(parsed["rules"]), "settings": len(parsed["settings"])}
    if parsed["stages"] is not None:
        from .guided import save_stages

        counts["stages"] = save_stages(parsed["stages"])
    return counts


def export_config() -> str:
    ensure_defaults()
    questions = []
    for q in QualificationQuestion.objects.filter(is_active=True):
        item = {"key": q.key, "text": q.text}
        if q.help_text:
            item["help_text"] = q.help_text
        if q.kind != AnswerKind.YES_NO:
            item["kind"], item["choices"] = q.kind, list(q.choices)
        if q.stages:
            item["stages"] = list(q.stages)
        questions.append(item)
    rules = []
    for r in KnowledgeRule.objects.all():
        item = {"key": r.key, "when": dict(r.when), "weight": r.weight, "reason": r.reason}
        if r.source:
            item["source"] = r.source
        if not r.is_active:
            item["active"] = False
        rules.append(item)
    settings = SignalSettings.current()
    from .guided import export_stages

    doc = {"questions": questions, "rules": rules, "settings": {n: getattr(settings, n) for n in SETTING_FIELDS},
           "stages": export_stages()}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


def ensure_defaults() -> None:
    """Load the default set once, for an organisation that has no questions and no rules yet."""
    if not QualificationQuestion.objects.exists() and not KnowledgeRule.objects.exists():
        load_config(DEFAULTS_PATH.read_text(encoding="utf-8"))


# ---- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    key: str
    when: tuple[tuple[str, tuple[str, ...]], ...]
    weight: float
    reason: str


@dataclass(frozen=True)
class FiredRule:
    key: str
    weight: float
    reason: str


def active_rules() -> list[RuleSpec]:
    specs = []
    for r in KnowledgeRule.objects.filter(is_active=True):
        when = tuple((name, tuple(w) if isinstance(w, list) else (w,)) for name, w in r.when.items())
        specs.append(RuleSpec(r.key, when, r.weight, r.reason))
    return specs


def context_of(answers: dict[str, str], signals: Iterable[str], deal: dict[str, str]) -> dict[str, str]:
    """The names a rule can test: answers by question key, `signal:<code>` yes/no, `deal:<field>`."""
    context = dict(answers)
    for code in signals:
        context[f"signal:{code}"] = "yes"
    for name, value in deal.items():
        context[f"deal:{name}"] = value
    return context


def evaluate_rules(rules: list[RuleSpec], context: dict[str, str]) -> tuple[float, list[FiredRule]]:
    """The sum of the weights of the rules whose every condition holds, and those rules.
    An unanswered question reads as "" and an absent signal as "no"."""
    fired = []
    for rule in rules:
        ok = True
        for name, wanted in rule.when:
            have = context.get(name, "no" if name.startswith("signal:") else "")
            if have not in wanted:
                ok = False
                break
        if ok:
            fired.append(FiredRule(rule.key, rule.weight, rule.reason))
    return sum(f.weight for f in fired), fired
