"""The pages that record the work: new and edited accounts, contacts and deals, logged calls and
meetings, next steps, line items, buying-group roles, quick closes. Thin: a form checks the input's
shape, crm.records / crm.activities / crm.services do the rest; their refusals come back on the form
(400), a record out of reach is a 404, a stale edit a 409 with the current version."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dealpilot.concurrency import StaleWrite
from dealpilot.history.diffs import history_context
from dealpilot.validation import id_or_none

from . import activities, records, selectors, services
from .forms import (
    AccountForm,
    ActivityEditForm,
    ActivityLogForm,
    ContactForm,
    ContactRoleForm,
    LineItemForm,
    LineItemFormSet,
    NextStepChangeForm,
    NextStepForm,
    OpportunityCreateForm,
    QuickCloseForm,
)
from .models import Account, Activity, Contact, Opportunity

STALE = "Someone changed this {label} while you were editing: your change was not saved; here is the current version. Apply it again."
STALE_KEPT = ("Someone changed this {label} while you were editing (now version {version}): your change was not saved. "
              "Your input is kept below: open the {label} in another tab to compare, then save again to apply it.")


def _kept_with_version(form, exc: StaleWrite, label: str):
    """The refused form again with the user's input (nothing typed is lost) and the current version, so a
    second, informed save goes through."""
    data = form.data.copy()
    data["version"] = exc.current_version
    kept = type(form)(data, user=form.user_for_stale, initial=form.initial)
    for name in set(kept.fields) - set(form.fields):
        kept.fields.pop(name)
    kept.is_valid()
    kept.add_error(None, STALE_KEPT.format(label=label, version=exc.current_version))
    return kept


def _back(request, fallback: str) -> str:
    """Where to go after a quick action: the page it came from (same site only), else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _recorder(request) -> None:
    if not records.may_record(request.user):
        raise PermissionDenied("Enablement authors do not record sales work.")


def _refused(form, exc: Exception) -> None:
    form.add_error(None, str(exc))


# ---- accounts ------------------------------------------------------------------------------------------


@login_required
def account_create(request):
    _recorder(request)
    form = AccountForm(request.POST or None, user=request.user, initial={"parent": id_or_none(request.GET.get("parent"))})
    if request.method == "POST" and form.is_valid():
        try:
            account = records.create_account(request.user, allow_duplicate=form.cleaned_data["allow_duplicate"],
                                              **form.service_values())
        except (services.NotAllowed, ValueError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, f"Created the account {account.name}.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/record_form.html", {"form": form, "title": "New account", "kind": "account",
                                                    "cancel": reverse("crm:account_list")},
                  status=400 if form.errors else 200)


@login_required
def account_edit(request, pk: int):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    _recorder(request)
    initial = {**{f: getattr(account, f) for f in ("name", "industry", "region", "country", "employees",
                                                   "annual_revenue", "currency")},
               "owner": account.owner_id, "parent": account.parent_id, "version": account.version}
    form = AccountForm(request.POST or None, user=request.user, initial=initial)
    form.fields.pop("allow_duplicate")
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            records.update_account(request.user, pk, expected_version=form.cleaned_data["version"], **form.service_values())
        except services.NotVisible:
            raise Http404("No such account") from None
        except StaleWrite as exc:
            form, status = _kept_with_version(form, exc, "account"), 409
        except (services.NotAllowed, ValueError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, "Saved the account.")
            return redirect("crm:account_detail", pk=pk)
    return render(request, "crm/record_form.html", {"form": form, "title": f"Edit {account.name}", "kind": "account",
                                                    "cancel": reverse("crm:account_detail", args=[pk])},
                  status=400 if form.errors and status == 200 else status)


# ---- contacts ------------------------------------------------------------------------------------------


@login_required
def contact_detail(request, pk: int):
    contact = get_object_or_404(Contact.objects.visible_to(request.user).select_related("account", "owner", "reports_to"), pk=pk)
    roles = (Opportunity.objects.visible_to(request.user).filter(contact_roles__contact=contact)
             .select_related("account").distinct().order_by("-close_date"))
    logged = selectors.activity_list(request.user).filter(contacts=contact) | selectors.activity_list(request.user).filter(contact=contact)
    return render(request, "crm/contact_detail.html", {
        "contact": contact, "deals": list(roles[:50]), "activities": list(logged.distinct()[:50]),
        "next_steps": list(selectors.next_steps(request.user, contact=contact.pk)[:50]),
        "log_form": ActivityLogForm(initial={"account": contact.account_id}, contacts=[contact]),
        "log_contact": contact, "can_record": records.may_record(request.user), **history_context(contact)})


@login_required
def contact_create(request):
    _recorder(request)
    source = request.POST or request.GET
    account_id, opportunity_id = id_or_none(source.get("account")), id_or_none(source.get("opportunity"))
    if account_id is None and opportunity_id is not None:
        account_id = Opportunity.objects.visible_to(request.user).filter(pk=opportunity_id).values_list("account_id", flat=True).first()
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=account_id) if account_id else None
    if account is None:
        raise Http404("Open the account the contact works for, then add them there.")
    form = ContactForm(request.POST or None, user=request.user,
                       initial={"account": account.pk, "opportunity": opportunity_id,
                                "role": "" if opportunity_id is None else "influencer"})
    if opportunity_id is None:
        form.fields.pop("role")
    if request.method == "POST" and form.is_valid():
        values = form.service_values()
        opportunity, role = values.pop("opportunity", None), values.pop("role", None)
        try:
            contact = records.create_contact(request.user, opportunity_id=opportunity, role=role or None, **values)
        except services.NotVisible:
            raise Http404("No such opportunity") from None
        except (services.NotAllowed, ValueError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, f"Added {contact} to {account.name}.")
            return redirect(_back(request, reverse("crm:contact_detail", args=[contact.pk])))
    return render(request, "crm/record_form.html", {"form": form, "title": f"New contact at {account.name}", "kind": "contact",
                                                    "cancel": reverse("crm:account_detail", args=[account.pk])},
                  status=400 if form.errors else 200)


@login_required
def contact_edit(request, pk: int):
    contact = get_object_or_404(Contact.objects.visible_to(request.user), pk=pk)
    _recorder(request)
    initial = {**{f: getattr(contact, f) for f in ("first_name", "last_name", "title", "email", "phone", "has_left")},
               "account": contact.account_id, "owner": contact.owner_id, "version": contact.version}
    form = ContactForm(request.POST or None, user=request.user, initial=initial)
    for name in ("role", "opportunity"):
        form.fields.pop(name)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            records.update_contact(request.user, pk, expected_version=form.cleaned_data["version"], **form.service_values())
        except services.NotVisible:
            raise Http404("No such contact") from None
        except StaleWrite as exc:
            form, status = _kept_with_version(form, exc, "contact"), 409
        except (services.NotAllowed, ValueError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, "Saved the contact.")
            return redirect("crm:contact_detail", pk=pk)
    return render(request, "crm/record_form.html", {"form": form, "title": f"Edit {contact}", "kind": "contact",
                                                    "cancel": reverse("crm:contact_detail", args=[pk])},
                  status=400 if form.errors and status == 200 else status)


# ---- opportunities -------------------------------------------------------------------------------------


@login_required
def opportunity_create(request):
    _recorder(request)
    source = request.POST or request.GET
    account = None
    if account_id := id_or_none(source.get("account")):
        account = get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)
    form = OpportunityCreateForm(request.POST or None, user=request.user,
                                 initial={"account": account.pk if account else None, "stage": records.first_open_stage()})
    lines = LineItemFormSet(request.POST or None, prefix="lines")
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        items = [item for line in lines for item in [line.item()] if item]
        try:
            opportunity = records.create_opportunity(request.user, line_items=items, **form.service_values())
        except (services.NotAllowed, ValueError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, f"Created the opportunity {opportunity}.")
            return redirect("crm:opportunity_detail", pk=opportunity.pk)
    return render(request, "crm/opportunity_form.html", {
        "form": form, "lines": lines, "account": account, "stages": selectors.opportunity_facets(request.user)["stages"],
        "cancel": reverse("crm:account_detail", args=[account.pk]) if account else reverse("crm:opportunity_list")},
        status=400 if request.method == "POST" else 200)


def _opportunity_action(request, pk: int, action, success: str):
    """Run a quick action on a deal and go back to it: the refusal, if any, as the page's message."""
    try:
        action()
    except services.NotVisible:
        raise Http404("No such opportunity") from None
    except StaleWrite:
        messages.error(request, STALE.format(label="opportunity"))
    except (services.NotAllowed, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return redirect(_back(request, reverse("crm:opportunity_detail", args=[pk])))


def _deal_or_404(request, pk: int) -> Opportunity:
    """A deal the caller may change, checked before the form is read: a deal out of reach is a 404 whatever was posted."""
    try:
        return services.editable_opportunity(request.user, pk)
    except services.NotVisible:
        raise Http404("No such opportunity") from None


def _form_problem(form) -> str:
    return "; ".join(f"{'' if name == '__all__' else form.fields[name].label or name}: {' '.join(errors)}".lstrip(": ")
                     for name, errors in form.errors.items())


@login_required
@require_POST
def line_item_add(request, pk: int):
    _deal_or_404(request, pk)
    form = LineItemForm(request.POST)
    if not form.is_valid() or form.item() is None:
        messages.error(request, _form_problem(form) or "Choose a product.")
        return redirect(reverse("crm:opportunity_detail", args=[pk]) + "#line-items")
    version = id_or_none(request.POST.get("version"))
    return _opportunity_action(request, pk, lambda: records.add_line_item(request.user, pk, expected_version=version, **form.item()),
                               "Added the line item.")


@login_required
@require_POST
def line_item_remove(request, pk: int, line_id: int):
    return _opportunity_action(request, pk, lambda: records.remove_line_item(request.user, pk, line_id), "Removed the line item.")


@login_required
@require_POST
def contact_role_set(request, pk: int):
    _deal_or_404(request, pk)
    form = ContactRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problem(form))
        return redirect(reverse("crm:opportunity_detail", args=[pk]) + "#contact-roles")
    return _opportunity_action(request, pk, lambda: records.set_contact_role(request.user, pk, contact_id=form.cleaned_data["contact"],
                                                                             role=form.cleaned_data["role"],
                                                                             is_primary=form.cleaned_data["is_primary"]),
                               "Saved the buying-group role.")


@login_required
@require_POST
def contact_role_remove(request, pk: int, role_id: int):
    return _opportunity_action(request, pk, lambda: records.remove_contact_role(request.user, pk, role_id),
                               "Removed the contact from the buying group.")


@login_required
@require_POST
def opportunity_close(request, pk: int):
    _deal_or_404(request, pk)
    form = QuickCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problem(form))
        return redirect(reverse("crm:opportunity_detail", args=[pk]) + "#close")
    return _opportunity_action(request, pk, lambda: services.update_opportunity(request.user, pk, **form.service_arguments()),
                               f"Closed the deal as {form.cleaned_data['outcome']}.")


# ---- activities and next steps ---------------------------------------------------------------------------


def _about_url(values: dict) -> str:
    if values.get("opportunity_id"):
        return reverse("crm:opportunity_detail", args=[values["opportunity_id"]])
    if values.get("contact_id"):
        return reverse("crm:contact_detail", args=[values["contact_id"]])
    if values.get("account_id"):
        return reverse("crm:account_detail", args=[values["account_id"]])
    return reverse("crm:next_steps")


@login_required
@require_POST
def activity_log(request):
    """The log form of the deal, account and contact pages (two clicks: a kind, Log)."""
    _recorder(request)
    contact_ids = [id_or_none(v) for v in request.POST.getlist("contacts")]
    contacts = Contact.objects.visible_to(request.user).filter(pk__in=[c for c in contact_ids if c])
    form = ActivityLogForm(request.POST, contacts=contacts)
    fallback = reverse("web:home")
    if not form.is_valid():
        messages.error(request, "Not logged: " + _form_problem(form))
        return redirect(_back(request, fallback))
    values = form.service_values()
    try:
        activity, step = activities.log_activity(request.user, **values)
    except services.NotVisible:
        raise Http404("No such record") from None
    except (services.NotAllowed, ValueError) as exc:
        messages.error(request, f"Not logged: {exc}")
        return redirect(_back(request, fallback))
    messages.success(request, f"Logged: {activity.subject}." + (f" Next step “{step}” due {step.due_date:%-d %b}." if step else ""))
    return redirect(_back(request, _about_url(values)))


@login_required
def activity_edit(request, pk: int):
    """Correct a logged activity (its own page: reached from the timelines' Edit link)."""
    activity = get_object_or_404(Activity.objects.visible_to(request.user).select_related("account", "opportunity"), pk=pk)
    _recorder(request)
    account = activity.account or (activity.opportunity.account if activity.opportunity_id else None)
    contacts = list(Contact.objects.visible_to(request.user).filter(account=account).order_by("last_name")[:60]) if account else []
    initial = {**{f: getattr(activity, f) for f in ("kind", "activity_date", "subject", "outcome", "direction", "notes")},
               "contacts": [str(pk) for pk in activity.contacts.values_list("pk", flat=True)] or
                           ([str(activity.contact_id)] if activity.contact_id else []), "version": activity.version}
    form = ActivityEditForm(request.POST or None, initial=initial, contacts=contacts)
    back = _about_url({"opportunity_id": activity.opportunity_id, "account_id": activity.account_id})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            activities.update_activity(request.user, pk, **form.service_arguments())
        except services.NotVisible:
            raise Http404("No such activity") from None
        except StaleWrite as exc:
            status = 409
            form.add_error(None, STALE_KEPT.format(label="activity", version=exc.current_version))
        except (services.NotAllowed, ValueError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, "Saved the activity.")
            return redirect(_back(request, back))
    return render(request, "crm/activity_form.html", {"form": form, "activity": activity, "cancel": back},
                  status=status if status != 200 else (400 if form.errors else 200))


@login_required
@require_POST
def next_step_create(request):
    _recorder(request)
    form = NextStepForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, "Not saved: " + _form_problem(form))
        return redirect(_back(request, reverse("crm:next_steps")))
    values = form.service_values()
    try:
        step = activities.create_next_step(request.user, **values)
    except services.NotVisible:
        raise Http404("No such record") from None
    except (services.NotAllowed, ValueError) as exc:
        messages.error(request, f"Not saved: {exc}")
    else:
        messages.success(request, f"Next step “{step}” due {step.due_date:%-d %b}.")
    return redirect(_back(request, _about_url(values)))


@login_required
@require_POST
def next_step_change(request, pk: int):
    """Done, cancelled, reopened or rescheduled, from any list that shows the step."""
    form = NextStepChangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: " + _form_problem(form))
        return redirect(_back(request, reverse("crm:next_steps")))
    data = form.cleaned_data
    changes = {"due_date": data["due_date"]} if data.get("due_date") else {}
    try:
        step = activities.update_next_step(request.user, pk, expected_version=data.get("version"),
                                           status=data.get("status") or None, **changes)
    except services.NotVisible:
        raise Http404("No such next step") from None
    except StaleWrite:
        messages.error(request, STALE.format(label="next step"))
    except (services.NotAllowed, ValueError) as exc:
        messages.error(request, f"Not saved: {exc}")
    else:
        messages.success(request, f"“{step}”: {step.get_status_display().lower()}"
                         + (f", due {step.due_date:%-d %b}" if step.is_open else "") + ".")
    return redirect(_back(request, reverse("crm:next_steps")))


@login_required
def next_step_list(request):
    """The seller's next steps: overdue first, then today, this week, later."""
    when = request.GET.get("when") if request.GET.get("when") in selectors.NEXT_STEP_WHEN else "week"
    status = request.GET.get("status") if request.GET.get("status") in ("open", "done", "cancelled") else "open"
    mine = request.GET.get("scope") != "team"
    steps = selectors.next_steps(request.user, owner=request.user.pk if mine else None, status=status, when=when)
    page = Paginator(steps, 50).get_page(request.GET.get("page"))
    return render(request, "crm/next_steps.html", {
        "page": page, "when": when, "status": status, "mine": mine, "today": timezone.localdate(),
        "whens": [("overdue", "Overdue"), ("today", "Today"), ("week", "This week"), ("later", "Later"), ("all", "All")],
        "can_record": records.may_record(request.user), "step_form": NextStepForm(user=request.user, auto_id="step-%s")})


def recording_context(user, *, opportunity: Opportunity | None = None, account: Account | None = None) -> dict:
    """What the record-the-work panels of a deal or account page need: the log and next-step forms, the
    contacts to tick (the deal's buying group first, its main contact ticked), the products and the
    close forms; for people who do not record sales work, only `can_record: False`."""
    if not records.may_record(user):
        return {"can_record": False, "today": timezone.localdate()}
    account = account or (opportunity.account if opportunity else None)
    contacts = list(Contact.objects.visible_to(user).filter(account=account).order_by("last_name", "first_name")[:60]) if account else []
    ticked = []
    if opportunity is not None:
        in_group = dict(opportunity.contact_roles.values_list("contact_id", "is_primary"))
        contacts.sort(key=lambda c: (not in_group.get(c.pk, False), c.pk not in in_group))
        ticked = [str(c.pk) for c in contacts[:1] if c.pk in in_group]
    about = {"opportunity": opportunity.pk if opportunity else None, "account": account.pk if account else None}
    context = {"can_record": True, "today": timezone.localdate(), "account_contacts": contacts,
               "log_form": ActivityLogForm(initial={**about, "contacts": ticked}, contacts=contacts),
               "step_form": NextStepForm(user=user, initial=about, auto_id="step-%s")}
    if opportunity is not None:
        context.update(line_form=LineItemForm(), role_form=ContactRoleForm(),
                       close_won=QuickCloseForm(auto_id="close-won-%s", initial={"outcome": "won", "stage": won_stage(), "version": opportunity.version,
                                                         "amount": opportunity.amount, "close_date": timezone.localdate()}),
                       close_lost=QuickCloseForm(auto_id="close-lost-%s", initial={"outcome": "lost", "stage": lost_stage(), "version": opportunity.version,
                                                          "close_date": timezone.localdate()}))
    return context


def won_stage() -> str:
    """The stage a deal closed won goes to: the newest won deal's (one index lookup), else Closed Won."""
    return _closing_stage(won=True) or "Closed Won"


def lost_stage() -> str:
    return _closing_stage(won=False) or "Closed Lost"


def _closing_stage(*, won: bool) -> str | None:
    return Opportunity.objects.filter(is_closed=True, is_won=won).order_by("-pk").values_list("stage", flat=True).first()
