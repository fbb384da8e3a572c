"""Write paths over the CRM records."""

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import ApiToken, Role, User


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


# ---- API tokens ---------------------------------------------------------------------------------

TOKEN_PREFIX = "dp_"
LAST_USED_PRECISION = timedelta(minutes=1)  # a token used constantly writes its last use once a minute


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the record and the token itself, which is not stored."""
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name (what it is for)")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=raw[:10], key_hash=_token_hash(raw))
    return token, raw


def revoke_api_token(user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when they have no such active token."""
    return bool(ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now()))


def user_for_api_token(raw: str) -> User | None:
    """The active user an active token belongs to, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (ApiToken.objects.select_related("user")
             .filter(key_hash=_token_hash(raw), revoked_at__isnull=True, user__is_active=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
