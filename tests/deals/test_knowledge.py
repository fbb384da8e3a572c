"""Knowledge rules and questions as YAML: the default set, load/export round trip, validation
(all or nothing), context-dependent weights; qualification answers with history."""

import pytest
import yaml

from dealpilot.deals.knowledge import (
    DEFAULTS_PATH,
    ConfigError,
    active_rules,
    context_of,
    ensure_defaults,
    evaluate_rules,
    export_config,
    load_config,
)
from dealpilot.deals.models import KnowledgeRule, QualificationAnswer, QualificationAnswerChange, QualificationQuestion, SignalSettings
from dealpilot.deals.services import AnswerError, answer_questions
from tests.factories import make_opportunity, make_user

pytestmark = pytest.mark.django_db


def test_the_default_set_loads_once_and_round_trips():
    ensure_defaults()
    keys = set(QualificationQuestion.objects.values_list("key", flat=True))
    assert {"budget_confirmed", "decision_maker_identified", "decision_maker_met", "compelling_event", "org_change",
            "competition", "champion_power", "value_proposition_tested", "shared_vision_agreed",
            "business_case_accepted"} <= keys
    assert QualificationQuestion.objects.get(key="org_change").allowed_answers == ["small", "medium", "large"]
    n_rules = KnowledgeRule.objects.count()
    assert n_rules >= 15
    ensure_defaults()  # idempotent
    assert KnowledgeRule.objects.count() == n_rules
    exported = export_config()
    load_config(exported)
    assert export_config() == exported
    assert yaml.safe_load(exported)["settings"]["gatekeeper_followups"] == 4


def test_budget_counts_strongly_when_change_is_small_and_weakly_when_large():
    ensure_defaults()
    rules = active_rules()
    small, fired_small = evaluate_rules(rules, context_of({"budget_confirmed": "yes", "org_change": "small"}, [], {}))
    large, fired_large = evaluate_rules(rules, context_of({"budget_confirmed": "yes", "org_change": "large"}, [], {}))
    assert small == pytest.approx(1.2) and large == pytest.approx(0.15)
    assert "far less" not in fired_small[0].reason and "budget says little" in fired_large[0].reason
    # signals and deal fields are context too
    score, fired = evaluate_rules(rules, context_of({}, ["gatekeeper_stall"], {"source": "blind_rfp"}))
    assert score == pytest.approx(-2.0) and {f.key for f in fired} == {"gatekeeper-stall", "blind-rfp"}


def test_a_leader_edits_a_weight_and_adds_a_rule_as_yaml():
    ensure_defaults()
    doc = yaml.safe_load(export_config())
    doc["rules"][0]["weight"] = 2.0
    doc["rules"].append({"key": "incumbent-large", "when": {"competition": "incumbent", "org_change": "large"},
                         "weight": -0.3, "reason": "An incumbent and a big change."})
    doc["settings"]["no_activity_days"] = 30
    counts = load_config(yaml.safe_dump(doc))
    assert counts["rules"] == len(doc["rules"])
    assert KnowledgeRule.objects.get(key="budget-small-change").weight == 2.0
    assert KnowledgeRule.objects.get(key="incumbent-large").when == {"competition": "incumbent", "org_change": "large"}
    assert SignalSettings.current().no_activity_days == 30


@pytest.mark.parametrize("text, message", [
    ("rules: [", "not valid YAML"),
    ("- a list", "must be a mapping"),
    ("questions: []\nrules:\n  - {key: r, when: {nosuch: 'yes'}, weight: 1, reason: x}", "not a question key"),
    ("rules:\n  - {key: r, when: {'deal:amount': 1}, weight: 1, reason: x}", "deal fields are"),
    ("rules:\n  - {key: r, when: {'signal:x': 'yes'}, weight: 9, reason: x}", "between -5 and 5"),
    ("rules:\n  - {key: r, when: {'signal:x': 'yes'}, weight: heavy, reason: x}", "a number"),
    ("questions:\n  - {key: q, text: Q, kind: choice, choices: [one]}", "two or more choices"),
    ("settings: {no_activity_days: -3}", "must not be negative"),
    ("settings: {colour: blue}", "unknown"),
    ("extra: 1", "unknown sections"),
])
def test_invalid_documents_change_nothing(text, message):
    ensure_defaults()
    before = export_config()
    with pytest.raises(ConfigError, match=message):
        load_config(text)
    assert export_config() == before


def test_the_default_file_is_valid_and_documented():
    text = DEFAULTS_PATH.read_text()
    assert "seed 001" in text and "gatekeeper" in text


def test_answers_keep_their_history_and_bad_answers_write_nothing():
    ensure_defaults()
    rep = make_user(full_name="Rita Rep")
    opp = make_opportunity(rep)
    answer_questions(opp, {"budget_confirmed": "yes", "org_change": "large"}, user=rep)
    answer_questions(opp, {"budget_confirmed": "no", "org_change": "large"}, user=rep)  # org_change unchanged
    answer_questions(opp, {"budget_confirmed": ""}, user=rep)  # cleared
    changes = [(c.question.key, c.old_value, c.new_value, c.changed_by_id) for c in QualificationAnswerChange.objects.all()]
    assert changes == [("budget_confirmed", "", "yes", rep.pk), ("org_change", "", "large", rep.pk),
                       ("budget_confirmed", "yes", "no", rep.pk), ("budget_confirmed", "no", "", rep.pk)]
    assert dict(QualificationAnswer.objects.values_list("question__key", "value")) == {"org_change": "large"}
    with pytest.raises(AnswerError, match="not one of"):
        answer_questions(opp, {"compelling_event": "yes", "org_change": "huge"}, user=rep)
    with pytest.raises(AnswerError, match="unknown question"):
        answer_questions(opp, {"nosuch": "yes"}, user=rep)
    assert QualificationAnswerChange.objects.count() == 4
    assert not QualificationAnswer.objects.filter(question__key="compelling_event").exists()
