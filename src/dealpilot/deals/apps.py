from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "dealpilot.deals"
    label = "deals"
    verbose_name = "Deal intelligence"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .guided import ensure_default_stages

        # the default stages and exit criteria after every migrate and flush, like the CRM's lost reasons
        post_migrate.connect(ensure_default_stages, sender=self, dispatch_uid="dealpilot_default_stages")
