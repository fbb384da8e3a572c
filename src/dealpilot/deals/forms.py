"""Forms of the call-plan, business-case, mutual-plan and stages pages; each lists its fields explicitly."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db import models
from django.db.models import Q

from dealpilot.crm.models import SAFE_DECIMAL_DIGITS, Contact, User
from dealpilot.validation import LINE_MAX, NAME_MAX, NOTE_MAX, STAGE_MAX, DayField

from .business_case import BenefitsError, parse_benefits
from .models import BenefitPeriod, CallPlan, OutcomeMet, PlanSide


def _bounded_formfield(field, **kwargs):
    """The model's form field, with a day within bounds and, for a text column without a limit, NOTE_MAX."""
    if isinstance(field, models.DateField):
        kwargs.setdefault("form_class", DayField)
    elif isinstance(field, models.TextField):
        kwargs.setdefault("max_length", NOTE_MAX)
    return field.formfield(**kwargs)


class CallPlanForm(forms.ModelForm):
    class Meta:
        model = CallPlan
        formfield_callback = _bounded_formfield
        fields = ["call_date", "contact", "objective", "our_outcomes", "customer_outcomes", "customer_expected_value",
                  "failure_risks", "questions", "insight", "content"]
        widgets = {"call_date": forms.DateInput(attrs={"type": "date"}),
                   **{f: forms.Textarea(attrs={"rows": 2}) for f in ["our_outcomes", "customer_outcomes", "customer_expected_value",
                                                                      "failure_risks", "questions", "insight", "content"]}}

    def __init__(self, *args, opportunity, **kwargs):
        super().__init__(*args, **kwargs)
        # only people of the deal's account (or with a role on it)
        people = Q(opportunity_roles__opportunity=opportunity)
        if opportunity.account_id:
            people |= Q(account_id=opportunity.account_id)
        self.fields["contact"].queryset = Contact.objects.filter(people).distinct().order_by("last_name", "first_name")
        self.fields["contact"].required = False


class CallReviewForm(forms.Form):
    outcome_met = forms.ChoiceField(choices=OutcomeMet.choices, label="Outcome met?")
    advanced = forms.TypedChoiceField(choices=[("yes", "Yes"), ("no", "No")], coerce=lambda v: v == "yes",
                                      label="Did the deal advance?")
    next_step = forms.CharField(max_length=LINE_MAX, required=False)


class BusinessCaseForm(forms.Form):
    investment = forms.DecimalField(max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2, min_value=Decimal(0),
                                    help_text="What the buyer invests up front (fees, implementation, internal cost)")
    period = forms.ChoiceField(choices=BenefitPeriod.choices)
    benefits = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX,
                               help_text="Net benefit of each period, in order, separated by commas (e.g. 0, 20000, 45000)")
    risk_share = forms.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal(0), max_value=Decimal(100),
                                    required=False, label="Share of our fees at risk (%)")
    leading_indicators = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTE_MAX,
                                         help_text="One a line: what the buyer can measure early")
    assumptions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=NOTE_MAX)

    def clean_benefits(self):
        try:
            return parse_benefits(self.cleaned_data["benefits"])
        except BenefitsError as exc:
            raise forms.ValidationError(str(exc)) from None


# ---- guided selling: the mutual action plan, the stages' exit criteria --------------------------------


class MutualStepForm(forms.Form):
    """A step of a deal's mutual plan, from the deal page (new or changed): the owner is a person
    picked on the step's side or a name typed. The service checks it all again (the API's path)."""

    title = forms.CharField(max_length=LINE_MAX, label="Step")
    side = forms.ChoiceField(choices=PlanSide.choices)
    seller = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="Our owner")
    buyer = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False, label="Buyer's owner")
    owner_name = forms.CharField(max_length=NAME_MAX, required=False, label="Or a name")
    due_date = DayField(widget=forms.DateInput(attrs={"type": "date"}), label="Due")
    internal_note = forms.CharField(max_length=NOTE_MAX, required=False, label="Internal note (never exported)",
                                    widget=forms.Textarea(attrs={"rows": 1}))
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, user, opportunity, **kwargs):
        from .selectors import buyer_contacts, seller_people

        super().__init__(*args, **kwargs)
        self.fields["seller"].queryset = seller_people(user, opportunity)
        self.fields["buyer"].queryset = buyer_contacts(opportunity)

    def clean(self):
        data = super().clean()
        # both pickers come with the form: the one of the other side is not the owner
        if data.get("side") == PlanSide.BUYER:
            data["seller"] = None
        else:
            data["buyer"] = None
        if data.get("owner_name") and (data.get("seller") or data.get("buyer")):
            self.add_error("owner_name", "Pick a person or type a name, not both.")
        return data

    def service_data(self) -> dict:
        d = self.cleaned_data
        return {"title": d["title"], "side": d["side"], "seller_id": d["seller"].pk if d.get("seller") else None,
                "buyer_id": d["buyer"].pk if d.get("buyer") else None, "owner_name": d.get("owner_name") or "",
                "due_date": d["due_date"], "internal_note": d.get("internal_note") or ""}


class StageForm(forms.Form):
    """A stage's name and whether its exit criteria are enforced (the stages page)."""

    name = forms.CharField(max_length=STAGE_MAX, help_text="As the CRM names it (matched without case)")
    enforce = forms.BooleanField(required=False, label="Enforce: refuse moving on with criteria open (no reason accepted)")


class CriterionForm(forms.Form):
    """One exit criterion of a stage: checked by a qualification answer, or ticked by hand on the deal."""

    label = forms.CharField(max_length=LINE_MAX, required=False, label="Criterion",
                            widget=forms.TextInput(attrs={"class": "full-width"}))
    question = forms.ChoiceField(required=False, label="Checked by the answer to")
    answers = forms.CharField(max_length=NAME_MAX, required=False, label="Answers that meet it",
                              help_text="Comma-separated; empty: yes")

    def __init__(self, *args, **kwargs):
        from .models import QualificationQuestion

        super().__init__(*args, **kwargs)
        self.fields["question"].choices = [("", "— ticked by hand —")] + [
            (q.key, q.text) for q in QualificationQuestion.objects.filter(is_active=True)]

    def criterion(self) -> dict | None:
        """As parse_stages reads it; None for an empty row."""
        d = self.cleaned_data
        if not d.get("label"):
            return None
        answers = [a.strip() for a in (d.get("answers") or "").split(",") if a.strip()]
        return {"label": d["label"], "question": d.get("question") or "", "answers": answers}


class _CriteriaFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["ORDER"].widget.attrs.update({"size": 3, "aria-label": "Order"})


CriterionFormSet = forms.formset_factory(CriterionForm, formset=_CriteriaFormSet, extra=2, can_delete=True, can_order=True,
                                         max_num=30, validate_max=True)


class AddStageForm(forms.Form):
    name = forms.CharField(max_length=STAGE_MAX, label="New stage")
    after = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Place")

    def __init__(self, *args, stages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["after"].choices = [(s.pk, f"after {s.name}") for s in reversed(list(stages))] + [("0", "first")]
