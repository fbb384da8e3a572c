"""The recycle bin page, and the page actions that delete and restore. A record the caller may
not delete (or restore) is a 404, like one that does not exist."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import selectors, services


@login_required
def index(request):
    return render(request, "recycle_bin/index.html",
                  {"entries": selectors.bin_entries(request.user), "retention_days": selectors.retention_days()})


@login_required
@require_POST
def delete(request, kind: str, pk: int):
    try:
        record = services.move_to_bin(request.user, kind, pk)
    except services.NotFound as exc:
        raise Http404(str(exc)) from None
    except services.Refused as exc:
        messages.error(request, str(exc))
        return redirect(request.headers.get("Referer") if url_has_allowed_host_and_scheme(
            request.headers.get("Referer"), allowed_hosts={request.get_host()}) else services.kind_of(kind).list_url)
    messages.success(request, f"“{record}” moved to the recycle bin; it can be restored for {selectors.retention_days()} days.")
    return redirect(services.kind_of(kind).list_url)


@login_required
@require_POST
def restore(request, kind: str, pk: int):
    try:
        record = services.restore(request.user, kind, pk)
    except services.NotFound as exc:
        raise Http404(str(exc)) from None
    except (services.RestorePeriodOver, services.Refused) as exc:
        messages.error(request, str(exc))
        return render(request, "recycle_bin/index.html",
                      {"entries": selectors.bin_entries(request.user), "retention_days": selectors.retention_days()},
                      status=410 if isinstance(exc, services.RestorePeriodOver) else 409)
    messages.success(request, f"“{record}” restored.")
    return redirect(services.kind_of(kind).page_url(record))
