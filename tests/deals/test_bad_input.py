"""Bad knowledge-rule documents are refused with the reason (a ConfigError, a 400 over the API), whatever
YAML they hold. Cases found by tests/test_api_fuzz.py, then the property behind them."""

from __future__ import annotations

import json

import pytest
import yaml
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealpilot.crm.services import create_api_token
from dealpilot.deals.knowledge import ConfigError, ensure_defaults, export_config, parse_config


@pytest.mark.parametrize("text, message", [
    ("?", "unknown sections: None"),  # a null key: was a TypeError (500)
    ("1: x", "unknown sections: 1"),
    ("questions: 5", "questions: must be a list"),  # was a TypeError iterating an int
    ("questions:\n  - {key: q, text: Q, kind: choice, choices: 3}", r"questions\[0\].choices: must be a list"),
    ("rules: {a: 1}", "rules: must be a list"),
    ("settings: {no_activity_days: .inf}", "a number"),  # int(inf) was an OverflowError
    ("settings: {no_activity_days: 99999999999}", "at most"),  # did not fit the column
])
def test_malformed_documents_say_what_is_wrong(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_the_api_answers_a_malformed_document_with_a_400_and_keeps_the_rules(org):
    ensure_defaults()
    before = export_config()
    _, raw = create_api_token(org.leader, "tests")
    response = Client(enforce_csrf_checks=True).put("/api/deals/rules", json.dumps({"yaml": "?"}), content_type="application/json",
                                                    HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400
    assert "unknown sections" in response.json()["detail"]
    assert export_config() == before


# Any YAML a person could paste: scalars of every kind, lists and mappings, nested, under the real section names.
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10) | st.integers(), inner,
                                                                                             max_size=4), max_leaves=20)
sections = st.sampled_from(["questions", "rules", "settings", "stages", "key", "when", "weight", "choices", "kind", "name",
                            "enforce", "exit_criteria", "label", "question", "answers"])
documents = st.dictionaries(sections | st.text(max_size=8), values, max_size=4)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents | values)
def test_any_yaml_is_parsed_or_refused_with_a_reason(doc):
    try:
        parsed = parse_config(yaml.safe_dump(doc))
    except ConfigError as exc:
        assert str(exc)
    else:
        assert set(parsed) == {"questions", "rules", "settings", "stages"}
