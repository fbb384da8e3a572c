"""Properties of the win probability and the deal signals on empty, tiny and odd data (hypothesis):
no exception, a probability in [0, 1] for every open deal, no NaN in the JSON."""

from __future__ import annotations

import pytest
from hypothesis import given

from dealpilot.deals.models import WinScore
from dealpilot.deals.scoring import score_open_deals
from tests.properties import DB_EXAMPLES, assert_sane_numbers, build_deals, deals, rolled_back, strict_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@DB_EXAMPLES
@given(data=deals)
def test_every_open_deal_gets_a_probability_in_0_1_and_sane_signals(org, client, data):
    client.force_login(org.leader)
    with rolled_back():
        made = build_deals(org.rep_emea, org.accounts["rep_emea"], data)
        open_deals = [o for o in made if not o.is_closed]
        assert score_open_deals() >= len(open_deals)
        for score in WinScore.objects.all():
            assert 0 <= score.probability <= 1
        for opp in made:
            response = client.get(f"/api/deals/opportunities/{opp.pk}/intelligence")
            assert response.status_code == 200, response.content
            body = strict_json(response)
            assert_sane_numbers(body)
            if opp.is_closed:
                assert body["is_open"] is False
            else:
                assert body["probability"] is not None and 0 <= body["probability"] <= 1
        scores = client.get("/api/deals/scores")
        assert scores.status_code == 200
        assert_sane_numbers(strict_json(scores))
