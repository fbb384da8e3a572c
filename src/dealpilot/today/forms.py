from django import forms

from .models import TodaySettings
from .services import MAX_SNOOZE_DAYS, REASON_LENGTH


class SetAsideForm(forms.Form):
    key = forms.CharField(max_length=200, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=REASON_LENGTH, required=False)
    snooze_days = forms.IntegerField(min_value=1, max_value=MAX_SNOOZE_DAYS, required=False)


class SettingsForm(forms.ModelForm):
    class Meta:
        model = TodaySettings
        fields = TodaySettings.FIELDS
