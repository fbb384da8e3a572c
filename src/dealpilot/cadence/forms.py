"""The cadence pages' forms. They only parse and check shapes; the services check what the caller
may link (attendees, deals, reps) and raise CadenceError, shown on the form."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.utils import timezone

from dealpilot.crm.models import Account, Opportunity, User
from dealpilot.validation import NAME_MAX, NOTE_MAX, DayField, IdField, MomentField

from .models import (
    CHECKLIST_STEPS,
    CoachingTopic,
    Frequency,
    MeetingType,
    OccurrenceStatus,
    Weekday,
    WeekOfMonth,
)
from .services import MeetingInput

TIME_ZONES = sorted(available_timezones())


class PersonChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


class MeetingForm(forms.Form):
    kind = forms.ChoiceField(label="Meeting type", choices=MeetingType.choices)
    title = forms.CharField(max_length=NAME_MAX)
    frequency = forms.ChoiceField(choices=Frequency.choices)
    interval_weeks = forms.IntegerField(label="Every N weeks", min_value=1, max_value=52, initial=2, required=False)
    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int)
    week_of_month = forms.TypedChoiceField(label="Week of the month", choices=[("", "\u2014")] + WeekOfMonth.choices,
                                           coerce=int, empty_value=None, required=False,
                                           help_text="Monthly/quarterly: e.g. the first Tuesday")
    day_of_month = forms.IntegerField(label="Or day of the month", min_value=1, max_value=28, required=False)
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    duration_minutes = forms.IntegerField(label="Minutes", min_value=5, max_value=1440, initial=60)
    time_zone = forms.ChoiceField(choices=[(z, z) for z in TIME_ZONES])
    starts_on = DayField(widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = DayField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    attendees = PersonChoice(queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple)
    reviewed_opportunities = forms.ModelMultipleChoiceField(queryset=Opportunity.objects.none(), required=False,
                                                            label="Deals it reviews", widget=forms.SelectMultiple(attrs={"size": 8}))
    reviewed_accounts = forms.ModelMultipleChoiceField(queryset=Account.objects.none(), required=False,
                                                       label="Accounts it reviews", widget=forms.SelectMultiple(attrs={"size": 8}))

    def __init__(self, *args, people=None, deals=None, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = people if people is not None else User.objects.none()
        self.fields["reviewed_opportunities"].queryset = deals if deals is not None else Opportunity.objects.none()
        self.fields["reviewed_accounts"].queryset = accounts if accounts is not None else Account.objects.none()

    def to_input(self) -> MeetingInput:
        d = self.cleaned_data
        return MeetingInput(
            kind=d["kind"], title=d["title"], frequency=d["frequency"], weekday=d["weekday"], start_time=d["start_time"],
            duration_minutes=d["duration_minutes"], starts_on=d["starts_on"], ends_on=d.get("ends_on"),
            time_zone=d["time_zone"], interval_weeks=d.get("interval_weeks") or 1, week_of_month=d.get("week_of_month"),
            day_of_month=d.get("day_of_month"), attendee_ids=tuple(u.pk for u in d["attendees"]),
            account_ids=tuple(a.pk for a in d["reviewed_accounts"]),
            opportunity_ids=tuple(o.pk for o in d["reviewed_opportunities"]),
        )


class SettingsForm(forms.Form):
    time_zone = forms.ChoiceField(choices=[(z, z) for z in TIME_ZONES])
    coaching_target_minutes = forms.IntegerField(label="Coaching minutes per rep per month", min_value=0, max_value=10000)
    outcome = forms.CharField(label="What outcome", widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=NOTE_MAX)
    meetings_to_add = forms.CharField(label="Which meetings to add", widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                      max_length=NOTE_MAX)
    meetings_to_drop = forms.CharField(label="Which current meetings to drop", widget=forms.Textarea(attrs={"rows": 2}),
                                       required=False, max_length=NOTE_MAX)
    checklist_done = forms.MultipleChoiceField(label="Checklist", choices=CHECKLIST_STEPS, required=False,
                                               widget=forms.CheckboxSelectMultiple)
    agreed_on = DayField(label="Agreed with the team on", widget=forms.DateInput(attrs={"type": "date"}), required=False)


class RecordForm(forms.Form):
    status = forms.ChoiceField(choices=OccurrenceStatus.choices, required=False)
    new_start = MomentField(label="New start (meeting's time zone)", required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                    input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTE_MAX)
    decisions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=NOTE_MAX)

    def __init__(self, *args, zone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone

    def clean_new_start(self):
        value = self.cleaned_data.get("new_start")
        if value is None:
            return None
        # the browser sends a wall-clock time: read it in the meeting's time zone
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=ZoneInfo(self.zone))

    def clean(self):
        d = super().clean()
        if d.get("status") == OccurrenceStatus.RESCHEDULED and not d.get("new_start"):
            self.add_error("new_start", "A rescheduled meeting needs its new start")
        if d.get("status") != OccurrenceStatus.RESCHEDULED:
            d["new_start"] = None
        return d


class DealNoteForm(forms.Form):
    opportunity = IdField(widget=forms.HiddenInput)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=NOTE_MAX)
    decision = forms.CharField(max_length=NOTE_MAX, required=False)


class CoachingForm(forms.Form):
    rep = forms.ModelChoiceField(queryset=User.objects.none())
    held_on = DayField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    topic = forms.ChoiceField(choices=CoachingTopic.choices)
    opportunity = forms.ModelChoiceField(queryset=Opportunity.objects.none(), required=False, label="Deal (topic: a deal)")
    skill = forms.CharField(max_length=NAME_MAX, required=False, label="Skill (topic: a skill)")
    minutes = forms.IntegerField(min_value=1, max_value=480, initial=30)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=NOTE_MAX)

    def __init__(self, *args, reps=None, deals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = User.objects.filter(pk__in=[r.pk for r in reps or []]).order_by("full_name", "username")
        self.fields["opportunity"].queryset = deals if deals is not None else Opportunity.objects.none()
        self.fields["opportunity"].label_from_instance = lambda o: f"{o} ({o.owner})"
        if not self.is_bound:
            self.initial.setdefault("held_on", timezone.localdate())
