"""Forms of the call-plan and business-case pages; each lists its fields explicitly."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db import models
from django.db.models import Q

from dealpilot.crm.models import SAFE_DECIMAL_DIGITS, Contact
from dealpilot.validation import LINE_MAX, NOTE_MAX, DayField

from .business_case import BenefitsError, parse_benefits
from .models import BenefitPeriod, CallPlan, OutcomeMet


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
