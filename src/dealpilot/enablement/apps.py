from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "dealpilot.enablement"
    label = "enablement"
    verbose_name = "Enablement"
