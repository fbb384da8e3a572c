"""Who may open which page. A page that is not for the caller answers 404, like a record they
may not see: the app does not reveal what exists."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404


def can_run_imports(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.sees_everything)


def leader_required(view):
    """Sales leaders and administrators only; anonymous callers go to the login page, others get 404."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_run_imports(request.user):
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def is_partial(request) -> bool:
    """An htmx request that swaps a part of the page (not a history restore, which wants it all)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted
