from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "dealpilot.crm"
    label = "crm"
    verbose_name = "CRM records"
