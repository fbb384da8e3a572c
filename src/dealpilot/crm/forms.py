"""Filter forms for the list pages: they read the query string; a bad value is ignored and shown."""

from __future__ import annotations

from django import forms

from dealpilot.validation import CODE_MAX, COMMENT_MAX, DESCRIPTION_MAX, LINE_MAX, NOTE_MAX, SEARCH_MAX, STAGE_MAX, DayField

from . import selectors
from .models import SAFE_DECIMAL_DIGITS, User

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class _FilterForm(forms.Form):
    sort_choices: dict = {}

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user

    def filters(self) -> dict:
        """The valid filters as keyword arguments for the selector; invalid ones are left out."""
        self.is_valid()
        values = {}
        for name in self.fields:
            if name in self.errors:
                continue
            value = self.cleaned_data.get(name)
            if name == "owner":
                value = value.pk if value else None
            if name == "sort" and value not in self.sort_choices:
                value = None
            if value not in (None, ""):
                values[name] = value
        return values

    def active_count(self) -> int:
        return len([k for k in self.filters() if k not in ("sort", "q")])


class AccountFilterForm(_FilterForm):
    sort_choices = selectors.ACCOUNT_SORTS

    q = forms.CharField(required=False, label="Search", max_length=SEARCH_MAX,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Account name"}))
    industry = forms.ChoiceField(required=False)
    region = forms.ChoiceField(required=False)
    owner = OwnerChoiceField(queryset=User.objects.none(), required=False, empty_label="Any owner")
    sort = forms.CharField(required=False, max_length=SEARCH_MAX, widget=forms.HiddenInput)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        facets = selectors.account_facets(user)
        self.fields["industry"].choices = [("", "Any industry")] + [(v, v) for v in facets["industries"]]
        self.fields["region"].choices = [("", "Any region")] + [(v, v) for v in facets["regions"]]
        self.fields["owner"].queryset = facets["owners"]


class OpportunityFilterForm(_FilterForm):
    sort_choices = selectors.OPPORTUNITY_SORTS

    q = forms.CharField(required=False, label="Search", max_length=SEARCH_MAX,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Opportunity or account"}))
    stage = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("open", "Open"), ("won", "Won"), ("lost", "Lost")])
    owner = OwnerChoiceField(queryset=User.objects.none(), required=False, empty_label="Any owner")
    close_from = DayField(required=False, label="Closes from", widget=DATE)
    close_to = DayField(required=False, label="Closes by", widget=DATE)
    sort = forms.CharField(required=False, max_length=SEARCH_MAX, widget=forms.HiddenInput)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        facets = selectors.opportunity_facets(user)
        self.fields["stage"].choices = [("", "Any stage")] + [(s, s) for s in facets["stages"]]
        self.fields["owner"].queryset = facets["owners"]

    def clean(self):
        data = super().clean()
        start, end = data.get("close_from"), data.get("close_to")
        if start and end and start > end:
            self.add_error("close_to", "The end of the range is before its start.")
        return data


class OpportunityEditForm(forms.Form):
    """The seller's edit of an opportunity (the fields of services.OPPORTUNITY_FIELDS); the owner only
    for those who may reassign; the version the page showed, so a stale save is refused."""

    stage = forms.CharField(max_length=STAGE_MAX, widget=forms.TextInput(attrs={"list": "opportunity-stages"}))
    amount = forms.DecimalField(required=False, min_value=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2)
    close_date = DayField(required=False, widget=DATE)
    probability = forms.DecimalField(required=False, min_value=0, max_value=100, max_digits=5, decimal_places=2,
                                     label="Probability, %")
    forecast_category = forms.CharField(required=False, max_length=CODE_MAX)
    lost_reason = forms.CharField(required=False, max_length=LINE_MAX, widget=forms.TextInput(attrs={"list": "lost-reasons"}),
                                  help_text="Closing as lost: one of the team's lost reasons")
    competitor = forms.CharField(required=False, max_length=LINE_MAX, help_text="Closing as lost to a competitor: who won")
    close_comment = forms.CharField(required=False, max_length=NOTE_MAX, label="Why it closed",
                                    widget=forms.Textarea(attrs={"rows": 2}), help_text="Closing as lost: what decided it")
    description = forms.CharField(required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 3}))
    stage_reason = forms.CharField(required=False, max_length=COMMENT_MAX, label="Reason to move on with exit criteria open",
                                   widget=forms.Textarea(attrs={"rows": 2}),
                                   help_text="Moving forward with exit criteria of the stage still open: why (kept on the deal)")
    owner = OwnerChoiceField(queryset=User.objects.none(), required=False, empty_label="(keep the owner)")
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, user, opportunity, **kwargs):
        from .services import assignable_owners, can_reassign

        super().__init__(*args, **kwargs)
        self.opportunity = opportunity
        if can_reassign(user):
            self.fields["owner"].queryset = assignable_owners(user).order_by("last_name", "first_name", "username")
        else:
            del self.fields["owner"]  # a rep's form has no owner; the service refuses one anyway

    @classmethod
    def initial_for(cls, opportunity) -> dict:
        return {**{name: getattr(opportunity, name) for name in ("stage", "amount", "close_date", "probability",
                                                                 "forecast_category", "lost_reason", "competitor",
                                                                 "close_comment", "description")},
                "owner": opportunity.owner_id, "version": opportunity.version}

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        owner = data.pop("owner", None)
        arguments = {"expected_version": data.pop("version"), **data}
        if owner is not None and owner.pk != self.opportunity.owner_id:
            arguments["owner_id"] = owner.pk
        return arguments
