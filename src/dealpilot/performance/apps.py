from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "dealpilot.performance"
    label = "performance"
    verbose_name = "Team performance"
