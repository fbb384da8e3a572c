"""The CRM pages' forms: the lists' filters (they read the query string; a bad value is ignored and
shown), the opportunity edit, and the forms that record the work (accounts, contacts, deals, logs)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.forms import formset_factory

from dealpilot.guidance.columns import RISK_SORTS

from dealpilot.validation import CODE_MAX, COMMENT_MAX, DESCRIPTION_MAX, LINE_MAX, NOTE_MAX, SEARCH_MAX, STAGE_MAX, DayField, IdField

from . import selectors
from .models import ACTIVITY_OUTCOMES, SAFE_DECIMAL_DIGITS, ActivityKind, ContactRole, Direction, Source, User

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
    sort_choices = {**selectors.OPPORTUNITY_SORTS, **RISK_SORTS}

    q = forms.CharField(required=False, label="Search", max_length=SEARCH_MAX,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Opportunity or account"}))
    stage = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("open", "Open"), ("won", "Won"), ("lost", "Lost"),
                                                             ("lost-no-reason", "Lost, no reason given")])
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


# ---- recording the work: the forms of crm.records and crm.activities ------------------------------------
# Each form checks the shape of the input (lengths, numbers, days); the services check the rest (scope,
# visibility, consistency) and their ValueError is shown on the form. `service_values()` gives the
# services' keyword arguments.

ACTIVITY_KINDS = [(k.value, k.label) for k in (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL, ActivityKind.NOTE)]


class _OwnedRecordForm(forms.Form):
    """A form with an owner picker for those who may give records to others (a rep's has none)."""

    owner = OwnerChoiceField(queryset=User.objects.none(), required=False, empty_label="Me")
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        from .services import assignable_owners, can_reassign

        super().__init__(*args, **kwargs)
        self.user_for_stale = user  # a refused stale save shows the form again for the same person
        if can_reassign(user):
            self.fields["owner"].queryset = assignable_owners(user).order_by("last_name", "first_name", "username")
        else:
            del self.fields["owner"]

    def service_values(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        if "owner" in data:
            owner = data.pop("owner")
            if owner is not None:
                data["owner_id"] = owner.pk
        return data


class AccountForm(_OwnedRecordForm):
    name = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"autofocus": True}))
    industry = forms.CharField(required=False, max_length=120)
    region = forms.CharField(required=False, max_length=120)
    country = forms.CharField(required=False, max_length=120)
    employees = forms.IntegerField(required=False, min_value=0, max_value=10_000_000)
    annual_revenue = forms.DecimalField(required=False, min_value=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2)
    currency = forms.CharField(max_length=3, initial="USD", help_text="Three letters, e.g. EUR")
    parent = IdField(required=False, widget=forms.HiddenInput)
    allow_duplicate = forms.BooleanField(required=False, label="Yes, this is another account with the same name")

    def service_values(self) -> dict:
        data = super().service_values()
        data.pop("allow_duplicate", None)
        data["parent_id"] = data.pop("parent")
        return data


class ContactForm(_OwnedRecordForm):
    first_name = forms.CharField(required=False, max_length=120, widget=forms.TextInput(attrs={"autofocus": True}))
    last_name = forms.CharField(max_length=120)
    title = forms.CharField(required=False, max_length=255)
    email = forms.EmailField(required=False, max_length=255)
    phone = forms.CharField(required=False, max_length=60)
    account = IdField(widget=forms.HiddenInput)
    has_left = forms.BooleanField(required=False, label="No longer with the account")
    opportunity = IdField(required=False, widget=forms.HiddenInput)
    role = forms.ChoiceField(required=False, choices=[("", "No role on the deal")] + list(ContactRole.choices),
                             label="Role in the buying group")

    def service_values(self) -> dict:
        data = super().service_values()
        data["account_id"] = data.pop("account")
        return data


class LineItemForm(forms.Form):
    product = forms.ModelChoiceField(queryset=None, required=False, empty_label="(no product)")
    quantity = forms.DecimalField(required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2, initial=1)
    unit_price = forms.DecimalField(required=False, min_value=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2,
                                    help_text="Empty: the list price")

    def __init__(self, *args, **kwargs):
        from .records import active_products

        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = active_products()

    def item(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("product"):
            return None
        return {"product_id": data["product"].pk, "quantity": data.get("quantity"), "unit_price": data.get("unit_price")}


LineItemFormSet = formset_factory(LineItemForm, extra=3, max_num=20, validate_max=True)


class OpportunityCreateForm(_OwnedRecordForm):
    name = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"autofocus": True}))
    account = IdField(required=False, widget=forms.HiddenInput)
    stage = forms.CharField(max_length=STAGE_MAX, required=False, widget=forms.TextInput(attrs={"list": "opportunity-stages"}))
    amount = forms.DecimalField(required=False, min_value=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2,
                                help_text="Empty: the total of the line items")
    currency = forms.CharField(required=False, max_length=3, help_text="Empty: the account's")
    close_date = DayField(widget=DATE, label="Expected close")
    probability = forms.DecimalField(required=False, min_value=0, max_value=100, max_digits=5, decimal_places=2,
                                     label="Probability, %")
    source = forms.ChoiceField(required=False, choices=Source.choices)
    description = forms.CharField(required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 3}))

    def service_values(self) -> dict:
        data = super().service_values()
        data["account_id"] = data.pop("account")
        return {k: v for k, v in data.items() if v not in (None, "") or k == "account_id"}


class ActivityLogForm(forms.Form):
    """Log a call, meeting, e-mail or note in one go, with the next step it agreed."""

    kind = forms.ChoiceField(choices=ACTIVITY_KINDS, initial=ActivityKind.CALL, widget=forms.RadioSelect)
    activity_date = DayField(required=False, widget=DATE, label="Day", help_text="Empty: today")
    subject = forms.CharField(required=False, max_length=LINE_MAX, help_text="Empty: e.g. “Call with Ada Lovelace”")
    contacts = forms.MultipleChoiceField(required=False, label="With", widget=forms.CheckboxSelectMultiple)
    outcome = forms.CharField(required=False, max_length=LINE_MAX, widget=forms.TextInput(attrs={"list": "activity-outcomes"}))
    direction = forms.ChoiceField(required=False, choices=Direction.choices)
    notes = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    next_step = forms.CharField(required=False, max_length=LINE_MAX, label="Next step", help_text="What happens next")
    next_step_due = DayField(required=False, widget=DATE, label="Due", help_text="Empty: in two working days")
    opportunity = IdField(required=False, widget=forms.HiddenInput)
    account = IdField(required=False, widget=forms.HiddenInput)
    outcomes = ACTIVITY_OUTCOMES

    def __init__(self, *args, contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].choices = [(str(c.pk), str(c) + (f" · {c.title}" if c.title else "")) for c in contacts]

    def service_values(self) -> dict:
        data = self.cleaned_data
        values = {"kind": data["kind"], "activity_date": data.get("activity_date"), "subject": data.get("subject", ""),
                  "outcome": data.get("outcome", ""), "notes": data.get("notes", ""), "direction": data.get("direction", ""),
                  "contact_ids": [int(pk) for pk in data.get("contacts") or []],
                  "opportunity_id": data.get("opportunity"), "account_id": data.get("account")}
        if data.get("next_step"):
            values["next_step"] = {"subject": data["next_step"], "due_date": data.get("next_step_due")}
        return values


class NextStepForm(forms.Form):
    subject = forms.CharField(max_length=LINE_MAX, label="Next step")
    due_date = DayField(required=False, widget=DATE, label="Due", help_text="Empty: in two working days")
    owner = OwnerChoiceField(queryset=User.objects.none(), required=False, empty_label="Me")
    opportunity = IdField(required=False, widget=forms.HiddenInput)
    account = IdField(required=False, widget=forms.HiddenInput)
    contact = IdField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        from .services import assignable_owners, can_reassign

        super().__init__(*args, **kwargs)
        if can_reassign(user):
            self.fields["owner"].queryset = assignable_owners(user).order_by("last_name", "first_name", "username")
        else:
            del self.fields["owner"]

    def service_values(self) -> dict:
        data = self.cleaned_data
        owner = data.get("owner")
        return {"subject": data["subject"], "due_date": data.get("due_date"), "owner_id": owner.pk if owner else None,
                "opportunity_id": data.get("opportunity"), "account_id": data.get("account"), "contact_id": data.get("contact")}


class NextStepChangeForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "")] + [("open", "Open"), ("done", "Done"), ("cancelled", "Cancelled")])
    due_date = DayField(required=False, widget=DATE)
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ContactRoleForm(forms.Form):
    contact = IdField()
    role = forms.ChoiceField(choices=ContactRole.choices)
    is_primary = forms.BooleanField(required=False, label="Main contact")


class QuickCloseForm(forms.Form):
    """Close a deal from its page: won (amount and day) or lost (reason, competitor, comment)."""

    outcome = forms.ChoiceField(choices=[("won", "Won"), ("lost", "Lost")], widget=forms.HiddenInput)
    stage = forms.CharField(max_length=STAGE_MAX, widget=forms.HiddenInput)
    amount = forms.DecimalField(required=False, min_value=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2, label="Amount won")
    close_date = DayField(required=False, widget=DATE, label="Closed on")
    lost_reason = forms.CharField(required=False, max_length=LINE_MAX, widget=forms.TextInput(attrs={"list": "lost-reasons"}))
    competitor = forms.CharField(required=False, max_length=LINE_MAX)
    close_comment = forms.CharField(required=False, max_length=NOTE_MAX, label="Why it closed", widget=forms.Textarea(attrs={"rows": 2}))
    stage_reason = forms.CharField(required=False, max_length=COMMENT_MAX, label="Why close past open exit criteria",
                                   help_text="Only when the checklist still has open criteria")
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        arguments = {"expected_version": data.pop("version"), "stage": data.pop("stage")}
        outcome = data.pop("outcome")
        keep = ("amount", "close_date", "stage_reason") if outcome == "won" else ("lost_reason", "competitor", "close_comment", "close_date")
        arguments.update({k: data[k] for k in keep if data.get(k) not in (None, "")})
        return arguments


class ActivityEditForm(forms.Form):
    """Correct a logged activity: what happened, with whom, how it went."""

    kind = forms.ChoiceField(choices=ACTIVITY_KINDS + [(ActivityKind.TASK.value, ActivityKind.TASK.label)])
    activity_date = DayField(widget=DATE, label="Day")
    subject = forms.CharField(required=False, max_length=LINE_MAX)
    contacts = forms.MultipleChoiceField(required=False, label="With", widget=forms.CheckboxSelectMultiple)
    outcome = forms.CharField(required=False, max_length=LINE_MAX, widget=forms.TextInput(attrs={"list": "activity-outcomes"}))
    direction = forms.ChoiceField(required=False, choices=Direction.choices)
    notes = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    outcomes = ACTIVITY_OUTCOMES

    def __init__(self, *args, contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].choices = [(str(c.pk), str(c) + (f" · {c.title}" if c.title else "")) for c in contacts]

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        return {"expected_version": data.pop("version"), "contact_ids": [int(pk) for pk in data.pop("contacts") or []], **data}
