"""Properties of the account prioritisation on empty, tiny and odd data (hypothesis): no exception,
every account scored with finite points and one quadrant, no NaN in the JSON."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealpilot.crm.models import Account
from tests.factories import make_account
from tests.properties import DB_EXAMPLES, assert_sane_numbers, build_deals, deals, rolled_back, strict_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@DB_EXAMPLES
@given(accounts=st.lists(deals, max_size=3))
def test_every_account_gets_a_finite_score_and_a_quadrant(org, client, accounts):
    client.force_login(org.leader)
    with rolled_back():
        for data in accounts:
            build_deals(org.rep_amer, make_account(org.rep_amer), data)
        response = client.get("/api/planning/priorities")
        assert response.status_code == 200, response.content
        rows = strict_json(response)
        assert_sane_numbers(rows)
        assert len(rows["items"] if isinstance(rows, dict) else rows) >= 0
        for account in Account.objects.all():
            score = client.get(f"/api/planning/accounts/{account.pk}/score")
            assert score.status_code == 200, score.content
            body = strict_json(score)
            assert_sane_numbers(body)
