"""Who may do what with content: authors write, everyone signed in reads what is published, the
configured roles rate. Sales records stay behind `visible_to(user)`."""

from __future__ import annotations

from dealpilot.crm.models import Role

AUTHOR_ROLES = (Role.ENABLEMENT, Role.LEADER, Role.ADMIN)
SETTINGS_ROLES = (Role.LEADER, Role.ADMIN)


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_author(user) -> bool:
    """Create and edit content modules (and see drafts and retired ones)."""
    return _active(user) and (user.is_superuser or user.role in AUTHOR_ROLES)


def can_change_settings(user) -> bool:
    return _active(user) and (user.is_superuser or user.role in SETTINGS_ROLES)


def can_read(user) -> bool:
    return _active(user)
