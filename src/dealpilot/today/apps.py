from django.apps import AppConfig


class TodayConfig(AppConfig):
    name = "dealpilot.today"
    label = "today"
    verbose_name = "Today"
