"""Forms of the enablement pages. They only parse and validate input; the services write."""

from __future__ import annotations

from django import forms

from dealpilot.crm.models import SAFE_DECIMAL_DIGITS, ContactRole, Role, User

from dealpilot.validation import DOCUMENT_MAX, LANGUAGE_MAX, NAME_MAX, NOTE_MAX, SEARCH_MAX, SHORT_MAX, DayField

from .files import CONTENT_TYPES, MAX_FILE_BYTES
from .models import ContentKind, ContentStatus, JourneyPhase, KnowledgeKind, TagDimension
from .vptest import QUESTIONS

TEXT_TAGS = {  # form field -> tag dimension, for the comma-separated tag fields
    "challenges": TagDimension.CHALLENGE, "industries": TagDimension.INDUSTRY, "stages": TagDimension.STAGE,
    "products": TagDimension.PRODUCT,
}


def split_tags(text: str) -> list[str]:
    return [" ".join(part.split()) for part in (text or "").replace("\n", ",").split(",") if part.strip()]


class LibraryFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=SEARCH_MAX, widget=forms.TextInput(attrs={"placeholder": "Title, text or tag", "type": "search"}))
    kind = forms.ChoiceField(required=False, label="Type", choices=[("", "All types"), *ContentKind.choices])
    phase = forms.ChoiceField(required=False, label="Journey phase", choices=[("", "All phases"), *JourneyPhase.choices])
    buyer_role = forms.ChoiceField(required=False, label="Buyer role", choices=[("", "All roles"), *ContactRole.choices])
    industry = forms.ChoiceField(required=False, label="Industry", choices=[("", "All industries")])
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "Any status"), *ContentStatus.choices])

    def __init__(self, *args, industries: list[str] = (), show_status: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["industry"].choices = [("", "All industries"), *((i, i) for i in industries)]
        if not show_status:
            del self.fields["status"]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class ModuleForm(forms.Form):
    title = forms.CharField(max_length=NAME_MAX)
    kind = forms.ChoiceField(label="Type", choices=ContentKind.choices)
    status = forms.ChoiceField(choices=ContentStatus.choices, initial=ContentStatus.DRAFT)
    summary = forms.CharField(max_length=SHORT_MAX, required=False, help_text="One line shown in lists and in the deal")
    body = forms.CharField(required=False, max_length=DOCUMENT_MAX, widget=forms.Textarea(attrs={"rows": 8}))
    message_template = forms.CharField(
        required=False, label="Value message template", widget=forms.Textarea(attrs={"rows": 4}), max_length=DOCUMENT_MAX,
        help_text="For value messages: the text the rep sees, with placeholders filled from the deal, e.g. "
                  "{account}, {industry}, {amount}, {challenge}, {decision_maker}.")
    file = forms.FileField(required=False, help_text=f"PDF, DOCX or PPTX, up to {MAX_FILE_BYTES // (1024 * 1024)} MB; its text is searchable",
                           widget=forms.ClearableFileInput(attrs={"accept": ",".join("." + t for t in CONTENT_TYPES)}))
    remove_file = forms.BooleanField(required=False, label="Remove the current file")
    phases = forms.MultipleChoiceField(required=False, label="Journey phases", choices=JourneyPhase.choices,
                                       widget=forms.CheckboxSelectMultiple)
    buyer_roles = forms.MultipleChoiceField(required=False, label="Buyer roles", choices=ContactRole.choices,
                                            widget=forms.CheckboxSelectMultiple)
    industries = forms.CharField(required=False, max_length=NOTE_MAX, help_text="Comma-separated; empty fits every industry")
    challenges = forms.CharField(required=False, max_length=NOTE_MAX, label="Customer challenges",
                                 help_text="Comma-separated, in the customer's words")
    stages = forms.CharField(required=False, max_length=NOTE_MAX, label="Deal stages", help_text="Comma-separated CRM stage names")
    products = forms.CharField(required=False, max_length=NOTE_MAX, help_text="Comma-separated product names or families")
    language = forms.CharField(max_length=LANGUAGE_MAX, initial="en")
    review_date = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    authors = forms.ModelMultipleChoiceField(queryset=User.objects.none(), required=False,
                                             widget=forms.SelectMultiple(attrs={"size": 8}),
                                             help_text="Everyone credited as author (you, if none); Ctrl/Cmd-click for several")
    value_proposition = forms.CharField(required=False, label="Value proposition", widget=forms.Textarea(attrs={"rows": 2}),
                                        max_length=DOCUMENT_MAX,
                                        help_text="The promise in one or two sentences; the hints check it as you type")
    # the module's version when the form was opened: saving is refused if someone changed it since
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["authors"].queryset = User.objects.filter(is_active=True).exclude(role=Role.ADMIN).order_by("full_name", "username")
        for key, label, question in QUESTIONS:
            self.fields[f"vp_{key}"] = forms.CharField(required=False, label=f"{label}?", help_text=question, max_length=NOTE_MAX,
                                                       widget=forms.Textarea(attrs={"rows": 1}))

    def vp_fields(self):
        return [self[f"vp_{key}"] for key, _l, _q in QUESTIONS]

    def clean(self):
        data = super().clean()
        for name in TEXT_TAGS:  # each tag is stored on its own: a tag longer than its column is refused here
            if (long := next((t for t in split_tags(data.get(name, "")) if len(t) > NAME_MAX), None)):
                self.add_error(name, f"A tag is at most {NAME_MAX} characters: “{long[:40]}…” is longer.")
        return data

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        return upload

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        fields = {k: data[k] for k in ("title", "kind", "status", "summary", "body", "message_template", "value_proposition",
                                       "language", "review_date")}
        tags = {TEXT_TAGS[name]: split_tags(data[name]) for name in TEXT_TAGS}
        tags[TagDimension.PHASE] = data["phases"]
        tags[TagDimension.BUYER_ROLE] = data["buyer_roles"]
        upload = data.get("file")
        return {
            "fields": fields, "tags": tags, "author_ids": [u.pk for u in data["authors"]],
            "upload": (upload.name, upload.read()) if upload else None, "remove_file": data["remove_file"],
            "vp_answers": {key: data.get(f"vp_{key}", "") for key, _l, _q in QUESTIONS},
            "expected_version": data.get("version"),
        }

    @classmethod
    def initial_for(cls, module) -> dict:
        tags: dict[str, list[str]] = {}
        for tag in module.tags.all():
            tags.setdefault(tag.dimension, []).append(tag.value)
        initial = {k: getattr(module, k) for k in ("title", "kind", "status", "summary", "body", "message_template",
                                                   "value_proposition", "language", "review_date")}
        initial.update({name: ", ".join(tags.get(dim, [])) for name, dim in TEXT_TAGS.items()})
        initial["phases"] = tags.get(TagDimension.PHASE, [])
        initial["buyer_roles"] = tags.get(TagDimension.BUYER_ROLE, [])
        initial["authors"] = list(module.authors.values_list("pk", flat=True))
        initial.update({f"vp_{k}": v for k, v in module.vp_answers.items()})
        initial["version"] = module.version
        return initial


class KnowledgeForm(forms.Form):
    kind = forms.ChoiceField(choices=KnowledgeKind.choices)
    title = forms.CharField(max_length=NAME_MAX)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), label="Analysis", max_length=DOCUMENT_MAX,
                           help_text="Why did we win or lose? What would you repeat or change? What should others know?")
    opportunity = forms.ModelChoiceField(queryset=None, required=False, label="Deal")
    authors = forms.ModelMultipleChoiceField(queryset=User.objects.none(), required=False, help_text="Credit everyone who wrote it",
                                             widget=forms.SelectMultiple(attrs={"size": 8}))

    def __init__(self, *args, user=None, **kwargs):
        from dealpilot.crm.models import Opportunity

        super().__init__(*args, **kwargs)
        self.fields["opportunity"].queryset = (Opportunity.objects.visible_to(user).select_related("account")
                                               .order_by("-is_closed", "-close_date", "pk"))
        self.fields["authors"].queryset = User.objects.filter(is_active=True).order_by("full_name", "username")


class SettingsForm(forms.Form):
    stage_phases = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono"}), label="Stage to journey phase", max_length=NOTE_MAX,
        help_text="One stage a line: 'Stage name: awareness | buying | implementation'")
    default_phase = forms.ChoiceField(choices=JourneyPhase.choices, help_text="For stages not listed")
    rating_roles = forms.MultipleChoiceField(choices=Role.choices, widget=forms.CheckboxSelectMultiple, required=False,
                                             label="Roles whose ratings count")
    large_deal_amount = forms.DecimalField(min_value=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2,
                                           help_text="Closed deals from this amount (in their own currency) ask for a win/loss analysis")
    large_deal_days = forms.IntegerField(min_value=1, max_value=3650, help_text="...if they closed within this many days")

    def clean_stage_phases(self) -> dict:
        mapping = {}
        for n, line in enumerate(self.cleaned_data["stage_phases"].splitlines(), start=1):
            if not line.strip():
                continue
            stage, sep, phase = line.rpartition(":")
            phase = phase.strip().lower()
            if not sep or not stage.strip() or phase not in JourneyPhase.values:
                raise forms.ValidationError(f"Line {n}: write 'Stage name: awareness', 'buying' or 'implementation'.")
            mapping[" ".join(stage.lower().split())] = phase
        return mapping
