"""Write paths over the CRM records."""

from django.db.models import Exists, OuterRef

from .models import Role, User


def infer_roles_from_hierarchy() -> int:
    """After an import that brings no roles: people with direct reports are managers, and a
    manager at the top of the hierarchy (reporting to nobody) is a sales leader.

    Only default reps are promoted, so a role set in dealpilot is never overwritten.
    Returns the number of people promoted.
    """
    has_reports = Exists(User.objects.filter(manager_id=OuterRef("pk")))
    candidates = User.objects.filter(role=Role.REP).filter(has_reports)
    leaders = candidates.filter(manager__isnull=True).update(role=Role.LEADER)
    managers = User.objects.filter(role=Role.REP).filter(has_reports).update(role=Role.MANAGER)
    return leaders + managers
