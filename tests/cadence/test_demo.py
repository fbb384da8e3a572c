"""The demo seeding: one manager's team gets a running cadence with history, once."""

from dealpilot.cadence import demo, selectors
from dealpilot.cadence.models import Cadence, CoachingSession, DealNote, Occurrence
from dealpilot.crm.models import Role
from dealpilot.demo.loader import demo_org
from tests.factories import make_team, make_user


def test_seed_team_adds_a_cadence_with_history_once(org):
    cadence = demo.seed_team(org.teams["emea"], org.manager_emea)
    statuses = set(Occurrence.objects.values_list("status", flat=True))
    assert {"held", "cancelled", "rescheduled"} <= statuses
    assert DealNote.objects.count() == 1
    assert CoachingSession.objects.filter(rep=org.rep_emea).exists()
    result = selectors.adherence(org.manager_emea)
    assert sum(r.held for r in result.rows) > 0 and sum(r.not_recorded for r in result.rows) > 0
    counts = (Occurrence.objects.count(), CoachingSession.objects.count(), cadence.meetings.count())
    assert demo.seed_team(org.teams["emea"], org.manager_emea) is None
    assert (Occurrence.objects.count(), CoachingSession.objects.count(), cadence.meetings.count()) == counts


def test_seed_demo_finds_the_first_demo_manager(db):
    first = demo_org().managers[0]
    team = make_team("Demo team")
    manager = make_user(Role.MANAGER, team=team, crm_id=first.id)
    make_user(Role.REP, team=team, manager=manager)
    demo.seed_demo()
    demo.seed_demo()
    assert Cadence.objects.get().team == team
    assert Occurrence.objects.filter(status="held").exists()
