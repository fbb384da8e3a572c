"""Properties of the content suggestions on empty, tiny and odd libraries (hypothesis): no exception,
finite positive scores in descending order, no NaN in the JSON, only published modules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealpilot.enablement import services
from dealpilot.enablement.models import ContentModule
from tests.properties import DB_EXAMPLES, rolled_back, strict_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WORDS = ["downtime", "output", "retail", "pricing", "security", "the", "a", "é", "数据", ""]
text = st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join)
module = st.fixed_dictionaries({
    "title": text.map(lambda t: (t or "x")[:200]),
    "body": text,
    "kind": st.sampled_from(["value_message", "case_study", "playbook", "battle_card"]),
    "status": st.sampled_from(["published", "draft"]),
    "tags": st.fixed_dictionaries({}, optional={
        "industry": st.lists(st.sampled_from(["Manufacturing", "Retail", "Software"]), max_size=2),
        "phase": st.lists(st.sampled_from(["awareness", "buying", "implementation"]), max_size=2),
        "challenge": st.lists(st.sampled_from(["downtime", "output", "é"]), max_size=2),
        "stage": st.lists(st.sampled_from(["Proposal", "Qualification"]), max_size=1),
    }),
})


@DB_EXAMPLES
@given(modules=st.lists(module, max_size=4), description=text)
def test_suggestions_are_finite_ordered_and_published(org, client, modules, description):
    client.force_login(org.rep_emea)
    deal = org.opportunities["rep_emea"][0]
    with rolled_back():
        deal.description = description
        deal.save()
        for m in modules:
            services.save_module(org.enablement, fields={k: v for k, v in m.items() if k != "tags"}, tags=m["tags"])
        response = client.get(f"/api/enablement/opportunities/{deal.pk}/suggestions")
        assert response.status_code == 200, response.content
        suggestions = strict_json(response)
        scores = [s["score"] for s in suggestions]
        assert all(math.isfinite(s) and s > 0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        published = set(ContentModule.objects.filter(status="published").values_list("pk", flat=True))
        assert {s["module_id"] for s in suggestions} <= published
