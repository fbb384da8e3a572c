"""Planning pages: priorities (quadrant chart, ranked table, exports), one account's score with
its ratings, and the scoring-model editor. Each view checks access, calls a service/selector and
renders; an account the caller may not see is a 404, and so is a page not for their role."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import wraps

import plotly.graph_objects as go
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dealpilot.concurrency import StaleWrite, parse_version
from dealpilot.crm.models import MAX_SAFE_AMOUNT
from dealpilot.history.diffs import history_context
from dealpilot.validation import parse_day, parse_id
from dealpilot.web.access import leader_required
from dealpilot.web.charts import chart, plot_text

from . import selectors, services
from dealpilot.exports import to_csv, to_xlsx
from .forms import PriorityFilterForm, YamlUploadForm, spec_from_post
from .scoring import QUADRANT_COLOURS, QUADRANTS, SpecError, parse_spec

PAGE_SIZE = 50
CHART_POINTS = 2000  # the chart shows the highest-priority accounts up to this many
EXPORT_COLUMNS = ["rank", "account", "quadrant", "treatment", "current_score", "future_score", "won_revenue",
                  "open_pipeline", "currency", "owner", "industry", "region", "account_id"]


def sales_user_required(view):
    """Signed-in people with sales records (not enablement authors): others get 404."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.role == "enablement" and not request.user.sees_everything:
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _account_or_404(user, pk: int):
    try:
        return services.visible_account(user, pk)
    except services.NotVisible:
        raise Http404("No such account") from None


def quadrant_chart(rows: list[dict], scores, *, csv_url: str = ""):
    shown = rows[:CHART_POINTS]
    largest = max([r["open_pipeline"] for r in shown] + [1.0])
    fig = go.Figure()
    for q, (meaning, treatment) in QUADRANTS.items():
        part = [r for r in shown if r["quadrant"] == q]
        fig.add_trace(go.Scatter(
            x=[r["current_score"] for r in part], y=[r["future_score"] for r in part], mode="markers",
            name=plot_text(f"{q}: {treatment}"), text=plot_text([r["account"] for r in part]),
            customdata=[[selectors.account_url(r["account_id"]), r["open_pipeline"]] for r in part],
            marker={"color": QUADRANT_COLOURS[q], "size": [8 + 32 * (r["open_pipeline"] / largest) ** 0.5 for r in part],
                    "opacity": 0.75, "line": {"width": 1, "color": "#ffffff"}},
            hovertemplate="<b>%{text}</b><br>Current %{x:.1f} · Future %{y:.1f}<br>Open pipeline %{customdata[1]:,.0f}"
                          "<extra>" + q + "</extra>"))
    fig.add_vline(x=scores.current_threshold, line_dash="dot", line_color="#9ca3af")
    fig.add_hline(y=scores.future_threshold, line_dash="dot", line_color="#9ca3af")
    for q, x, y in (("A", 1, 1), ("B", 0, 1), ("C", 1, 0), ("D", 0, 0)):
        fig.add_annotation(text=f"<b>{q}</b>", xref="paper", yref="paper", x=0.02 + 0.96 * x, y=0.02 + 0.96 * y,
                           showarrow=False, font={"size": 18, "color": QUADRANT_COLOURS[q]})
    fig.update_layout(xaxis_title="Current revenue score", yaxis_title="Future revenue score",
                      xaxis={"range": [-5, 105]}, yaxis={"range": [-5, 105]}, legend={"orientation": "h", "y": -0.2})
    table = [{"account": r["account"], "quadrant": r["quadrant"], "current": r["current_score"], "future": r["future_score"],
              "open pipeline": r["open_pipeline"]} for r in shown]
    return chart(fig, chart_id="quadrants", title="Accounts by current and future revenue", rows=table,
                 csv_url=csv_url, height=520)


@sales_user_required
def priorities(request):
    form = PriorityFilterForm(request.GET, user=request.user)
    scores = selectors.account_scores()
    rows = selectors.priority_rows(request.user, form.filters(), scores)
    query = request.GET.urlencode()
    context = {
        "form": form, "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")), "total": len(rows),
        "counts": selectors.quadrant_counts(rows), "quadrants": QUADRANTS, "scores": scores,
        "chart": quadrant_chart(rows, scores, csv_url=reverse("planning:priorities_export") + "?" + query),
        "query": query, "chart_capped": len(rows) > CHART_POINTS, "chart_points": CHART_POINTS,
        "can_edit_model": services.can_edit_model(request.user),
        "mentions": selectors.my_mentions(request.user),
    }
    return render(request, "planning/priorities.html", context)


@sales_user_required
def priorities_export(request):
    form = PriorityFilterForm(request.GET, user=request.user)
    rows = selectors.priority_rows(request.user, form.filters())
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(to_xlsx({"Priorities": rows}, {"Priorities": EXPORT_COLUMNS}),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="account-priorities.xlsx"'
        return response
    response = HttpResponse(to_csv(rows, EXPORT_COLUMNS), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="account-priorities.csv"'
    return response


@sales_user_required
def account(request, pk: int):
    acc = _account_or_404(request.user, pk)
    score = selectors.account_score(acc)
    return render(request, "planning/account.html", {"account": acc, "score": score, "quadrants": QUADRANTS,
                                                     "plan": services.AccountPlan.objects.filter(account=acc).first()})


@require_POST
@sales_user_required
def rate(request, pk: int):
    acc = _account_or_404(request.user, pk)
    key = request.POST.get("element", "")
    try:
        services.rate_account(request.user, acc.pk, key, request.POST.get("level", ""), request.POST.get("note", ""))
    except SpecError as exc:
        messages.error(request, str(exc))
        response = render(request, "planning/account.html",
                          {"account": acc, "score": selectors.account_score(acc), "quadrants": QUADRANTS,
                           "plan": services.AccountPlan.objects.filter(account=acc).first()}, status=400)
        return response
    messages.success(request, "Rating saved; the scores below include it.")
    return redirect(reverse("planning:account", args=[acc.pk]) + f"#element-{key}")


@require_http_methods(["GET", "POST"])
@leader_required
def scoring_model(request):
    spec = services.active_spec()
    upload = YamlUploadForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "upload":
                upload = YamlUploadForm(request.POST, request.FILES)
                if not upload.is_valid():
                    raise SpecError("; ".join(e for errors in upload.errors.values() for e in errors))
                services.import_yaml(request.user, upload.cleaned_data["file"])
                messages.success(request, "Scoring model imported.")
            elif action == "reset":
                services.reset_to_default(request.user)
                messages.success(request, "The default scoring model is back.")
            else:
                services.save_spec(request.user, parse_spec(spec_from_post(spec, request.POST)))
                messages.success(request, "Scoring model saved; every account is scored with it now.")
            return redirect("planning:scoring_model")
        except (SpecError, ValueError) as exc:
            messages.error(request, f"Not saved: {exc}")
            status = 400
    return render(request, "planning/scoring_model.html", {"spec": spec, "upload": upload}, status=status)


@leader_required
def scoring_model_yaml(request):
    response = HttpResponse(services.export_yaml(), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="scoring-model.yaml"'
    return response


# ---- account plans ---------------------------------------------------------------------------------


def _plan_or_404(user, pk: int):
    try:
        return services.visible_plan(user, pk)
    except services.NotVisible:
        raise Http404("No such plan") from None


# The plan, people and white-space pages read their POST by hand: these parse each value where it enters,
# within dealpilot.validation's bounds (a ValueError is the page's "Not saved: <reason>", a 400).
_date_or_none = parse_day
_int_or_none = parse_id


def _amount_or_none(value: str | None):
    value = (value or "").strip().replace(",", "")
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite() or abs(amount) >= MAX_SAFE_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{value!r}: give an amount below {MAX_SAFE_AMOUNT:,} with at most two decimals")
    return amount


def _plan_page(request, plan, status: int = 200):
    context = selectors.plan_detail(request.user, plan)
    context["score"] = selectors.account_score(plan.account)
    context["comments"] = selectors.plan_comments(plan)
    context.update(history_context(plan))
    return render(request, "planning/plan.html", context, status=status)


@sales_user_required
def plan(request, pk: int):
    acc = _account_or_404(request.user, pk)
    existing = services.AccountPlan.objects.filter(account=acc).first()
    if existing is None:
        return redirect("planning:account", pk=acc.pk)
    return _plan_page(request, existing)


# op -> (service call built from the POST, anchor to return to)
def _plan_operation(user, account_id: int, op: str, post) -> str:
    if op == "update_plan":
        changes = {"title": post.get("title", ""), "summary": post.get("summary", ""),
                   "review_date": _date_or_none(post.get("review_date")),
                   "pipeline_goal": _amount_or_none(post.get("pipeline_goal"))}
        for name in ("period_start", "period_end"):
            if post.get(name):
                changes[name] = _date_or_none(post.get(name))
        services.update_plan(user, account_id, **changes)
        return "plan"
    if op == "add_unit":
        services.add_unit(user, account_id, _int_or_none(post.get("plan_unit")) or 0, strategic=post.get("strategic") == "on")
        return "units"
    if op == "update_unit":
        fields = {name: post.get(name, "") for name in ("goals", "pressures", "initiatives", "obstacles")}
        services.update_unit(user, _int_or_none(post.get("unit")) or 0, strategic=post.get("strategic") == "on", **fields)
        return f"unit-{post.get('unit')}"
    if op == "remove_unit":
        services.remove_unit(user, _int_or_none(post.get("unit")) or 0)
        return "units"
    if op == "add_research":
        services.add_research(user, account_id, post.get("area", ""), post.get("text", ""))
        return "research"
    if op == "add_objective":
        services.add_objective(user, account_id, post.get("kind", ""), post.get("title", ""),
                               unit_id=_int_or_none(post.get("unit")), target_amount=_amount_or_none(post.get("target_amount")))
        return "objectives"
    if op == "add_strategy":
        services.add_strategy(user, _int_or_none(post.get("objective")) or 0, post.get("text", ""))
        return "objectives"
    if op == "add_action":
        services.add_action(user, _int_or_none(post.get("strategy")) or 0, post.get("title", ""),
                            owner_id=_int_or_none(post.get("owner")), due_date=_date_or_none(post.get("due_date")))
        return "objectives"
    if op == "update_action":
        services.update_action(user, _int_or_none(post.get("action")) or 0, status=post.get("status") or None)
        return "objectives"
    if op == "delete":
        services.delete_plan_item(user, post.get("kind", ""), _int_or_none(post.get("id")) or 0)
        return "objectives" if post.get("kind") != "research" else "research"
    raise ValueError("unknown operation")


@require_POST
@sales_user_required
def plan_edit(request, pk: int):
    acc = _account_or_404(request.user, pk)
    op = request.POST.get("op", "")
    if op == "create":
        try:
            services.create_plan(request.user, acc.pk, title=request.POST.get("title", ""))
        except ValueError as exc:
            messages.error(request, str(exc))
        return redirect("planning:plan", pk=acc.pk)
    plan_obj = _plan_or_404(request.user, acc.pk)
    try:
        # the text-editing forms (the plan's fields, a unit's) carry the plan's version: saving is
        # refused when someone changed the plan since the page was loaded; appends and one-click
        # changes carry none (nothing typed can be lost)
        with services.plan_change(plan_obj, parse_version(request.POST.get("version"))):
            anchor = _plan_operation(request.user, acc.pk, op, request.POST)
    except services.NotVisible:
        raise Http404("No such record") from None
    except StaleWrite as exc:
        messages.error(request, "Someone changed this plan while you were editing: your change was not saved; here is the "
                                f"current version (version {exc.current_version}"
                                f"{', changed by ' + str(exc.changed_by) if exc.changed_by else ''}). Apply your change again.")
        plan_obj.refresh_from_db()
        return _plan_page(request, plan_obj, status=409)
    except ValueError as exc:  # BadVersion too
        messages.error(request, f"Not saved: {exc}")
        return _plan_page(request, plan_obj, status=400)
    return redirect(reverse("planning:plan", args=[acc.pk]) + f"#{anchor}")


# ---- people and influence, white space ------------------------------------------------------------------

ATTITUDE_COLOURS = {"champion": "#1b7f5b", "supporter": "#4caf7d", "neutral": "#9ca3af", "sceptic": "#f59e0b",
                    "opponent": "#dc2626", "": "#cbd5e1"}
POWER_SIZES = {"high": 30, "medium": 22, "low": 15, "": 14}


def org_chart(people: list[dict], influences: list[dict]):
    """Contacts placed by reports-to level; grey lines: reports to; orange arrows: influences."""
    by_id = {p["id"]: p for p in people}

    def depth(pid: int) -> int:
        seen, d = set(), 0
        while by_id[pid]["reports_to_id"] in by_id and pid not in seen:
            seen.add(pid)
            pid, d = by_id[pid]["reports_to_id"], d + 1
        return d

    levels: dict[int, list[dict]] = {}
    for p in people:
        levels.setdefault(depth(p["id"]), []).append(p)
    pos = {}
    for level in sorted(levels):  # each level under its managers, in their order: few crossing lines
        members = levels[level]
        members.sort(key=lambda p: (pos.get(p["reports_to_id"], (0.0, 0))[0], p["name"]))
        for i, p in enumerate(members):
            pos[p["id"]] = ((i + 1) / (len(members) + 1), -level)
    fig = go.Figure()
    xs, ys = [], []
    for p in people:
        if p["reports_to_id"] in pos:
            (x0, y0), (x1, y1) = pos[p["id"]], pos[p["reports_to_id"]]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#9ca3af", "width": 1.5}, hoverinfo="skip", name="Reports to"))
    for att, colour in ATTITUDE_COLOURS.items():
        part = [p for p in people if p["attitude"] == att]
        if not part:
            continue
        fig.add_trace(go.Scatter(
            x=[pos[p["id"]][0] for p in part], y=[pos[p["id"]][1] for p in part], mode="markers+text",
            name=plot_text(att.title() or "Attitude unknown"), text=plot_text([p["name"] for p in part]), textposition="bottom center",
            customdata=[plot_text([p["title"], p["decision_role_label"] or "—", p["power"] or "—", "left" if p["has_left"] else ""])
                        for p in part],
            marker={"color": colour, "size": [POWER_SIZES[p["power"]] for p in part],
                    "symbol": ["x" if p["has_left"] else ("star" if p["key_person"] else "circle") for p in part],
                    "line": {"width": 1, "color": "#374151"}},
            hovertemplate="<b>%{text}</b> %{customdata[3]}<br>%{customdata[0]}<br>Role: %{customdata[1]} · power %{customdata[2]}<extra></extra>"))
    for inf in influences:
        if inf["source_id"] in pos and inf["target_id"] in pos:
            (x0, y0), (x1, y1) = pos[inf["source_id"]], pos[inf["target_id"]]
            fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                               arrowhead=3, arrowsize=1.2, arrowwidth=1.5, arrowcolor="#ea580c", opacity=0.8, text="")
    fig.update_layout(xaxis={"visible": False, "range": [0, 1]}, yaxis={"visible": False},
                      legend={"orientation": "h", "y": -0.05}, hovermode="closest")
    rows = [{"name": p["name"], "title": p["title"], "role": p["decision_role_label"], "power": p["power"],
             "attitude": p["attitude"], "reports to": by_id[p["reports_to_id"]]["name"] if p["reports_to_id"] in by_id else ""}
            for p in people]
    depth_count = max(levels) + 1 if levels else 1
    return chart(fig, chart_id="org-chart", title="People and influence (arrows: who influences whom)", rows=rows,
                 height=max(320, 130 * depth_count))


@sales_user_required
def people(request, pk: int):
    return _people_page(request, _account_or_404(request.user, pk))


def _people_page(request, acc, status: int = 200):
    from dealpilot.crm.models import ContactRole

    from .models import Attitude, DecisionStyle, Power

    data = selectors.people_map(acc)
    return render(request, "planning/people.html", {
        "account": acc, **data, "chart": org_chart(data["people"], data["influences"]),
        "roles": ContactRole.choices, "powers": Power.choices, "attitudes": Attitude.choices, "styles": DecisionStyle.choices,
        "names": {p["id"]: p["name"] for p in data["people"]},
        "plan": services.AccountPlan.objects.filter(account=acc).first()}, status=status)


@require_POST
@sales_user_required
def people_edit(request, pk: int):
    acc = _account_or_404(request.user, pk)
    post, op = request.POST, request.POST.get("op", "")
    try:
        if op == "profile":
            services.update_profile(request.user, acc.pk, _int_or_none(post.get("contact")) or 0,
                                    decision_role=post.get("decision_role", ""), power=post.get("power", ""),
                                    attitude=post.get("attitude", ""), decision_style=post.get("decision_style", ""),
                                    key_person=post.get("key_person") == "on")
        elif op == "add_influence":
            services.add_influence(request.user, acc.pk, _int_or_none(post.get("source")) or 0,
                                   _int_or_none(post.get("target")) or 0, post.get("note", ""))
        elif op == "remove_influence":
            services.remove_influence(request.user, acc.pk, _int_or_none(post.get("influence")) or 0)
        else:
            raise ValueError("unknown operation")
    except services.NotVisible:
        raise Http404("No such record") from None
    except ValueError as exc:
        messages.error(request, f"Not saved: {exc}")
        return _people_page(request, acc, status=400)
    return redirect(reverse("planning:people", args=[acc.pk]) + ("#contact-" + post.get("contact", "") if op == "profile" else "#influence"))


@sales_user_required
def white_space(request, pk: int):
    return _white_space_page(request, _account_or_404(request.user, pk))


def _white_space_page(request, acc, status: int = 200):
    return render(request, "planning/white_space.html", {"account": acc, **selectors.white_space(acc),
                                                         "plan": services.AccountPlan.objects.filter(account=acc).first()},
                  status=status)


@require_POST
@sales_user_required
def white_space_edit(request, pk: int):
    acc = _account_or_404(request.user, pk)
    post, op = request.POST, request.POST.get("op", "")
    try:
        if op == "set_cell":
            services.set_cell(request.user, acc.pk, _int_or_none(post.get("unit")) or 0, _int_or_none(post.get("product")) or 0,
                              post.get("status", ""))
        elif op == "create_lead":
            services.create_lead(request.user, acc.pk, title=post.get("title", ""), description=post.get("description", ""),
                                 plan_unit_id=_int_or_none(post.get("unit")), product_id=_int_or_none(post.get("product")))
            messages.success(request, "Account lead created.")
        elif op == "convert_lead":
            opportunity = services.convert_lead(request.user, _int_or_none(post.get("lead")) or 0,
                                                amount=_amount_or_none(post.get("amount")),
                                                close_date=_date_or_none(post.get("close_date")))
            messages.success(request, f"Opportunity “{opportunity}” created.")
            return redirect("crm:opportunity_detail", pk=opportunity.pk)
        elif op == "drop_lead":
            services.drop_lead(request.user, _int_or_none(post.get("lead")) or 0)
        else:
            raise ValueError("unknown operation")
    except services.NotVisible:
        raise Http404("No such record") from None
    except ValueError as exc:
        messages.error(request, f"Not saved: {exc}")
        return _white_space_page(request, acc, status=400)
    return redirect(reverse("planning:white_space", args=[acc.pk]) + "#map")


@sales_user_required
def plan_export(request, pk: int, fmt: str):
    from .plan_export import plan_pdf, plan_xlsx

    if fmt not in ("pdf", "xlsx"):
        raise Http404("No such format")
    acc = _account_or_404(request.user, pk)
    plan_obj = _plan_or_404(request.user, acc.pk)
    d = selectors.plan_detail(request.user, plan_obj)
    score = selectors.account_score(acc)
    slug = "".join(ch if ch.isalnum() else "-" for ch in acc.name.lower()).strip("-")[:60] or "account"
    if fmt == "pdf":
        response = HttpResponse(plan_pdf(d, score), content_type="application/pdf")
    else:
        response = HttpResponse(plan_xlsx(d, score),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{slug}-account-plan.{fmt}"'
    return response


@require_POST
@sales_user_required
def plan_comment(request, pk: int):
    acc = _account_or_404(request.user, pk)
    plan_obj = _plan_or_404(request.user, acc.pk)
    try:
        comment = services.add_comment(request.user, acc.pk, request.POST.get("text", ""))
    except ValueError as exc:
        messages.error(request, f"Not posted: {exc}")
        return _plan_page(request, plan_obj, status=400)
    names = ", ".join(str(u) for u in comment.mentions.all())
    messages.success(request, "Comment posted" + (f"; {names} mentioned." if names else "."))
    return redirect(reverse("planning:plan", args=[acc.pk]) + "#discussion")
