"""The team dashboard's filters, read from the query string. A bad value is shown as a form error
and replaced by its default, so a hand-edited address never breaks the page."""

from __future__ import annotations

from django import forms

from dealpilot.analytics.metrics import GROUPS, PERIODS
from dealpilot.validation import DayField

from .models import DiagnosisSettings

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

GROUP_LABELS = {"owner": "Rep", "team": "Team", "product": "Product", "source": "Source", "region": "Region"}
WHAT_IF_DEFAULT = 10.0
WHAT_IF_LIMIT = 90.0  # a lever moving by 100% or more (a cycle of zero days) means nothing


class DashboardFilterForm(forms.Form):
    period = forms.ChoiceField(choices=[(p, p.capitalize()) for p in PERIODS], required=False, label="Period")
    start = DayField(required=False, label="From", widget=DATE)
    end = DayField(required=False, label="To", widget=DATE)
    group_by = forms.ChoiceField(choices=[("", "Everyone together")] + [(g, GROUP_LABELS[g]) for g in GROUPS],
                                 required=False, label="Velocity by")
    # the what-if: each lever in its own unit (defaults: levers.WhatIf)
    more_deals = forms.FloatField(required=False, label="More deals (%)", min_value=-WHAT_IF_LIMIT, max_value=WHAT_IF_LIMIT * 10,
                                  widget=forms.NumberInput(attrs={"step": "1"}))
    bigger_deals = forms.FloatField(required=False, label="Bigger deals (%)", min_value=-WHAT_IF_LIMIT, max_value=WHAT_IF_LIMIT * 10,
                                    widget=forms.NumberInput(attrs={"step": "1"}))
    win_points = forms.FloatField(required=False, label="Win rate (points)", min_value=-100, max_value=100,
                                  widget=forms.NumberInput(attrs={"step": "1"}))
    shorter_cycle = forms.FloatField(required=False, label="Shorter cycle (days)", min_value=-3650, max_value=3650,
                                     widget=forms.NumberInput(attrs={"step": "1"}))
    goal = forms.DecimalField(required=False, label="Goal a period", min_value=1, max_digits=18, decimal_places=2,
                              widget=forms.NumberInput(attrs={"step": "1000"}))

    def add_prefix(self, field_name: str) -> str:
        # the query string says "from" and "to", like `dealpilot report --from/--to` and the API
        return {"start": "from", "end": "to"}.get(field_name, field_name)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("start", "From must be on or before To.")  # and drops it from cleaned_data
        return data

    def shown_with(self, query: dict) -> DashboardFilterForm:
        """The same form with the defaults that were used filled into the empty fields (the bad
        values stay, with their errors)."""
        data = self.data.copy()
        for key, value in query.items():
            if not data.get(key):
                data[key] = value
        return DashboardFilterForm(data)

    def filters(self) -> dict:
        """The valid values (None where a field is empty or wrong): period, start, end, group_by and the what-if's."""
        self.is_valid()
        values = {}
        for name in self.fields:
            value = None if name in self.errors else self.cleaned_data.get(name)
            values[name] = None if value == "" else value
        return values


class DiagnosisSettingsForm(forms.ModelForm):
    class Meta:
        model = DiagnosisSettings
        fields = DiagnosisSettings.FIELDS
