"""The demo seeder: ratings and account plans for A accounts, idempotent."""

import pytest

from dealpilot.planning.demo import seed_demo
from dealpilot.planning.models import AccountPlan, AccountRating, ContactProfile, PlanEvent
from dealpilot.planning.selectors import plan_completeness, load_plan, priority_rows
from tests.factories import build_showcase_org

pytestmark = pytest.mark.django_db


def test_seed_demo_rates_accounts_and_plans_a_accounts_once():
    build_showcase_org()
    seed_demo()
    ratings, plans, events = AccountRating.objects.count(), AccountPlan.objects.count(), PlanEvent.objects.count()
    assert ratings > 0 and 1 <= plans <= 2
    quadrant = {r["account_id"]: r["quadrant"] for r in priority_rows(None)}
    for plan in AccountPlan.objects.all():
        assert quadrant[plan.account_id] == "A"
        c = plan_completeness(load_plan(plan.pk))
        assert 50 <= c["percent"] < 100 and c["missing"]  # a believable plan, with work left
    assert ContactProfile.objects.filter(contact__account__account_plan__isnull=False).exists()
    seed_demo()
    assert (AccountRating.objects.count(), AccountPlan.objects.count(), PlanEvent.objects.count()) == (ratings, plans, events)
