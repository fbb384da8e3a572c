"""The Today page (everyone's landing page in the sales team), setting items aside, and the leader's thresholds."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealpilot.crm.models import Role

from . import selectors, services
from .forms import SetAsideForm, SettingsForm
from .models import TodaySettings


def _page(request, *, show_hidden: bool = False, status: int = 200):
    return render(request, "today/index.html", {"worklist": selectors.worklist(request.user), "show_hidden": show_hidden,
                                                "may_tune": request.user.role in (Role.LEADER, Role.ADMIN)}, status=status)


@login_required
def index(request):
    if not services.may_use_today(request.user):
        return redirect("crm:opportunity_list")
    return _page(request, show_hidden=request.GET.get("hidden") == "1")


@login_required
@require_POST
def set_aside(request):
    form = SetAsideForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("today:index")
    d = form.cleaned_data
    try:
        if request.POST.get("action") == "bring_back":
            services.bring_back(request.user, d["key"])
            messages.success(request, "Back on your list.")
        else:
            services.set_aside(request.user, d["key"], reason=d["reason"],
                               snooze_days=d["snooze_days"] if request.POST.get("action") == "snooze" else None)
            messages.success(request, "Snoozed." if request.POST.get("action") == "snooze" else "Dismissed; the reason is kept.")
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None
    except services.TodayError as exc:
        messages.error(request, str(exc))
        return _page(request, status=400)
    return redirect("today:index")


@login_required
def settings_page(request):
    if request.user.role not in (Role.LEADER, Role.ADMIN):
        raise PermissionDenied("only a sales leader or an administrator sets Today's thresholds")
    form = SettingsForm(request.POST or None, instance=TodaySettings.current())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            services.update_settings(request.user, {f: form.cleaned_data[f] for f in TodaySettings.FIELDS})
            messages.success(request, "Today's thresholds saved.")
            return redirect("today:settings")
        status = 400
    return render(request, "today/settings.html", {"form": form, "set_aside": selectors.what_people_set_aside()}, status=status)
