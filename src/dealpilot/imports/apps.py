from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "dealpilot.imports"
    label = "imports"
    verbose_name = "CRM imports"
