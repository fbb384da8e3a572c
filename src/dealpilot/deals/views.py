"""Deal-intelligence pages: the qualification form (htmx, inside the opportunity page's panel),
the knowledge rules (everyone reads, sales leaders edit and load YAML), the win model's
evaluation, call plans, business cases; guided selling: the stages' exit criteria (sales leaders
edit them), a deal's checklist ticks and its mutual action plan with the buyer's exports. Views
check access, call a service or selector, render."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from dealpilot.validation import YAML_MAX, DayField
from dealpilot.web.access import can_run_imports, is_partial
from dealpilot.web.charts import chart, plot_text

from . import selectors, services
from .forms import AddStageForm, BusinessCaseForm, CallPlanForm, CallReviewForm, CriterionFormSet, MutualStepForm, StageForm
from .knowledge import ConfigError, ensure_defaults, export_config, load_config
from .models import KnowledgeRule, QualificationQuestion, SalesStage, SignalSettings
from .scoring import active_run, score_open_deals
from .tasks import request_training
from .winloss import DIMENSION_LABELS, DIMENSIONS, competitor_win_rates, win_loss_breakdown

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
        response = render(request, "deals/_panel.html", context, status=400 if error else 200)
        if not error and not opportunity.is_closed:  # the stage's checklist follows the answers (swapped out of band)
            from .templatetags.deals import stage_checklist

            checklist = stage_checklist({"request": request}, opportunity)
            response.content += render_to_string("deals/_stage_checklist.html", {**checklist, "oob": True}, request).encode()
        return response
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
                stages = f" and {counts['stages']} stages" if "stages" in counts else ""
                messages.success(request, f"Loaded {counts['questions']} questions, {counts['rules']} rules, "
                                          f"{counts['settings']} settings{stages}.")
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


class WinLossForm(forms.Form):
    dimension = forms.ChoiceField(choices=[(d, DIMENSION_LABELS[d]) for d in DIMENSIONS if d != "reasons"],
                                  required=False, label="Group by")
    start = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Closed from")
    end = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("The end is before the start.")
        return data


def _win_rate_chart(breakdown: dict):
    """Win rate by group with its 95% interval as error bars; the chart's numbers are the table below it."""
    rows = [r for r in breakdown["rows"] if r["closed"]]
    if not rows:
        return None
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=plot_text([r["group"] for r in rows]), y=[r["win_rate"] for r in rows],
        marker_color=["#cbd5e1" if r["small_sample"] else "#2563eb" for r in rows],
        error_y={"type": "data", "symmetric": False, "array": [r["win_rate_high"] - r["win_rate"] for r in rows],
                 "arrayminus": [r["win_rate"] - r["win_rate_low"] for r in rows], "color": "#475569"},
        text=[f"n={r['closed']}" for r in rows], textposition="outside",
        hovertemplate="%{x}<br>win rate %{y:.0%}<br>%{text} closed<extra></extra>", name="Win rate"))
    fig.update_layout(yaxis_title="Win rate (95% interval)", yaxis_tickformat=".0%", yaxis_range=[0, 1.08], showlegend=False)
    table = [{"group": r["group"], "closed": r["closed"], "won": r["won"], "lost": r["lost"],
              "win_rate": round(r["win_rate"], 3), "low": round(r["win_rate_low"], 3), "high": round(r["win_rate_high"], 3),
              "note": r["caveat"]} for r in rows]
    return chart(fig, chart_id="win-rate", title=f"Win rate by {breakdown['label'].lower()} (grey: too few to tell)",
                 rows=table, height=360)


@login_required
def win_loss(request):
    """Win/loss analysis of the closed deals the caller can see: one dimension at a time, competitor win rates,
    and the lost and win reasons (default period: the last 365 days)."""
    if request.user.role == "enablement" and not request.user.sees_everything:
        raise Http404("No such page")
    form = WinLossForm(request.GET or None)
    end = timezone.localdate()
    start, dimension = end - timedelta(days=365), "stage_reached"
    if form.is_bound and form.is_valid():
        dimension = form.cleaned_data.get("dimension") or dimension
        start, end = form.cleaned_data.get("start") or start, form.cleaned_data.get("end") or end
    breakdown = win_loss_breakdown(request.user, dimension, start, end)
    return render(request, "deals/win_loss.html", {
        "form": form, "start": start, "end": end, "breakdown": breakdown, "chart": _win_rate_chart(breakdown),
        "competitors": competitor_win_rates(request.user, start, end),
        "reasons": win_loss_breakdown(request.user, "reasons", start, end)["rows"],
    }, status=400 if form.is_bound and not form.is_valid() else 200)


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


# ---- guided selling: stage exit criteria, a deal's checklist and mutual plan --------------------------


def _editable_deal(request, pk: int):
    """A deal the caller may see (404 otherwise) and change (403 for a read-only role)."""
    opportunity = selectors.visible_opportunity(request.user, pk)
    if opportunity is None:
        raise Http404("No such opportunity")
    if not selectors.may_edit(request.user):
        raise PermissionDenied("Your role reads deals; it does not change them.")
    return opportunity


def _back_to_deal(pk: int, anchor: str):
    return redirect(reverse("crm:opportunity_detail", args=[pk]) + f"#{anchor}")


def _deal_page_refusing(request, pk: int, error: str):
    """The deal's page again with the reason a change was refused (400): the CRM's own page view."""
    from dealpilot.crm.views import opportunity_detail

    messages.error(request, f"Not saved: {error}")
    response = opportunity_detail(request, pk)
    response.status_code = 400
    return response


@login_required
@require_POST
def exit_criteria(request, pk: int):
    """Tick or untick a criterion checked by hand on the deal (`criterion`, `done` yes/no)."""
    from dealpilot.validation import parse_id

    from .guided import tick_criterion

    opportunity = _editable_deal(request, pk)
    try:
        criterion_id = parse_id(request.POST.get("criterion"))
        if criterion_id is None:
            raise ValueError("which criterion? (criterion)")
        tick_criterion(request.user, opportunity, criterion_id, request.POST.get("done") == "yes")
    except ValueError as exc:
        return _deal_page_refusing(request, pk, str(exc))
    return _back_to_deal(pk, "stage-checklist")


def _criteria_initial(document: dict) -> list[dict]:
    return [{"label": c["label"], "question": c["question"], "answers": ", ".join(c["answers"]) if c["answers"] != ["yes"] else ""}
            for c in document["exit_criteria"]]


def _stages_page(request, *, forms_by_stage=None, add_form=None, status=200):
    from .guided import stage_documents

    stages = list(SalesStage.objects.prefetch_related("criteria"))
    can_edit = can_run_imports(request.user)
    rows = []
    documents = {d["id"]: d for d in stage_documents()}
    questions = {q.key: q.text for q in QualificationQuestion.objects.filter(is_active=True)}
    for stage in stages:
        stage_form, formset = (forms_by_stage or {}).get(stage.pk, (None, None))
        if can_edit and stage_form is None:
            stage_form = StageForm(initial={"name": stage.name, "enforce": stage.enforce}, prefix=f"s{stage.pk}")
            formset = CriterionFormSet(initial=_criteria_initial(documents[stage.pk]), prefix=f"c{stage.pk}")
        read = [(c.label, questions.get(c.question_key, ""), c.answers) for c in stage.criteria.all()]
        rows.append({"stage": stage, "form": stage_form, "criteria": formset, "read": read})
    return render(request, "deals/stages.html", {
        "rows": rows, "can_edit": can_edit,
        "add_form": add_form or (AddStageForm(stages=stages) if can_edit else None)}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def stages(request):
    """The stages in order with their exit criteria: everyone reads them; sales leaders edit them
    (a stage at a time, add, move, delete), others get 403."""
    from .guided import replace_stages, stage_documents

    if request.method == "POST" and not can_run_imports(request.user):
        raise PermissionDenied("Sales leaders and administrators edit the stages.")
    ensure_defaults()  # the questions a criterion may name
    if request.method == "GET":
        return _stages_page(request)
    documents = stage_documents()
    bound: dict = {}  # the stage form sent, shown again with the reason when it is refused
    op, post = request.POST.get("op"), request.POST
    index = {str(d["id"]): i for i, d in enumerate(documents)}
    i = index.get(post.get("stage", ""))
    if op in ("save", "move", "delete") and i is None:
        messages.error(request, "That stage is no longer in the list.")
        return redirect("deals:stages")
    if op == "save":
        stage_id = documents[i]["id"]
        stage_form = StageForm(post, prefix=f"s{stage_id}")
        old_criteria = documents[i]["exit_criteria"]
        formset = CriterionFormSet(post, initial=_criteria_initial(documents[i]), prefix=f"c{stage_id}")
        bound = {stage_id: (stage_form, formset)}
        if not (stage_form.is_valid() and formset.is_valid()):
            return _stages_page(request, forms_by_stage=bound, status=400)
        criteria = []
        for form in formset.ordered_forms:
            if (c := form.criterion()) is not None:
                k = formset.forms.index(form)  # a row shown for a criterion keeps its ticks, renamed or not
                c["id"] = old_criteria[k]["id"] if k < len(old_criteria) else None
                criteria.append(c)
        documents[i] = {"id": stage_id, "name": stage_form.cleaned_data["name"], "enforce": stage_form.cleaned_data["enforce"],
                        "exit_criteria": criteria}
        done = f"Saved {stage_form.cleaned_data['name']}."
    elif op == "add":
        add_form = AddStageForm(post, stages=SalesStage.objects.all())
        if not add_form.is_valid():
            return _stages_page(request, add_form=add_form, status=400)
        after = add_form.cleaned_data.get("after")
        place = 0 if after == 0 else next((j + 1 for j, d in enumerate(documents) if d["id"] == after), len(documents))
        documents.insert(place, {"name": add_form.cleaned_data["name"], "enforce": False, "exit_criteria": []})
        done = f"Added {add_form.cleaned_data['name']}."
    elif op == "move":
        j = min(max(i + (-1 if post.get("direction") == "up" else 1), 0), len(documents) - 1)
        done = f"Moved {documents[i]['name']} {'up' if j < i else 'down'}." if j != i else f"{documents[i]['name']} stays where it is."
        documents[i], documents[j] = documents[j], documents[i]
    elif op == "delete":
        done = f"Deleted {documents.pop(i)['name']} (and its ticks on deals)."
    else:
        return HttpResponse("Unknown operation", status=400)
    try:
        replace_stages(documents, user=request.user)
    except ConfigError as exc:
        messages.error(request, f"Not saved: {exc}")
        return _stages_page(request, forms_by_stage=bound, status=400)
    messages.success(request, done)
    return redirect("deals:stages")


def _form_problem(form) -> str:
    """A form's errors in one line, each after its field's label."""
    return "; ".join((f"{form.fields[name].label}: " if name in form.fields else "") + " ".join(errors)
                     for name, errors in form.errors.items())


def _plan_step_or_404(request, opportunity, raw):
    from dealpilot.validation import id_or_none

    from .models import MutualPlanStep

    step = MutualPlanStep.objects.select_related("plan__opportunity").filter(
        pk=id_or_none(raw) or 0, plan__opportunity=opportunity).first()
    if step is None:
        raise Http404("No such step in this plan")
    return step


@login_required
@require_POST
def mutual_plan(request, pk: int):
    """Change the deal's mutual plan from its page: op = add, update (a step's fields), done,
    undone, up, down or delete; each names the plan version the page showed (`version`)."""
    from dealpilot.concurrency import BadVersion, StaleWrite, parse_version

    opportunity = _editable_deal(request, pk)
    op, post = request.POST.get("op"), request.POST
    try:
        expected = parse_version(post.get("version"))
        if op in ("add", "update"):
            step = _plan_step_or_404(request, opportunity, post.get("step")) if op == "update" else None
            form = MutualStepForm(post, user=request.user, opportunity=opportunity)
            if not form.is_valid():
                raise ValueError(_form_problem(form))
            if step is None:
                services.add_plan_step(request.user, opportunity, form.service_data(), expected_version=expected)
            else:
                services.update_plan_step(request.user, step, form.service_data(), expected_version=expected)
        elif op in ("done", "undone", "up", "down"):
            step = _plan_step_or_404(request, opportunity, post.get("step"))
            change = {"done": op == "done"} if op in ("done", "undone") else \
                {"position": max(1, step.position + (-1 if op == "up" else 1))}
            services.update_plan_step(request.user, step, change, expected_version=expected)
        elif op == "delete":
            services.delete_plan_step(request.user, _plan_step_or_404(request, opportunity, post.get("step")),
                                      expected_version=expected)
        else:
            return HttpResponse("Unknown operation", status=400)
    except StaleWrite as exc:
        response = _deal_page_refusing(request, pk, exc.message)
        response.status_code = 409
        return response
    except (BadVersion, ValueError) as exc:
        return _deal_page_refusing(request, pk, str(exc))
    messages.success(request, "Mutual plan saved.")
    return _back_to_deal(pk, "mutual-plan")


@login_required
def mutual_plan_export(request, pk: int, fmt: str):
    """The mutual plan for the buyer, as PDF or XLSX (no internal data)."""
    from .mutual_plan_export import plan_pdf, plan_xlsx

    if fmt not in ("pdf", "xlsx"):
        raise Http404("No such format")
    opportunity = _deal_or_404(request, pk)
    view = selectors.mutual_plan_of(opportunity)
    name = opportunity.account.name if opportunity.account else str(opportunity)
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name.lower()).strip("-")[:60] or "deal"
    if fmt == "pdf":
        response = HttpResponse(plan_pdf(view), content_type="application/pdf")
    else:
        response = HttpResponse(plan_xlsx(view), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{slug}-mutual-plan.{fmt}"'
    return response
