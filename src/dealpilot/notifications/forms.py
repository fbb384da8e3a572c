from django import forms

from .models import Subscription, TeamWebhook
from .services import WEBHOOK_FIELDS, teams_for_webhooks
from .subscriptions import time_zones


class SubscriptionForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[], help_text="Where your morning is: the digests arrive at your local hour")

    class Meta:
        model = Subscription
        fields = Subscription.FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(time_zones())]


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label="Webhook URL",
                         help_text="The channel's incoming webhook address (kept secret: shown masked)")

    class Meta:
        model = TeamWebhook
        fields = ("team",) + tuple(f for f in WEBHOOK_FIELDS if f != "is_active")

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for_webhooks(user).order_by("name")
        self.fields["url"].widget.attrs["autocomplete"] = "off"
