"""Enablement pages: each view checks access, calls a selector or a service, and renders.
A module or deal the caller may not see is a 404; a page that is not for their role too."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from dealpilot.concurrency import StaleWrite
from dealpilot.crm.models import Role
from dealpilot.history.diffs import history_context
from dealpilot.recycle_bin.services import may_delete
from dealpilot.validation import id_or_none
from dealpilot.web.uploads import UploadLimitHandler

from . import selectors, services
from .access import can_author, can_change_settings
from .files import CONTENT_TYPES, MAX_FILE_BYTES
from .messages import PLACEHOLDERS
from .forms import KnowledgeForm, LibraryFilterForm, ModuleForm, SettingsForm
from .models import ContentModule, EnablementSettings, EventKind, KnowledgeEntry, TagDimension
from .vptest import hints

PAGE_SIZE = 20


def _module_or_404(user, pk: int) -> ContentModule:
    return get_object_or_404(ContentModule.objects.visible_to(user).select_related("owner").prefetch_related("tags"), pk=pk)


_int_or_none = id_or_none  # a record id from a query string or a hidden field, or None


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _form_errors(form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def can_see_analytics(user) -> bool:
    return can_author(user) or user.role == Role.MANAGER


# ---- library and modules ------------------------------------------------------------------------------


@login_required
def library(request):
    form = LibraryFilterForm(request.GET, industries=selectors.tag_choices(TagDimension.INDUSTRY),
                             show_status=can_author(request.user))
    rows = selectors.library(request.user, **form.filters())
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "enablement/library.html", {
        "form": form, "page": page, "can_author": can_author(request.user),
        "can_see_analytics": can_see_analytics(request.user), "can_change_settings": can_change_settings(request.user),
        "prompts": selectors.large_deals_without_analysis(request.user),
        "stats": selectors.library_stats(request.user),
        "grid": selectors.value_message_grid(request.user),
    })


@login_required
def module_detail(request, pk: int):
    module = _module_or_404(request.user, pk)
    services.record_event(request.user, module, EventKind.VIEW)
    page = selectors.module_page(request.user, module, opportunity_id=_int_or_none(request.GET.get("opportunity")))
    return render(request, "enablement/module_detail.html",
                  {"p": page, "m": module, "can_delete": may_delete(request.user, "content", module), **history_context(module)})


@csrf_exempt  # CSRF is checked in _module_form_page, after the size-limiting upload handler is in place
@login_required
def module_form(request, pk: int | None = None):
    if not can_author(request.user):
        raise Http404("No such page")
    module = _module_or_404(request.user, pk) if pk else None
    limiter = None
    if request.method == "POST":
        # stop receiving an oversized file while it arrives, before it fills memory or disk
        limiter = UploadLimitHandler(request, limit=MAX_FILE_BYTES)
        request.upload_handlers.insert(0, limiter)
    return _module_form_page(request, module, limiter)


@csrf_protect
def _module_form_page(request, module: ContentModule | None, limiter: UploadLimitHandler | None):
    if request.method == "POST":
        form = ModuleForm(request.POST, request.FILES)
        if limiter is not None and limiter.exceeded:
            form.is_valid()
            form.add_error("file", f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        elif form.is_valid():
            try:
                module = services.save_module(request.user, module=module, **form.service_arguments())
            except ValidationError as exc:
                _form_errors(form, exc)
            except StaleWrite as exc:
                # nothing was saved: show the module as it is now, and what the author typed, to apply again
                unsaved = {form[name].label: form.cleaned_data[name] for name in ("title", "summary", "body", "value_proposition")
                           if form.cleaned_data.get(name)}
                module.refresh_from_db()
                form = ModuleForm(initial=ModuleForm.initial_for(module))
                return render(request, "enablement/module_form.html", {
                    "form": form, "module": module, "hints": hints(module.value_proposition, module.vp_answers),
                    "placeholders": PLACEHOLDERS, "unsaved": unsaved,
                    "stale": "Someone changed this module while you were editing: your change was not saved; here is the "
                             f"current version (version {exc.current_version}). Apply your change again."}, status=409)
            else:
                messages.success(request, f"Saved \u201c{module.title}\u201d.")
                return redirect("enablement:module_detail", pk=module.pk)
    else:
        form = ModuleForm(initial=ModuleForm.initial_for(module) if module else {"authors": [request.user.pk]})
    statement = form["value_proposition"].value() or ""
    answers = {k[3:]: form[k].value() for k in form.fields if k.startswith("vp_")}
    return render(request, "enablement/module_form.html", {
        "form": form, "module": module, "hints": hints(statement, answers), "placeholders": PLACEHOLDERS,
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def vp_hints(request):
    """The value-proposition hints for what the author has typed so far (an htmx partial)."""
    if not can_author(request.user):
        raise Http404("No such page")
    answers = {k[3:]: v for k, v in request.POST.items() if k.startswith("vp_")}
    return render(request, "enablement/_vp_hints.html", {"hints": hints(request.POST.get("value_proposition", ""), answers)})


@login_required
def module_download(request, pk: int):
    module = _module_or_404(request.user, pk)
    if not module.file:
        raise Http404("This module has no file")
    try:
        handle = module.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing") from None
    services.record_event(request.user, module, EventKind.DOWNLOAD)
    response = FileResponse(handle, as_attachment=True, filename=module.file_name or f"content.{module.file_type}",
                            content_type=CONTENT_TYPES.get(module.file_type, "application/octet-stream"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def module_event(request, pk: int):
    """Record a use with a customer (on a deal the user may see) or a share."""
    module = _module_or_404(request.user, pk)
    kind = request.POST.get("kind")
    if kind not in (EventKind.USE, EventKind.SHARE):
        raise Http404("No such action")
    try:
        services.record_event(request.user, module, kind, opportunity_id=_int_or_none(request.POST.get("opportunity_id")),
                              note=request.POST.get("note", ""))
    except services.NotVisible:
        raise Http404("No such deal") from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Recorded: used with the customer." if kind == EventKind.USE else
                         "Recorded the share; the link is " + request.build_absolute_uri(reverse("enablement:module_detail", args=[pk])))
    return redirect(_next_url(request, reverse("enablement:module_detail", args=[pk])))


@login_required
@require_POST
def module_rate(request, pk: int):
    module = _module_or_404(request.user, pk)
    try:
        services.rate_module(request.user, module, stars=request.POST.get("stars"), comment=request.POST.get("comment", ""))
    except services.NotAllowed as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Thanks, your rating counts.")
    return redirect("enablement:module_detail", pk=pk)


# ---- analytics ---------------------------------------------------------------------------------------------


@login_required
def analytics(request):
    if not can_see_analytics(request.user):
        raise Http404("No such page")
    a = selectors.content_analytics(request.user)
    return render(request, "enablement/analytics.html", {
        "a": a, "leaders": selectors.leaderboard(), "stale": selectors.stale_content(),
        "outcome_chart": _outcome_chart(a["outcome"]) if a["outcome"] else None,
    })


def _outcome_chart(outcome: dict):
    """Win rate with its 95% interval, deals where content was used vs not (Plotly, web/charts.py)."""
    import plotly.graph_objects as go

    from dealpilot.web.charts import chart, plot_text

    rows = [{"group": name, "deals": r.total, "won": r.wins, "win_rate": r.rate, "low": r.low, "high": r.high}
            for name, r in outcome["rows"]]
    shown = [r for r in rows if r["deals"]]
    fig = go.Figure(go.Bar(
        x=plot_text([r["group"] for r in shown]), y=[r["win_rate"] * 100 for r in shown],
        error_y={"type": "data", "symmetric": False, "array": [(r["high"] - r["win_rate"]) * 100 for r in shown],
                 "arrayminus": [(r["win_rate"] - r["low"]) * 100 for r in shown]},
        text=[f"n = {r['deals']}" for r in shown], textposition="inside", marker_color="#2563eb",
        hovertemplate="%{x}: %{y:.0f}% won<extra></extra>"))
    fig.update_layout(yaxis={"title": "win rate, % (95% interval)", "rangemode": "tozero"}, showlegend=False)
    return chart(fig, chart_id="usage-outcome-chart", title="Win rate by content use (correlation)", rows=rows, height=300)


# ---- knowledge ----------------------------------------------------------------------------------------------


@login_required
def knowledge_list(request):
    q = request.GET.get("q", "")[:200]
    kind = request.GET.get("kind", "")
    rows = selectors.knowledge(request.user, q=q, kind=kind if kind in ("win_loss", "best_practice") else "")
    return render(request, "enablement/knowledge_list.html", {"rows": rows, "q": q, "kind": kind,
                                                              "prompts": selectors.large_deals_without_analysis(request.user)})


@login_required
def knowledge_detail(request, pk: int):
    entry = get_object_or_404(KnowledgeEntry.objects.select_related("opportunity").prefetch_related("authors"), pk=pk)
    row = selectors.attach_deals(request.user, [entry])[0]
    can_edit = request.user.sees_everything or entry.authors.filter(pk=request.user.pk).exists()
    return render(request, "enablement/knowledge_detail.html", {"e": entry, "deal": row["deal"], "can_edit": can_edit})


@login_required
def knowledge_form(request, pk: int | None = None):
    entry = get_object_or_404(KnowledgeEntry, pk=pk) if pk else None
    if entry and not (request.user.sees_everything or entry.authors.filter(pk=request.user.pk).exists()):
        raise Http404("No such page")
    if request.method == "POST":
        form = KnowledgeForm(request.POST, user=request.user)
        if form.is_valid():
            d = form.cleaned_data
            try:
                entry = services.save_knowledge(
                    request.user, entry=entry, kind=d["kind"], title=d["title"], body=d["body"],
                    opportunity_id=d["opportunity"].pk if d["opportunity"] else None, author_ids=[u.pk for u in d["authors"]])
            except ValidationError as exc:
                _form_errors(form, exc)
            except (services.NotVisible, services.NotAllowed):
                raise Http404("No such deal") from None
            else:
                messages.success(request, "Shared. Thank you for writing it down.")
                return redirect("enablement:knowledge_detail", pk=entry.pk)
    else:
        initial = {"authors": [request.user.pk], "kind": "win_loss"}
        if entry:
            initial = {"kind": entry.kind, "title": entry.title, "body": entry.body, "opportunity": entry.opportunity_id,
                       "authors": list(entry.authors.values_list("pk", flat=True))}
        elif deal_id := _int_or_none(request.GET.get("opportunity")):
            try:
                deal = services.visible_opportunity(request.user, deal_id)
            except services.NotVisible:
                raise Http404("No such deal") from None
            initial.update({"opportunity": deal.pk, "title": f"{'Won' if deal.is_won else 'Lost'}: {deal}"})
        form = KnowledgeForm(initial=initial, user=request.user)
    return render(request, "enablement/knowledge_form.html", {"form": form, "entry": entry})


# ---- settings -----------------------------------------------------------------------------------------------


@login_required
def settings_page(request):
    if not can_change_settings(request.user):
        raise Http404("No such page")
    current = EnablementSettings.current()
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                services.update_settings(request.user, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, "Enablement settings saved.")
                return redirect("enablement:settings")
    else:
        form = SettingsForm(initial={
            "stage_phases": "\n".join(f"{stage}: {phase}" for stage, phase in current.stage_phases.items()),
            "default_phase": current.default_phase, "rating_roles": current.rating_roles,
            "large_deal_amount": current.large_deal_amount, "large_deal_days": current.large_deal_days,
        })
    return render(request, "enablement/settings.html", {"form": form})
