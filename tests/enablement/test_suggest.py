"""Suggestions inside the deal: fit, ranking, reasons, the stage -> phase mapping, the cached
index following the library, visibility, and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dealpilot.cli import app
from dealpilot.enablement import services, suggest
from dealpilot.enablement.suggest import suggestions_for

from .conftest import make_module

pytestmark = pytest.mark.django_db


def test_the_best_fit_comes_first_with_its_reasons(org, library):
    deal = org.opportunities["rep_emea"][0]
    found = suggestions_for(org.rep_emea, deal.pk)
    titles = [s.title for s in found]
    assert titles[:2] == [library.value_message.title, library.case_study.title]
    assert library.awareness.title not in titles  # awareness phase; the deal is in Proposal (buying)
    assert library.retail.title not in titles  # another industry
    assert library.draft.title not in titles  # not published
    top = found[0]
    assert top.reasons[:5] == [
        "Made for the Proposal stage",
        "Fits the buying phase of the customer's journey",
        "Speaks to the decision maker in the buying group",
        "Written for Manufacturing",
        "Addresses the challenge in the deal: \u201cunplanned downtime\u201d",
    ]
    assert top.reasons[5].startswith("Matches the deal's description: ") and "unplanned" in top.reasons[5]
    assert top.authors == ["Eve Enablement"]
    assert top.message.startswith("Dana Decider, rep_emea account loses output")
    assert found[1].reasons[0] == "Written for Manufacturing"
    assert found[0].score > found[1].score > 0


def test_the_stage_to_phase_mapping_is_the_leaders(org, library):
    deal = org.opportunities["rep_emea"][0]
    services.update_settings(org.leader, stage_phases={"proposal": "awareness"})
    titles = [s.title for s in suggestions_for(org.rep_emea, deal.pk)]
    assert library.awareness.title in titles and library.value_message.title not in titles


def test_the_index_follows_the_library(org, library):
    deal = org.opportunities["rep_emea"][0]
    before = suggest.get_index()
    assert suggest.get_index() is before  # cached while nothing changes
    fresh = make_module(org.enablement, "Downtime calculator for decision makers", kind="template",
                        body="Calculate unplanned downtime cost.", tags={"buyer_role": ["decision_maker"]})
    assert suggest.get_index() is not before
    assert fresh.title in [s.title for s in suggestions_for(org.rep_emea, deal.pk)]
    services.set_status(org.enablement, fresh, "retired")
    assert fresh.title not in [s.title for s in suggestions_for(org.rep_emea, deal.pk)]


def test_suggestions_only_for_deals_the_caller_may_see(org, library):
    deal = org.opportunities["rep_emea"][0]
    assert suggestions_for(org.rep_amer, deal.pk) is None
    assert suggestions_for(org.enablement, deal.pk) is None
    assert suggestions_for(org.manager_emea, deal.pk)
    assert suggestions_for(org.leader, 10**9) is None


def test_an_empty_library_suggests_nothing(org):
    assert suggestions_for(org.rep_emea, org.opportunities["rep_emea"][0].pk) == []


def test_cli_content_suggest(org, library):
    deal = org.opportunities["rep_emea"][0]
    runner = CliRunner()
    out = runner.invoke(app, ["content", "suggest", str(deal.pk), "--as", "rep_emea", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert rows[0]["title"] == library.value_message.title and rows[0]["reasons"]
    out = runner.invoke(app, ["content", "suggest", str(deal.pk), "--as", "rep_emea"])
    assert out.exit_code == 0 and "Suggested content" in out.stdout and "Downtime" in out.stdout
    out = runner.invoke(app, ["content", "suggest", str(deal.pk), "--as", "rep_amer"])
    assert out.exit_code == 1 and "not found" in out.output
    out = runner.invoke(app, ["content", "suggest", str(deal.pk), "--as", "nobody"])
    assert out.exit_code == 2


def test_the_fast_query_vector_equals_scikit_learns(org, library):
    import numpy as np

    index = suggest.get_index()
    text = "Operations: unplanned downtime costs 4% of output, downtime again. Evaluating the platform."
    fast = suggest.query_vector(index, text)
    reference = index.vectorizer.transform([text])
    assert dict(zip(fast.indices.tolist(), fast.data.tolist())) == pytest.approx(
        dict(zip(reference.indices.tolist(), reference.data.tolist())), rel=1e-5)
    cosines = suggest.cosine_all(index, fast)
    assert np.allclose(cosines, (index.matrix @ reference.T).toarray().ravel(), atol=1e-6)
    assert suggest.query_vector(index, "the and of").nnz == 0


def test_suggestions_react_to_what_the_deal_lacks(org, library):
    """Issue 18 §4: a single-threaded deal gets material for the roles it has not reached; a deal without a
    compelling event gets the cost of doing nothing; each with the reason in words."""
    from django.utils import timezone

    from dealpilot.deals.knowledge import ensure_defaults
    from dealpilot.deals.models import QualificationAnswer, QualificationQuestion, WinScore

    deal = org.opportunities["rep_emea"][0]
    champion = make_module(org.enablement, "Arming your champion: the internal pitch", kind="playbook",
                           body="Help the champion sell inside.", tags={"buyer_role": ["Champion"]})
    inaction = make_module(org.enablement, "What waiting costs", kind="value_message",
                           body="The cost of inaction: every quarter of delay, the cost of doing nothing grows. Payback in months.")
    before = {s.title: s for s in suggestions_for(org.rep_emea, deal.pk, limit=10)}
    assert champion.title not in before  # nothing in the deal asks for it yet
    assert not any("compelling event" in r for s in before.values() for r in s.reasons)
    WinScore.objects.create(opportunity=deal, probability=0.3, method="rules", scored_at=timezone.now(),
                            vulnerabilities=[{"code": "single_threaded", "title": "Single-threaded"}], vulnerability_count=1)
    ensure_defaults()
    QualificationAnswer.objects.create(opportunity=deal, question=QualificationQuestion.objects.get(key="compelling_event"),
                                       value="no", answered_at=timezone.now())
    suggest._cache.clear()
    found = {s.title: s for s in suggestions_for(org.rep_emea, deal.pk, limit=10)}
    if inaction.title in before:
        assert found[inaction.title].score > before[inaction.title].score  # it now answers what the deal lacks
    assert "The deal is single-threaded: material for the champion you have not reached yet" in found[champion.title].reasons
    assert "The buyer has no compelling event: this states the cost of doing nothing" in found[inaction.title].reasons
    assert not any("single-threaded" in r for r in found[library.value_message.title].reasons)  # its role is reached
