"""Forms of the planning pages: the priorities filters and the scoring-model editor."""

from __future__ import annotations

from django import forms

from dealpilot.crm import selectors as crm_selectors
from dealpilot.crm.forms import OwnerChoiceField

from dealpilot.validation import SEARCH_MAX, YAML_MAX

from .scoring import QUADRANTS
from .selectors import PRIORITY_SORTS, PriorityFilters


class PriorityFilterForm(forms.Form):
    quadrant = forms.ChoiceField(required=False, choices=[("", "Any quadrant")] + [(q, f"{q}: {t}") for q, (_, t) in QUADRANTS.items()])
    q = forms.CharField(required=False, label="Search", max_length=SEARCH_MAX,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Account name"}))
    industry = forms.ChoiceField(required=False)
    region = forms.ChoiceField(required=False)
    owner = OwnerChoiceField(queryset=None, required=False, empty_label="Any owner")
    sort = forms.ChoiceField(required=False, choices=[(s, s.title()) for s in PRIORITY_SORTS])

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, **kwargs)
        facets = crm_selectors.account_facets(user)
        self.fields["industry"].choices = [("", "Any industry")] + [(v, v) for v in facets["industries"]]
        self.fields["region"].choices = [("", "Any region")] + [(v, v) for v in facets["regions"]]
        self.fields["owner"].queryset = facets["owners"]

    def filters(self) -> PriorityFilters:
        """The valid filters; a bad value is left out (and shown as an error by the form)."""
        self.is_valid()
        values = {}
        for name in self.fields:
            if name in self.errors:
                continue
            value = self.cleaned_data.get(name)
            if name == "owner":
                value = value.pk if value else None
            if value not in (None, ""):
                values[name] = value
        return PriorityFilters(**values)


class YamlUploadForm(forms.Form):
    file = forms.FileField(label="Scoring model (YAML)")

    MAX_BYTES = YAML_MAX

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 256 KB.")
        try:
            return f.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


def spec_from_post(spec, post) -> dict:
    """The edited model as a dict for `parse_spec`: the editor posts one field per editable value
    (thresholds, and per element its weight, name and each level's label, points, bounds and
    definition); keys, kinds and metrics come from the current model (change those in YAML)."""
    def number_or_none(name: str):
        raw = (post.get(name) or "").strip()
        if raw == "":
            return None
        try:
            return float(raw.replace(",", ""))
        except ValueError:
            raise ValueError(f"{name}: {raw!r} is not a number") from None

    data = spec.model_dump()
    data["name"] = post.get("name", data["name"]).strip()
    data["description"] = post.get("description", data["description"]).strip()
    for axis in ("current", "future"):
        raw = (post.get(f"threshold_{axis}") or "").strip().lower()
        data["thresholds"][axis] = "median" if raw in ("", "median") else number_or_none(f"threshold_{axis}")
    for e in data["elements"]:
        k = e["key"]
        e["name"] = post.get(f"{k}-name", e["name"]).strip()
        weight = number_or_none(f"{k}-weight")
        e["weight"] = e["weight"] if weight is None else weight
        for i, lv in enumerate(e["levels"]):
            lv["label"] = post.get(f"{k}-{i}-label", lv["label"]).strip()
            lv["definition"] = post.get(f"{k}-{i}-definition", lv["definition"]).strip()
            points = number_or_none(f"{k}-{i}-points")
            lv["points"] = lv["points"] if points is None else points
            if e["kind"] == "computed":
                if f"{k}-{i}-min" in post:
                    lv["min"] = number_or_none(f"{k}-{i}-min")
                if f"{k}-{i}-max" in post:
                    lv["max"] = number_or_none(f"{k}-{i}-max")
    return data
