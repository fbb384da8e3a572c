"""The forecast pages' forms: shapes and bounds only; the services decide who may write what."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from dealpilot.crm.models import MAX_SAFE_AMOUNT

from .models import NOTE_LENGTH, OPEN_CATEGORIES
from .rollup import CATEGORY_LABELS

MAX_ID = 2**63 - 1
MAX_AMOUNT = MAX_SAFE_AMOUNT - Decimal("0.01")


def _money(label: str) -> forms.DecimalField:
    return forms.DecimalField(label=label, min_value=0, max_value=MAX_AMOUNT, max_digits=15, decimal_places=2,
                              widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}))


class CallForm(forms.Form):
    """A call (or an override of one): commit and best case for a period, with a note."""

    commit = _money("Commit")
    best_case = _money("Best case")
    note = forms.CharField(label="Note", max_length=NOTE_LENGTH, required=False,
                           widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_LENGTH}))
    period = forms.CharField(max_length=12, widget=forms.HiddenInput)
    version = forms.IntegerField(min_value=1, max_value=10**9, required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False, widget=forms.HiddenInput)


class CategoryForm(forms.Form):
    """A deal's forecast category, with a note."""

    category = forms.ChoiceField(label="Category", choices=[(c, CATEGORY_LABELS[c]) for c in OPEN_CATEGORIES])
    note = forms.CharField(label="Note", max_length=NOTE_LENGTH, required=False,
                           widget=forms.TextInput(attrs={"maxlength": NOTE_LENGTH, "placeholder": "why (required for someone else's deal)"}))
    version = forms.IntegerField(min_value=1, max_value=10**9, required=False, widget=forms.HiddenInput)
    period = forms.CharField(max_length=12, required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False, widget=forms.HiddenInput)


def problems(form: forms.Form) -> str:
    """A form's errors in one line, for the message at the top of the page."""
    out = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields and form.fields[name].label else name
        out.append(f"{label}: {' '.join(errors)}")
    return "; ".join(out)
