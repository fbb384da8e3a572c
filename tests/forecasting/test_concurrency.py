"""Of several writers who loaded the same version of a forecast or a deal's category, exactly one wins: the
others get StaleWrite and write nothing (the sequence's unique constraint; SQLite as a WAL file, and
PostgreSQL)."""

from __future__ import annotations

import pytest

from dealpilot.forecasting import services
from dealpilot.forecasting.models import CategoryChange, ForecastCall
from tests.test_concurrency import one_winner, race, real_database  # noqa: F401  (a fixture)


@pytest.mark.django_db(transaction=True)
def test_concurrent_category_writers_exactly_one_wins(quarter, real_database):  # noqa: F811
    org = quarter.org
    deal = quarter.deals["emea best"]
    people = [org.rep_emea, org.manager_emea, org.leader, org.admin]
    outcomes = race(lambda i: services.set_category(people[i % len(people)], deal.pk, ["commit", "omitted"][i % 2],
                                                    f"writer {i}", expected_version=1))
    one_winner(outcomes)
    assert list(CategoryChange.objects.values_list("note", flat=True)) == [f"writer {outcomes.index('ok')}"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_call_writers_exactly_one_wins(quarter, real_database):  # noqa: F811
    org = quarter.org
    people = [org.rep_emea, org.manager_emea, org.leader, org.admin]
    outcomes = race(lambda i: services.submit_call(people[i % len(people)], org.rep_emea.pk, quarter.period, commit=i,
                                                   best_case=100, note=f"writer {i}", expected_version=1), writers=4)
    one_winner(outcomes)
    assert list(ForecastCall.objects.values_list("note", flat=True)) == [f"writer {outcomes.index('ok')}"]
