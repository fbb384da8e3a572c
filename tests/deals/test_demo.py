"""The demo seeder: idempotent, and every open deal ends with a model probability and reasons."""

import pytest

from dealpilot.deals.demo import seed_demo
from dealpilot.deals.models import BusinessCase, CallPlan, QualificationAnswerChange, WinModelRun, WinScore

from .builders import build_history_org

pytestmark = pytest.mark.django_db


def test_seed_demo_scores_every_open_deal_and_runs_twice_safely():
    org = build_history_org()
    seed_demo()
    open_ids = {o.pk for o in org["open"]}
    scores = {s.opportunity_id: s for s in WinScore.objects.all()}
    assert set(scores) == open_ids
    assert all(s.method == "model" and (s.reasons_up or s.reasons_down) for s in scores.values())
    changes, runs = QualificationAnswerChange.objects.count(), WinModelRun.objects.count()
    cases, plans = BusinessCase.objects.count(), CallPlan.objects.count()
    assert changes >= 3 * len(org["closed"]) and runs == 1 and cases == 12
    # answers of closed deals are dated before their close: the model may read them
    late = [c for c in QualificationAnswerChange.objects.select_related("opportunity")
            if c.opportunity.is_closed and c.changed_at.date() >= c.opportunity.close_date]
    assert late == []
    seed_demo()
    assert (QualificationAnswerChange.objects.count(), WinModelRun.objects.count()) == (changes, runs)
    assert (BusinessCase.objects.count(), CallPlan.objects.count()) == (cases, plans)
