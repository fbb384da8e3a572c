from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "dealpilot.planning"
    label = "planning"
    verbose_name = "Account planning"
