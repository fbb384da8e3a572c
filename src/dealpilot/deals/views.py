"""Deal-intelligence pages: the qualification form (htmx, inside the opportunity page's panel),
the knowledge rules (everyone reads, sales leaders edit and load YAML), the win model's
evaluation. Views check access, call a service or selector, render."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from dealpilot.validation import YAML_MAX, DayField
from dealpilot.web.access import can_run_imports, is_partial
from dealpilot.web.charts import chart, plot_text

from . import selectors, services
from .forms import BusinessCaseForm, CallPlanForm, CallReviewForm
from .knowledge import ConfigError, ensure_defaults, export_config, load_config
from .models import KnowledgeRule, QualificationQuestion, SignalSettings
from .scoring import active_run, score_open_deals
from .tasks import request_training

MAX_YAML_BYTES = YAML_MAX


class ReportPeriodForm(forms.Form):
    start = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")


def _deal_or_404(request, pk: int):
    opportunity = selectors.visible_opportunity(request.user, pk)
    if opportunity is None or request.user.role == "enablement":
        raise Http404("No such opportunity")
    return opportunity


@login_required
@require_POST
def qualification(request, pk: int):
    """Save the answers posted (question key -> value); htmx gets the panel back, a plain form post
    goes back to the opportunity page."""
    opportunity = _deal_or_404(request, pk)
    ensure_defaults()
    keys = set(QualificationQuestion.objects.filter(is_active=True).values_list("key", flat=True))
    answers = {k: v for k, v in request.POST.items() if k in keys}
    error = ""
    try:
        services.answer_questions(opportunity, answers, user=request.user)
    except services.AnswerError as exc:
        error = str(exc)
    else:
        score_open_deals([opportunity.pk])
    if is_partial(request):
        context = {"panel": selectors.deal_panel(request.user, opportunity), "error": error}
        return render(request, "deals/_panel.html", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
        return redirect(reverse("crm:opportunity_detail", args=[pk]))
    messages.success(request, "Qualification saved.")
    return redirect(reverse("crm:opportunity_detail", args=[pk]) + "#qualification")


@login_required
@require_http_methods(["GET", "POST"])
def rules(request):
    """The knowledge rules, questions and thresholds; sales leaders edit them as YAML."""
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise Http404("No such page")
    ensure_defaults()
    can_edit = can_run_imports(request.user)
    text = None
    if request.method == "POST":
        if not can_edit:
            raise Http404("No such page")
        upload = request.FILES.get("file")
        raw = upload.read(MAX_YAML_BYTES + 1) if upload else request.POST.get("yaml", "").encode()
        if len(raw) > MAX_YAML_BYTES:
            messages.error(request, "The YAML is larger than 256 KB.")
        else:
            text = raw.decode("utf-8", errors="replace")
            try:
                counts = load_config(text)
            except ConfigError as exc:
                messages.error(request, f"Not loaded: {exc}")
            else:
                messages.success(request, f"Loaded {counts['questions']} questions, {counts['rules']} rules and "
                                          f"{counts['settings']} settings.")
                return redirect("deals:rules")
    export = export_config()
    return render(request, "deals/rules.html", {
        "rules": KnowledgeRule.objects.all(), "questions": QualificationQuestion.objects.filter(is_active=True),
        "settings": SignalSettings.current(), "yaml": text if text is not None else export, "can_edit": can_edit,
    }, status=400 if text is not None else 200)


@login_required
def rules_export(request):
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise Http404("No such page")
    response = HttpResponse(export_config(), content_type="application/x-yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="dealpilot-deal-rules.yaml"'
    return response


def _reliability_chart(run):
    rows = (run.metrics or {}).get("reliability") or []
    if not rows:
        return None
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Perfect calibration", line={"dash": "dot", "color": "#999"}))
    fig.add_trace(go.Scatter(x=[r["predicted"] for r in rows], y=[r["observed"] for r in rows], mode="lines+markers",
                             name="Win model", text=[f"{r['rows']} snapshots" for r in rows]))
    fig.update_layout(xaxis_title="Predicted win probability", yaxis_title="Share actually won",
                      xaxis_range=[0, 1], yaxis_range=[0, 1])
    return chart(fig, chart_id="reliability", title="Reliability on the latest closed deals (held out)", rows=rows, height=340)


@login_required
@require_http_methods(["GET", "POST"])
def model(request):
    """The win model: its status, held-out evaluation and reliability; leaders retrain it."""
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise Http404("No such page")
    if request.method == "POST":
        if not can_run_imports(request.user):
            raise Http404("No such page")
        request_training(request.user)
        messages.success(request, "Training queued: the page shows the run when it is done.")
        return redirect("deals:model")
    run = active_run()
    return render(request, "deals/model.html", {"run": run, "runs": selectors.model_runs(),
                                                "chart": _reliability_chart(run) if run else None,
                                                "can_train": can_run_imports(request.user)})


# ---- call plans -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def call_plans(request, pk: int):
    """A deal's call plans, and a new one."""
    opportunity = _deal_or_404(request, pk)
    form = CallPlanForm(request.POST or None, opportunity=opportunity,
                        initial={"call_date": timezone.localdate() + timedelta(days=1)})
    if request.method == "POST" and form.is_valid():
        plan = services.save_call_plan(opportunity, form.cleaned_data, user=request.user)
        messages.success(request, "Call plan saved. Review it after the call.")
        return redirect("deals:call_plan", plan.pk)
    return render(request, "deals/call_plans.html", {"o": opportunity, "plans": selectors.call_plans_of(opportunity),
                                                     "form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def call_plan(request, plan_id: int):
    """One plan: edit it before the call, review it after."""
    plan = selectors.visible_call_plan(request.user, plan_id)
    if plan is None or request.user.role == "enablement":
        raise Http404("No such call plan")
    opportunity = plan.opportunity
    action = request.POST.get("action")
    form = CallPlanForm(request.POST if action == "edit" else None, instance=plan, opportunity=opportunity)
    review = CallReviewForm(request.POST if action == "review" else None, initial={
        "outcome_met": plan.outcome_met, "advanced": "yes" if plan.advanced else "no" if plan.advanced is False else None,
        "next_step": plan.next_step})
    if action == "edit" and form.is_valid():
        services.save_call_plan(opportunity, form.cleaned_data, user=request.user, plan=plan)
        messages.success(request, "Call plan updated.")
        return redirect("deals:call_plan", plan.pk)
    if action == "review" and review.is_valid():
        services.review_call_plan(plan, review.cleaned_data, user=request.user)
        messages.success(request, "Call reviewed.")
        return redirect("deals:call_plan", plan.pk)
    if request.method == "POST" and action not in ("edit", "review"):
        return HttpResponse("Unknown action", status=400)
    errors = bool(form.errors or review.errors)
    return render(request, "deals/call_plan.html", {"plan": plan, "o": opportunity, "form": form, "review": review},
                  status=400 if errors else 200)


@login_required
def call_plan_report(request):
    """Share of calls planned and effective, by rep, over a period (default: the last 90 days)."""
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise Http404("No such page")
    form = ReportPeriodForm(request.GET or None)
    end = timezone.localdate()
    start = end - timedelta(days=90)
    if form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    rows = selectors.call_plan_report(request.user, start, end)
    return render(request, "deals/call_plan_report.html", {"rows": rows, "start": start, "end": end, "form": form})


# ---- business case ----------------------------------------------------------------------------------


def _case_chart(case, figures):
    labels = [f"{case.get_period_display()} {i}" for i in range(1, len(figures.benefits) + 1)]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=plot_text(labels), y=[float(b) for b in figures.benefits], name="Benefit in the period", marker_color="#93c5fd"))
    fig.add_trace(go.Scatter(x=plot_text(labels), y=[float(c) for c in figures.cumulative], name="Cumulative return",
                             mode="lines+markers", line={"color": "#1d4ed8", "width": 3}))
    fig.add_hline(y=0, line_dash="dot", line_color="#888", annotation_text="break-even")
    fig.update_layout(yaxis_title=plot_text(f"{case.currency}"), legend={"orientation": "h", "y": -0.2})
    rows = [{"period": label, "benefit": b, "cumulative": c} for label, b, c in zip(labels, figures.benefits, figures.cumulative)]
    return chart(fig, chart_id="cumulative-return", title=f"Cumulative return after an investment of {case.currency} {figures.investment:,.0f}",
                 rows=rows, csv_url=reverse("deals:business_case_export", args=[case.opportunity_id]))


@login_required
@require_http_methods(["GET", "POST"])
def business_case(request, pk: int):
    opportunity = _deal_or_404(request, pk)
    case = selectors.business_case_of(opportunity)
    initial = {"period": "quarter", "investment": opportunity.amount}
    if case:
        initial = {"investment": case.investment, "period": case.period, "benefits": ", ".join(case.benefits),
                   "risk_share": case.risk_share, "leading_indicators": case.leading_indicators, "assumptions": case.assumptions}
    form = BusinessCaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.save_business_case(opportunity, form.cleaned_data, user=request.user)
        messages.success(request, "Business case saved.")
        return redirect("deals:business_case", pk)
    figures = selectors.business_case_figures(case) if case else None
    return render(request, "deals/business_case.html", {
        "o": opportunity, "case": case, "form": form, "figures": figures,
        "chart": _case_chart(case, figures) if case else None,
        "indicators": [line.strip() for line in (case.leading_indicators if case else "").splitlines() if line.strip()],
    }, status=400 if form.errors else 200)


@login_required
def business_case_export(request, pk: int):
    """The business case for the customer: the figures and every period, as CSV."""
    from dealpilot.exports import SafeCsvWriter

    opportunity = _deal_or_404(request, pk)
    case = selectors.business_case_of(opportunity)
    if case is None:
        raise Http404("No business case yet")
    f = selectors.business_case_figures(case)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="business-case-{pk}.csv"'
    w = SafeCsvWriter(response)  # names and indicators are typed by people: no formulas
    w.writerow(["Business case", str(opportunity)])
    w.writerow(["Currency", case.currency])
    w.writerow(["Investment", f.investment])
    w.writerow(["Total benefit", f.total_benefit])
    w.writerow(["Net return", f.net_return])
    w.writerow(["ROI", f"{f.roi * 100:.1f}%" if f.roi is not None else ""])
    w.writerow([f"Time to first return ({case.get_period_display().lower()}s)", f.first_return_period or ""])
    w.writerow([f"Payback ({case.get_period_display().lower()}s)", f.payback_periods if f.payback_periods is not None else "not within the periods given"])
    w.writerow(["Share of our fees at risk", f"{case.risk_share}%"])
    for line in case.leading_indicators.splitlines():
        if line.strip():
            w.writerow(["Leading indicator", line.strip()])
    w.writerow([])
    w.writerow(["period", "benefit", "cumulative return"])
    for i, (b, c) in enumerate(zip(f.benefits, f.cumulative), start=1):
        w.writerow([f"{case.get_period_display()} {i}", b, c])
    return response


@login_required
def business_case_print(request, pk: int):
    """A clean page to print or save as PDF for the customer (no navigation, no internal data)."""
    opportunity = _deal_or_404(request, pk)
    case = selectors.business_case_of(opportunity)
    if case is None:
        raise Http404("No business case yet")
    figures = selectors.business_case_figures(case)
    return render(request, "deals/business_case_print.html", {
        "o": opportunity, "case": case, "figures": figures, "chart": _case_chart(case, figures),
        "indicators": [line.strip() for line in case.leading_indicators.splitlines() if line.strip()]})
