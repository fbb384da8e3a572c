"""The demo organisation: created once through the real importer, with working logins and targets."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from rich.console import Console

from dealpilot.crm.models import Activity, Opportunity, Role, SalesTarget, User
from dealpilot.demo import loader
from dealpilot.demo.loader import DEMO_PASSWORD, DEMO_SCALE, demo_org, ensure_demo_organisation

pytestmark = pytest.mark.django_db


def test_demo_is_created_once_and_its_logins_work(monkeypatch):
    out = io.StringIO()
    first = ensure_demo_organisation(console=Console(file=out, width=100))
    assert "Importing" in out.getvalue()  # the progress bar, and nothing else
    assert Opportunity.objects.count() == DEMO_SCALE["opportunities"]
    assert Activity.objects.count() == DEMO_SCALE["activities"]
    counts = {m: m.objects.count() for m in (User, Opportunity, Activity, SalesTarget)}

    def no_second_import(*args, **kwargs):
        raise AssertionError("the demo was created again")

    monkeypatch.setattr(loader, "write_salesforce_export", no_second_import)
    second = ensure_demo_organisation()
    assert second == first
    assert {m: m.objects.count() for m in counts} == counts

    org = demo_org()
    users = first["users"]
    names = [u for u, _ in users]
    assert names[0] == org.leader.username and names[-1] == "admin"
    assert set(m.username for m in org.managers) <= set(names)
    shown_reps = [r for r in org.reps if r.username in names]
    assert 3 <= len(shown_reps) <= 4
    assert {r.archetype.key for r in shown_reps} >= {"efficient", "busy", "star"}
    for username, description in users:
        user = authenticate(username=username, password=first["password"])
        assert user is not None, username
        assert description
    assert first["password"] == DEMO_PASSWORD
    assert authenticate(username=org.leader.username, password="wrong") is None

    roles = {u.username: u.role for u in User.objects.all()}
    assert roles[org.leader.username] == Role.LEADER and roles["admin"] == Role.ADMIN
    assert all(roles[m.username] == Role.MANAGER for m in org.managers)
    assert all(roles[r.username] == Role.REP for r in org.reps)
    assert User.objects.get(username="admin").is_staff


def test_targets_are_per_rep_per_quarter_and_realistic():
    ensure_demo_organisation()
    org = demo_org()
    reps = User.objects.filter(crm_id__in=[r.id for r in org.reps])
    assert SalesTarget.objects.count() == 8 * len(org.reps)
    attainment = []
    for rep in reps:
        targets = list(rep.targets.order_by("period_start"))
        assert len(targets) == 8 and targets[0].period_start.isoformat() == "2025-01-01"
        assert targets[-1].period_end.isoformat() == "2026-12-31"
        assert all(t.amount % 1000 == 0 and t.amount > 0 for t in targets)
        won = sum(o.amount for o in rep.opportunities.filter(is_won=True, close_date__year=2025))
        attainment.append(won / sum(t.amount for t in targets[:4]))
    # some reps beat their 2025 targets, some miss them; none by an absurd factor
    assert max(attainment) > 1 and min(attainment) < 0.9
    assert 0.4 < sorted(attainment)[len(attainment) // 2] < 1.3


def test_an_existing_admin_is_left_alone():
    User.objects.create_user("admin", password="their-own-password", role=Role.REP)
    logins = ensure_demo_organisation()
    assert "admin" not in [u for u, _ in logins["users"]]
    assert authenticate(username="admin", password="their-own-password") is not None
