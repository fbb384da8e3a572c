"""CRM pages: each view checks access, calls a selector and renders. A record the caller may not
see is a 404, the same answer as a record that does not exist."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from dealpilot.concurrency import StaleWrite
from dealpilot.guidance.columns import RISK_SORTS, with_risk_columns

from dealpilot.history.diffs import history_context
from dealpilot.recycle_bin.services import may_delete
from dealpilot.web.access import is_partial
from django.utils import timezone

from . import selectors, services
from .record_views import recording_context
from .records import may_record
from .forms import AccountFilterForm, OpportunityEditForm, OpportunityFilterForm
from .models import Account, Opportunity, Role

PAGE_SIZE = 25


def _list_page(request, *, form, rows, full_template: str, partial_template: str, extra: dict | None = None):
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    partial = is_partial(request)
    context = {"form": form, "page": page, "sort": form.filters().get("sort", ""), "partial": partial, **(extra or {})}
    response = render(request, partial_template if partial else full_template, context)
    patch_vary_headers(response, ("HX-Request",))  # a cache must not mix the partial and the page
    return response


@login_required
def account_list(request):
    form = AccountFilterForm(request.GET, user=request.user)
    rows = selectors.account_list(request.user, **form.filters())
    return _list_page(request, form=form, rows=rows, full_template="crm/account_list.html",
                      partial_template="crm/_account_results.html", extra={"can_record": may_record(request.user)})


@login_required
def account_detail(request, pk: int):
    account = get_object_or_404(Account.objects.visible_to(request.user).select_related("owner"), pk=pk)
    return render(request, "crm/account_detail.html",
                  {"d": selectors.account_detail(request.user, account), **history_context(account),
                   "can_delete": may_delete(request.user, "account", account),
                   **recording_context(request.user, account=account)})


@login_required
def opportunity_list(request):
    form = OpportunityFilterForm(request.GET, user=request.user)
    filters = form.filters()
    rows = selectors.opportunity_list(request.user, **{k: v for k, v in filters.items() if not (k == "sort" and v in RISK_SORTS)})
    rows = with_risk_columns(rows, timezone.localdate())  # win probability, its change since last week, signals
    if filters.get("sort") in RISK_SORTS:
        rows = rows.order_by(*RISK_SORTS[filters["sort"]])
    return _list_page(request, form=form, rows=selectors.with_next_step(rows), full_template="crm/opportunity_list.html",
                      partial_template="crm/_opportunity_results.html",
                      extra={"totals": selectors.opportunity_totals(rows), "today": timezone.localdate(),
                             "can_record": may_record(request.user)})


def _opportunity_page(request, opportunity, *, edit_form=None, stale: str = "", status: int = 200):
    if edit_form is None:
        edit_form = OpportunityEditForm(initial=OpportunityEditForm.initial_for(opportunity), user=request.user,
                                        opportunity=opportunity)
    return render(request, "crm/opportunity_detail.html", {
        "d": selectors.opportunity_detail(request.user, opportunity), "edit_form": edit_form, "stale": stale,
        "stages": selectors.opportunity_facets(request.user)["stages"], "lost_reasons": services.active_lost_reasons(),
        "can_edit": request.user.role != Role.ENABLEMENT or request.user.sees_everything,
        **recording_context(request.user, opportunity=opportunity), **history_context(opportunity)}, status=status)


@login_required
def opportunity_detail(request, pk: int):
    opportunity = get_object_or_404(Opportunity.objects.visible_to(request.user).select_related("account", "owner"), pk=pk)
    return _opportunity_page(request, opportunity)


@login_required
@require_POST
def opportunity_edit(request, pk: int):
    try:
        opportunity = services.editable_opportunity(request.user, pk)
    except services.NotVisible:
        raise Http404("No such opportunity") from None
    form = OpportunityEditForm(request.POST, user=request.user, opportunity=opportunity)
    if not form.is_valid():
        return _opportunity_page(request, opportunity, edit_form=form, status=400)
    try:
        services.update_opportunity(request.user, pk, **form.service_arguments())
    except services.NotVisible:
        raise Http404("No such opportunity") from None
    except StaleWrite as exc:
        opportunity.refresh_from_db()
        return _opportunity_page(request, opportunity, status=409, stale=(
            "Someone changed this opportunity while you were editing: your change was not saved; here is the current "
            f"version (version {exc.current_version}). Apply your change again."))
    except (services.NotAllowed, ValueError) as exc:
        form.add_error(None, str(exc))
        return _opportunity_page(request, opportunity, edit_form=form, status=400)
    messages.success(request, "Saved the opportunity.")
    return redirect("crm:opportunity_detail", pk=pk)
