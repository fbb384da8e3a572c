"""Deal-intelligence pages: the qualification form (htmx, inside the opportunity page's panel),
the knowledge rules (everyone reads, sales leaders edit and load YAML), the win model's
evaluation. Views check access, call a service or selector, render."""

from __future__ import annotations

import plotly.graph_objects as go
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dealpilot.web.access import can_run_imports, is_partial
from dealpilot.web.charts import chart

from . import selectors, services
from .knowledge import ConfigError, ensure_defaults, export_config, load_config
from .models import KnowledgeRule, QualificationQuestion, SignalSettings
from .scoring import active_run, score_open_deals
from .tasks import request_training

MAX_YAML_BYTES = 256 * 1024


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
