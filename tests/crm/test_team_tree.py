"""The team tree is read once per web request, however many scope checks a manager's page makes
(it was read about seven times on the team dashboard), and a change to the teams is seen at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealpilot.crm import visibility
from dealpilot.crm.models import Opportunity, Team
from tests.factories import make_team

pytestmark = pytest.mark.django_db


def team_tree_reads(queries) -> int:
    """The scope checks' read of the whole tree (the analytics frames read the teams' names apart)."""
    tree = str(Team.objects.values_list("id", "parent_id").query)
    return sum(1 for q in queries if q["sql"] == tree)


@pytest.mark.parametrize("path", ["/team/", "/opportunities/", "/cadence/"])
def test_a_managers_page_reads_the_team_tree_once(client, org, path):
    client.force_login(org.manager_emea)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, follow=True)
    assert response.status_code == 200
    assert team_tree_reads(captured.captured_queries) <= 1, path


def test_outside_a_request_every_check_reads_the_teams_and_a_change_is_seen_at_once(org):
    emea = org.teams["emea"]
    before = visibility.team_subtree_ids(emea.pk)
    token = visibility._team_tree.set({})  # as inside a request
    try:
        assert visibility.team_subtree_ids(emea.pk) == before
        new = make_team("Nordics", parent=emea)  # a save clears the request's copy
        assert visibility.team_subtree_ids(emea.pk) == before | {new.pk}
        assert Opportunity.objects.visible_to(org.manager_emea).count() >= 1
    finally:
        visibility._team_tree.reset(token)
