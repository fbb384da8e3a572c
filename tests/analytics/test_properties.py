"""Properties of the team metrics, run by the analytics engine (DuckDB; PostgreSQL too when the suite
runs there), on empty, tiny and odd data (hypothesis): never a 500, no NaN in the JSON, counts never
negative. tests/analytics/test_small_data.py checks the exact values on hand-made records."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.properties import DB_EXAMPLES, assert_sane_numbers, build_deals, deals, rolled_back, strict_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
REPORTS = ["velocity", "levers", "pipeline-creation", "diagnosis", "meeting", "forecast"]


@DB_EXAMPLES
@given(data=deals, more=deals)
def test_team_metrics_are_sane_on_tiny_data(org, client, data, more):
    client.force_login(org.leader)
    with rolled_back():
        build_deals(org.rep_emea, org.accounts["rep_emea"], data)
        build_deals(org.rep_amer, org.accounts["rep_amer"], more)
        for report in REPORTS:
            response = client.get(f"/api/performance/{report}")
            # 400/404 are the documented answers for "nothing to report in that window"; never a 500
            assert response.status_code in (200, 400, 404), (report, response.status_code, response.content[:300])
            body = strict_json(response)
            if response.status_code == 200:
                assert_sane_numbers(body)
            else:
                assert body["detail"]
