from django.apps import AppConfig


class CadenceConfig(AppConfig):
    name = "dealpilot.cadence"
    label = "cadence"
    verbose_name = "Manager cadence"
