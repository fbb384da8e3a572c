from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "dealpilot.history"
    label = "field_history"  # "history" would clash with the related name simple-history's models use
    verbose_name = "Field history"

    def ready(self):
        from . import baseline

        baseline.connect()
