"""The forecast pages: a person's forecast (their call form, their deals with categories, a manager's or
leader's roll-up with override forms, the call history, the weekly trend and what changed in the deals),
and the writes behind its forms. Each view checks access (a person or deal the caller may not see is a
404), calls a selector or service, and renders. A refused write shows the page again with the form as
typed and the reason (400, or 409 when someone changed the forecast meanwhile)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from dealpilot.concurrency import StaleWrite
from dealpilot.crm.models import Opportunity
from dealpilot.exports import to_csv
from dealpilot.web.charts import chart

from . import charts, selectors, services
from .accuracy import AT, accuracy
from .changes import KINDS, SORTS, ChangesError, deal_changes
from .documents import snapshot_dict
from .forms import CallForm, CategoryForm, problems
from .reports import CHANGE_COLUMNS
from .rollup import FIRST_DAY, LAST_DAY, Period, parse_period
from .services import ForecastError, NotVisible


def _period(request, raw: str | None) -> Period:
    try:
        return parse_period(raw, timezone.localdate())
    except ValueError as exc:
        messages.error(request, f"Period: {exc}. Showing this quarter.")
        return parse_period(None, timezone.localdate())


def _page_url(person_id: int, period: Period, **extra) -> str:
    query = {"period": period.label, **{k: v for k, v in extra.items() if v not in (None, "", [])}}
    return f"{reverse('forecasting:person', args=[person_id])}?{urlencode(query, doseq=True)}"


@require_safe
@login_required
def index(request):
    person = selectors.home_subject(request.user)
    if person is None:
        raise Http404("No such page")
    return redirect("forecasting:person", user_id=person.pk)


@require_safe
@login_required
def accuracy_page(request):
    """Past periods: each person's call, the model and the stage-weighted forecast against what was won."""
    if selectors.home_subject(request.user) is None:
        raise Http404("No such page")
    at = request.GET.get("at", "start")
    if at not in AT:
        at = "start"
    result = accuracy(request.user, at=at)
    chosen = request.GET.get("person", "")
    people = {str(s.person.pk): s.person for s in result.summaries}
    focus = people.get(chosen) or people.get(str(request.user.pk)) or (result.summaries[0].person if result.summaries else None)
    rows = [r.as_row() for r in result.rows]
    focus_rows = [r for r in rows if focus is not None and r["person_id"] == focus.pk]
    figure = (chart(charts.accuracy_chart(focus_rows), chart_id="forecast-accuracy", rows=focus_rows, height=320,
                    title=f"{focus}: error by period, snapshot at the {at} of each period") if focus_rows else None)
    return render(request, "forecasting/accuracy.html", {
        "result": result, "rows": rows, "summaries": [s.as_row() for s in result.summaries], "at": at, "ats": AT,
        "focus": focus, "people": result.summaries, "chart": figure})


# ---- the person page ------------------------------------------------------------------------------


def _changes_filters(request) -> tuple[dict, list[str]]:
    """The 'what changed' filters from the query string; a bad one is dropped with the reason."""
    g, errors = request.GET, []
    filters: dict = {"kinds": [k for k in g.getlist("kind") if k in KINDS]}
    if len(filters["kinds"]) != len(g.getlist("kind")):
        errors.append(f"changes: unknown kind dropped (one of {', '.join(KINDS)})")
    raw = (g.get("week") or "").strip()
    if raw:
        try:
            day = date.fromisoformat(raw)
            if not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError
            filters["week"] = day
        except ValueError:
            errors.append(f"week: {raw[:40]!r} is not a day from {FIRST_DAY} to {LAST_DAY}")
    for name in ("team", "owner"):
        raw = (g.get(name) or "").strip()
        if raw:
            # '²' is a digit to str.isdigit() and not to int(): only ASCII digits make an id
            if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 2**63 - 1:
                filters[f"{name}_id"] = int(raw)
            else:
                errors.append(f"{name}: {raw[:40]!r} is not an id")
    sort = (g.get("sort") or "kind").strip()
    if sort.lstrip("-") in SORTS:
        filters["sort"] = sort
    else:
        errors.append(f"sort: one of {', '.join(SORTS)}")
    return filters, errors


def _changes(request, person, scope, period_given: Period | None):
    filters, errors = _changes_filters(request)
    try:
        result = deal_changes(person, scope, period=period_given, **filters)
    except ChangesError as exc:
        errors.append(str(exc))
        filters = {k: v for k, v in filters.items() if k in ("kinds", "sort")}
        result = deal_changes(person, scope, period=period_given, **filters)
    return result, filters, errors


def _call_form(person, f, period: Period, page_id: int, *, override: bool) -> CallForm:
    call = f.call
    initial = {"commit": call.commit if call and not override else f.derived.commit,
               "best_case": call.best_case if call and not override else f.derived.best_case,
               "period": period.label, "version": f.version, "page": page_id}
    if override and call is not None:
        initial.update(commit=call.commit, best_case=call.best_case)
    return CallForm(initial=initial, prefix=f"call-{person.pk}")


def _render(request, person, period: Period, *, bound_call: CallForm | None = None, bound_call_for: int | None = None,
            bound_category: CategoryForm | None = None, bound_category_for: int | None = None, status: int = 200):
    viewer = request.user
    f = selectors.person_forecast(person, period)
    may_submit = viewer.pk == person.pk
    may_override = selectors.may_override(viewer, person)
    # the call forms: the person's own, an override of them, and one per roll-up row the viewer may override
    own_form = override_form = None
    if may_submit:
        own_form = bound_call if bound_call_for == person.pk else _call_form(person, f, period, person.pk, override=False)
    elif may_override:
        override_form = bound_call if bound_call_for == person.pk else _call_form(person, f, period, person.pk, override=True)
    for unit in f.rows:
        unit.form = None
        if unit.person is not None and not unit.is_own_deals and selectors.may_override(viewer, unit.person):
            if bound_call_for == unit.person.pk:
                unit.form = bound_call
            else:
                unit.form = CallForm(initial={"commit": unit.call.commit if unit.call else unit.derived.commit,
                                              "best_case": unit.call.best_case if unit.call else unit.derived.best_case,
                                              "period": period.label, "version": unit.calls.version, "page": person.pk},
                                     prefix=f"call-{unit.person.pk}")
    for deal in f.deals:
        deal.form = None
        if not deal.is_closed:
            deal.form = bound_category if bound_category_for == deal.id else CategoryForm(
                initial={"category": deal.category if deal.category != "closed" else "commit", "version": deal.category_version,
                         "period": period.label, "page": person.pk}, prefix=f"cat-{deal.id}")
    period_given = period if request.GET.get("period") else None
    changes, filters, errors = _changes(request, person, f.scope, period_given)
    for e in errors:
        messages.warning(request, e)
    snapshots = [snapshot_dict(s) for s in selectors.snapshots_of(person, period)]
    rows = charts.call_rows(f)
    figures = {"calls": chart(charts.call_chart(rows), chart_id="forecast-calls", title=f"Call, model and target, {period.label}",
                              rows=rows, height=max(240, 110 + 46 * len(rows)))}
    if len(snapshots) >= 1:
        figures["trend"] = chart(charts.trend_chart(snapshots), chart_id="forecast-trend",
                                 title=f"Week by week, {period.label}", rows=snapshots, height=320)
    if changes.bridge:
        figures["changes"] = chart(charts.bridge_chart(changes.bridge), chart_id="forecast-bridge",
                                   title=f"Open pipeline in {changes.period.label}: what moved it since the week of "
                                         f"{changes.since:%d %b}", rows=changes.bridge, height=320)
    elif changes.rows:
        figures["changes"] = chart(charts.counts_chart(changes.counts()), chart_id="forecast-change-counts",
                                   title="Deals changed this week", rows=changes.counts(), height=280)
    manager = person.manager if person.manager_id and selectors.subject_for(viewer, person.manager_id) else None
    query = {"period": period.label, "kind": filters.get("kinds"), "week": filters.get("week"),
             "team": filters.get("team_id"), "owner": filters.get("owner_id"), "sort": filters.get("sort")}
    csv_query = urlencode({k: (v.isoformat() if isinstance(v, date) else v) for k, v in query.items() if v not in (None, "", [])},
                          doseq=True)
    context = {
        "person": person, "f": f, "period": period, "periods": selectors.period_choices(timezone.localdate(), period),
        "may_submit": may_submit, "may_override": may_override, "own_form": own_form, "override_form": override_form,
        "history": selectors.call_history(person, period), "snapshots": snapshots, "charts": figures, "up": manager,
        "changes": changes, "filters": filters, "kinds": KINDS, "sorts": SORTS,
        "changes_csv": f"{reverse('forecasting:changes_csv', args=[person.pk])}?{csv_query}",
        "open_deals": [d for d in f.deals if not d.is_closed], "closed_deals": [d for d in f.deals if d.is_closed],
    }
    return render(request, "forecasting/person.html", context, status=status)


@require_safe
@login_required
def person(request, user_id: int):
    subject = selectors.subject_for(request.user, user_id)
    if subject is None:
        raise Http404("No such person")
    return _render(request, subject, _period(request, request.GET.get("period")))


# ---- writes -----------------------------------------------------------------------------------------------


def _page_person(request, page_id, fallback):
    """The page a form sits on (a forecast the caller may open), else the fallback's."""
    if page_id:
        found = selectors.subject_for(request.user, page_id)
        if found is not None:
            return found
    return fallback


@require_POST
@login_required
def submit_call(request, user_id: int):
    subject = selectors.subject_for(request.user, user_id)
    if subject is None or (subject.pk != request.user.pk and not selectors.may_override(request.user, subject)):
        raise Http404("No such person")
    form = CallForm(request.POST, prefix=f"call-{user_id}")
    valid = form.is_valid()
    page = _page_person(request, form.cleaned_data.get("page") if valid else None, subject)
    try:
        period = parse_period(form.cleaned_data.get("period") if valid else request.POST.get(f"call-{user_id}-period"),
                              timezone.localdate())
    except ValueError as exc:
        messages.error(request, f"Period: {exc}")
        return _render(request, page, parse_period(None, timezone.localdate()), status=400)
    if not valid:
        messages.error(request, f"The call was not saved: {problems(form)}")
        return _render(request, page, period, bound_call=form, bound_call_for=subject.pk, status=400)
    d = form.cleaned_data
    try:
        call = services.submit_call(request.user, subject.pk, period, commit=d["commit"], best_case=d["best_case"],
                                    note=d["note"], expected_version=d.get("version"))
    except NotVisible:
        raise Http404("No such person") from None
    except (ForecastError, StaleWrite) as exc:
        stale = isinstance(exc, StaleWrite)
        messages.error(request, f"The call was not saved: {exc.message if stale else exc}")
        return _render(request, page, period, bound_call=form, bound_call_for=subject.pk, status=409 if stale else 400)
    what = "Your call" if call.kind == "call" else f"Your override of {subject}'s call"
    messages.success(request, f"{what} for {period.label} is saved: commit {call.commit:,.0f}, best case {call.best_case:,.0f}.")
    return redirect(_page_url(page.pk, period))


@require_POST
@login_required
def set_category(request, opportunity_id: int):
    opportunity = Opportunity.objects.visible_to(request.user).filter(pk=opportunity_id).first()
    if opportunity is None:
        raise Http404("No such opportunity")
    form = CategoryForm(request.POST, prefix=f"cat-{opportunity_id}")
    valid = form.is_valid()
    page = None  # the forecast page to go back to: the form's, else the deal owner's, else the caller's own
    for candidate in (form.cleaned_data.get("page") if valid else None, opportunity.owner_id):
        if candidate and (found := selectors.subject_for(request.user, candidate)) is not None:
            page = found
            break
    page = page or selectors.home_subject(request.user)
    try:
        period = parse_period(form.cleaned_data.get("period") if valid else None, timezone.localdate())
    except ValueError:
        period = parse_period(None, timezone.localdate())
    if not valid:
        messages.error(request, f"The category of {opportunity} was not saved: {problems(form)}")
        if page is None:
            return redirect("crm:opportunity_detail", pk=opportunity.pk)
        return _render(request, page, period, bound_category=form, bound_category_for=opportunity.pk, status=400)
    return _category_write(request, opportunity, form, page, period)


def _category_write(request, opportunity, form, page, period):
    d = form.cleaned_data
    try:
        change = services.set_category(request.user, opportunity.pk, d["category"], d["note"], expected_version=d.get("version"))
    except NotVisible:
        raise Http404("No such opportunity") from None
    except (ForecastError, StaleWrite) as exc:
        stale = isinstance(exc, StaleWrite)
        messages.error(request, f"The category of {opportunity} was not saved: {exc.message if stale else exc}")
        if page is None:
            return redirect("crm:opportunity_detail", pk=opportunity.pk)
        return _render(request, page, period, bound_category=form, bound_category_for=opportunity.pk,
                       status=409 if stale else 400)
    messages.success(request, f"{opportunity} is now {change.get_category_display().lower()}"
                              + (" (your override)" if change.is_override else "") + ".")
    if page is None:
        return redirect("crm:opportunity_detail", pk=opportunity.pk)
    return redirect(_page_url(page.pk, period) + f"#deal-{opportunity.pk}")


@require_safe
@login_required
def changes_csv(request, user_id: int):
    subject = selectors.subject_for(request.user, user_id)
    if subject is None:
        raise Http404("No such person")
    filters, errors = _changes_filters(request)
    if errors:
        return HttpResponse("Bad filters: " + "; ".join(errors) + "\n", status=400, content_type="text/plain; charset=utf-8")
    period = None
    if request.GET.get("period"):
        try:
            period = parse_period(request.GET["period"], timezone.localdate())
        except ValueError as exc:
            return HttpResponse(f"Bad filters: period: {exc}\n", status=400, content_type="text/plain; charset=utf-8")
    try:
        result = deal_changes(subject, selectors.scope_of(subject), period=period, **filters)
    except ChangesError as exc:
        return HttpResponse(f"Bad filters: {exc}\n", status=400, content_type="text/plain; charset=utf-8")
    rows = [r.as_row() for r in result.rows]
    response = HttpResponse(to_csv(rows, CHANGE_COLUMNS), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deal-changes-week-{result.week.isoformat()}.csv"'
    return response
