"""Who may read and who may change a team's cadence.

- leaders, admins (and superusers): every team, read and write;
- a manager: their own team and the teams below it, read and write;
- a rep: their own team's cadence, read only;
- anyone else (enablement authors, people without a team): nothing.

A team the caller may not read is a 404, like a record that does not exist.
"""

from __future__ import annotations

from django.http import Http404

from dealpilot.crm.models import Role, Team, User
from dealpilot.crm.visibility import team_subtree_ids


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def readable_teams(user: User):
    if not _active(user):
        return Team.objects.none()
    if user.sees_everything:
        return Team.objects.all()
    if user.role in (Role.MANAGER, Role.REP):
        return Team.objects.visible_to(user)
    return Team.objects.none()


def editable_teams(user: User):
    if not _active(user):
        return Team.objects.none()
    if user.sees_everything:
        return Team.objects.all()
    if user.role == Role.MANAGER and user.team_id:
        return Team.objects.filter(id__in=team_subtree_ids(user.team_id))
    return Team.objects.none()


def can_edit(user: User, team: Team) -> bool:
    return editable_teams(user).filter(pk=team.pk).exists()


def is_manager_like(user: User) -> bool:
    """Managers, leaders and admins: the people who run a rhythm (the week page, coaching log)."""
    return _active(user) and (user.sees_everything or user.role == Role.MANAGER)


def team_or_404(user: User, team_id: int, *, edit: bool = False) -> Team:
    team = (editable_teams(user) if edit else readable_teams(user)).filter(pk=team_id).first()
    if team is None:
        raise Http404("No such team")
    return team


def team_members(team: Team, *, subtree: bool = True):
    """The active people of a team (and the teams below it)."""
    ids = team_subtree_ids(team.pk) if subtree else {team.pk}
    return User.objects.filter(team_id__in=ids, is_active=True).order_by("full_name", "username")

