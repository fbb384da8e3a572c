from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "dealpilot.deals"
    label = "deals"
    verbose_name = "Deal intelligence"
