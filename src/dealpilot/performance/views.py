"""The team dashboard: for managers (their team subtree) and leaders/admins (everything); anyone else
gets 404, like a record they may not see. Each view checks access, calls a selector and renders."""

from __future__ import annotations

import secrets
from dataclasses import replace
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from dealpilot.analytics.report import TEAM_REPORTS, ReportError, render as render_rows, report_rows
from dealpilot.web.access import is_partial
from dealpilot.web.charts import chart

from . import charts, selectors
from . import diagnosis as dx
from .forms import DashboardFilterForm, DiagnosisSettingsForm


def dashboard_access(view):
    """Managers, leaders and admins; anonymous callers go to the login page, others get 404."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not selectors.can_view_dashboard(request.user):
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _csv_url(name: str, window: selectors.Window) -> str:
    return f"{reverse('performance:csv', args=[name])}?{urlencode(window.query())}"


def _charts(d: selectors.Dashboard) -> dict:
    w = d.window
    out = {
        "velocity": chart(charts.velocity_trend(d.velocity), chart_id="chart-velocity", title="Sales velocity per period",
                          rows=d.velocity, csv_url=_csv_url("velocity", w), height=320),
        "levers": chart(charts.lever_trends(d.velocity), chart_id="chart-levers", title="The four levers",
                        rows=d.velocity, csv_url=_csv_url("velocity", w), height=320),
        "creation": chart(charts.creation_heatmap(d.creation), chart_id="chart-creation",
                          title="Opportunities created per rep and week",
                          rows=[{k: v for k, v in r.items() if k != "week_start"} for r in d.creation["rows"]],
                          csv_url=_csv_url("pipeline-creation", w),
                          height=max(260, 90 + 30 * len({r["rep"] for r in d.creation["rows"]}))),
        "diagnosis": chart(charts.diagnosis_scatter(d.diagnosis), chart_id="chart-diagnosis",
                           title="Activity against win rate", rows=[
                               {k: r[k] for k in ("rep", "team", "verdict", "activities_per_week", "new_per_week", "closed",
                                                  "won", "win_rate", "win_rate_low", "win_rate_high", "team_win_rate")}
                               for r in d.diagnosis], csv_url=_csv_url("diagnosis", w), height=400),
        "forecast": chart(charts.forecast_bars(d.current_forecast), chart_id="chart-forecast",
                          title=f"Forecast against target, {d.current_forecast[0]['period']}" if d.current_forecast else "Forecast against target",
                          rows=d.current_forecast, csv_url=_csv_url("forecast", w), height=340),
        "coverage": chart(charts.coverage_bars(d.next_forecast) if d.has_coverage else charts.pipeline_bars(d.next_forecast),
                          chart_id="chart-coverage",
                          title=(f"Pipeline coverage of the next {w.period}s" if d.has_coverage
                                 else f"Open pipeline of the next {w.period}s (no targets set there, so no coverage)"),
                          rows=d.next_forecast, csv_url=_csv_url("forecast", w), height=340),
    }
    pair = d.lever_pair
    if pair is not None:
        title = f"What moved velocity from {pair.from_period} to {pair.to_period}"
        if w.group_by is None and pair.rows and pair.rows[0]["log_change"] is not None:
            fig = charts.lever_waterfall(pair.rows[0])
        elif w.group_by is not None and any(r["log_change"] is not None for r in pair.rows):
            fig = charts.lever_bars([r for r in pair.rows if r["log_change"] is not None])
        else:
            fig = None
        if fig is not None:
            out["waterfall"] = chart(fig, chart_id="chart-waterfall", title=title, rows=pair.rows,
                                     csv_url=_csv_url("levers", w), height=340)
    return out


def deals_at_risk(user) -> list:
    """The biggest open deals at risk in the viewer's scope (guidance.team, as on a leader's Today)."""
    from dealpilot.guidance.team import big_deal_risk_items
    from dealpilot.today.models import TodaySettings

    return big_deal_risk_items(user, timezone.localdate(), TodaySettings.current().thresholds())


@dashboard_access
def dashboard(request):
    form = DashboardFilterForm(request.GET)
    d = selectors.team_dashboard(request.user, form.filters())
    if not d.charts:
        d.charts.update(_charts(d))
    # fresh element ids on every response: htmx "settles" the class of an element whose id was
    # already on the page, which would strip the new plot's classes (chart-ready) after a swap
    token = secrets.token_hex(3)
    shown = {name: replace(c, id=f"{c.id}-{token}") for name, c in d.charts.items()}
    moves = {k: f"{getattr(d.what_if, k):g}" for k in selectors.WHAT_IF_FIELDS if getattr(d.what_if, k) is not None}
    context = {"form": form.shown_with({**d.window.query(), **moves}), "d": d, "w": d.window, "charts": shown,
               "dx": dx.settings_thresholds(),
               "csv": {name: _csv_url(name, d.window) for name in TEAM_REPORTS},
               "has_filters": bool(request.GET), "at_risk": deals_at_risk(request.user),
               # the filters keep the what-if as given (a redraw by period or group does not reset it)
               "what_if_kept": [(k, moves[k]) for k in selectors.WHAT_IF_FIELDS if request.GET.get(k) and k in moves]}
    partial = is_partial(request)
    response = render(request, "performance/_dashboard.html" if partial else "performance/dashboard.html", context)
    patch_vary_headers(response, ("HX-Request",))  # a cache must not mix the partial and the page
    return response


@dashboard_access
def dashboard_csv(request, name: str):
    """One section's rows as CSV, for the same filters as the page (400 for bad filters)."""
    if name not in TEAM_REPORTS:
        raise Http404("No such report")
    form = DashboardFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{form.add_prefix(field)}: {' '.join(errors)}" for field, errors in form.errors.items())
        return HttpResponseBadRequest(f"Bad filters: {problems}\n", content_type="text/plain; charset=utf-8")
    filters = {k: v for k, v in form.filters().items() if k not in selectors.WHAT_IF_FIELDS}  # the what-if changes no rows
    window = selectors.resolve_window(request.user, **filters)
    try:
        rows = report_rows(name, **window.report_params(name), as_user=request.user.username)
    except ReportError as exc:
        return HttpResponseBadRequest(f"{exc}\n", content_type="text/plain; charset=utf-8")
    response = HttpResponse(render_rows(rows, "csv"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{window.start}-{window.end}.csv"'
    return response


@login_required
def diagnosis_settings(request):
    """The sales leader's thresholds of the diagnosis (who is producing, what is too little)."""
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied
    from django.shortcuts import redirect

    from .models import DiagnosisSettings

    if request.user.role not in ("leader", "admin") or not request.user.is_active:
        raise PermissionDenied("only a sales leader or an administrator sets the diagnosis thresholds")
    current = DiagnosisSettings.current()
    form = DiagnosisSettingsForm(request.POST or None, instance=current)
    if request.method == "POST":
        if form.is_valid():
            saved = form.save(commit=False)
            saved.updated_by = request.user
            saved.save()
            messages.success(request, "The diagnosis thresholds are saved; the dashboard and the agendas use them now.")
            return redirect("performance:diagnosis_settings")
        return render(request, "performance/diagnosis_settings.html", {"form": form}, status=400)
    return render(request, "performance/diagnosis_settings.html", {"form": form})
