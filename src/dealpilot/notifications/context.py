"""The bell in the top bar: how many alerts the person has not read (one indexed count per page)."""

from __future__ import annotations


def bell(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .models import Notification

    return {"unread_alerts": lambda: Notification.objects.filter(user=user, read_at__isnull=True).count()}
