"""CRM pages: each view checks access, calls a selector and renders. A record the caller may not
see is a 404, the same answer as a record that does not exist."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers

from dealpilot.history.diffs import history_context
from dealpilot.web.access import is_partial

from . import selectors
from .forms import AccountFilterForm, OpportunityFilterForm
from .models import Account, Opportunity

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
                      partial_template="crm/_account_results.html")


@login_required
def account_detail(request, pk: int):
    account = get_object_or_404(Account.objects.visible_to(request.user).select_related("owner"), pk=pk)
    return render(request, "crm/account_detail.html",
                  {"d": selectors.account_detail(request.user, account), **history_context(account)})


@login_required
def opportunity_list(request):
    form = OpportunityFilterForm(request.GET, user=request.user)
    rows = selectors.opportunity_list(request.user, **form.filters())
    return _list_page(request, form=form, rows=rows, full_template="crm/opportunity_list.html",
                      partial_template="crm/_opportunity_results.html",
                      extra={"totals": selectors.opportunity_totals(rows)})


@login_required
def opportunity_detail(request, pk: int):
    opportunity = get_object_or_404(Opportunity.objects.visible_to(request.user).select_related("account", "owner"), pk=pk)
    return render(request, "crm/opportunity_detail.html",
                  {"d": selectors.opportunity_detail(request.user, opportunity), **history_context(opportunity)})
