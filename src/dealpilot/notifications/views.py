"""The bell's page, a person's digest and alert settings, the team chat webhooks, the deliveries, and
the unsubscribe link of every e-mail (which works without signing in: the signed link is the proof)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import selectors, services, subscriptions
from .delivery import email_enabled
from .forms import SubscriptionForm, WebhookForm
from .models import Delivery


@login_required
def index(request):
    alerts = selectors.alerts_of(request.user)
    return render(request, "notifications/index.html", {"alerts": alerts, "unread": sum(a.read_at is None for a in alerts)})


@login_required
@require_POST
def read(request):
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
    n = services.mark_read(request.user, ids or None)
    messages.success(request, f"{n} alert{'s' if n != 1 else ''} marked read.")
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/opportunities/") else "notifications:index")


def _settings(request, form=None, hook_form=None, status=200):
    sub = subscriptions.subscription_for(request.user)
    return render(request, "notifications/settings.html", {
        "form": form or SubscriptionForm(instance=sub), "hook_form": hook_form or WebhookForm(request.user),
        "webhooks": services.webhooks_for(request.user), "may_add_webhooks": services.teams_for_webhooks(request.user).exists(),
        "email_on": email_enabled(), "has_email": bool(request.user.email)}, status=status)


@login_required
def settings_page(request):
    if request.method != "POST":
        return _settings(request)
    form = SubscriptionForm(request.POST, instance=subscriptions.subscription_for(request.user))
    if not form.is_valid():
        return _settings(request, form=form, status=400)
    try:
        subscriptions.update_subscription(request.user, {f: form.cleaned_data[f] for f in form.Meta.fields})
    except subscriptions.SubscriptionError as exc:
        form.add_error(None, str(exc))
        return _settings(request, form=form, status=400)
    messages.success(request, "Your digests and alerts are saved.")
    return redirect("notifications:settings")


@login_required
@require_POST
def add_webhook(request):
    form = WebhookForm(request.user, request.POST)
    if not form.is_valid():
        return _settings(request, hook_form=form, status=400)
    values = {k: v for k, v in form.cleaned_data.items() if k != "team"}
    try:
        services.add_webhook(request.user, form.cleaned_data["team"].pk, values)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None
    except services.NotificationError as exc:
        form.add_error(None, str(exc))
        return _settings(request, hook_form=form, status=400)
    messages.success(request, "The team's channel will receive its alerts.")
    return redirect("notifications:settings")


@login_required
@require_POST
def delete_webhook(request, webhook_id: int):
    try:
        services.remove_webhook(request.user, webhook_id)
    except services.NotAllowed:
        raise Http404("no such webhook") from None
    messages.success(request, "Webhook removed.")
    return redirect("notifications:settings")


@login_required
def deliveries(request):
    status = request.GET.get("status", "")
    if status and status not in Delivery.Status.values:
        status = ""
    return render(request, "notifications/deliveries.html", {
        "rows": selectors.delivery_rows(request.user, status=status), "status": status, "statuses": Delivery.Status.choices})


@csrf_exempt  # the signed link is the proof (mail clients' one-click unsubscribe posts without a session)
def unsubscribe_page(request, token: str):
    found = subscriptions.read_unsubscribe_token(token)
    if found is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    user, what = found
    done = False
    if request.method == "POST":
        subscriptions.unsubscribe(user, what)
        done = True
    return render(request, "notifications/unsubscribe.html", {"what": what, "done": done, "person": user})
